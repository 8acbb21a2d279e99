import assert from "node:assert/strict";
import { test } from "node:test";
import { parseStackConfig } from "../config/load";
import { crossStackProblems, ownershipConflicts } from "../config/ownership";

/** A stack file's config: one repository `shop` of acme with what `repo` adds. */
function stack(file: string, stage: string, repo: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const values = {
    "github:owner": "acme",
    "release-infra:stage": stage,
    "release-infra:github": { repositories: [{ name: "shop", visibility: "public", plan: "team", actionsDefaults: false, ...repo }] },
    "release-infra:secrets": { NPM_TOKEN: { secure: "v1:x" } },
    ...extra,
  };
  return { file, config: parseStackConfig(values, { file, stack: stage, source: "offline-plan" }).config };
}

const env = (name: string) => ({ name, deployFrom: { branches: ["main"] } });

test("stacks with different environments of one repository do not conflict", () => {
  assert.deepEqual(ownershipConflicts([stack("Pulumi.dev.yaml", "dev", { environments: [env("dev")] }), stack("Pulumi.prod.yaml", "prod", { environments: [env("production")] })]), []);
});

test("two stacks managing one ruleset are rejected, naming both files", () => {
  const ruleset = { rulesets: [{ name: "protect-main", branches: ["~DEFAULT_BRANCH"], requiredApprovals: 1 }] };
  assert.deepEqual(ownershipConflicts([stack("Pulumi.dev.yaml", "dev", ruleset), stack("Pulumi.prod.yaml", "prod", ruleset)]), [
    "Pulumi.dev.yaml and Pulumi.prod.yaml: both manage GitHub ruleset acme/shop:protect-main; exactly one stack may own it",
  ]);
});

test("two stacks managing one repository secret are rejected", () => {
  const secret = { secrets: ["NPM_TOKEN"] };
  assert.deepEqual(ownershipConflicts([stack("Pulumi.dev.yaml", "dev", secret), stack("Pulumi.prod.yaml", "prod", secret)]), [
    "Pulumi.dev.yaml and Pulumi.prod.yaml: both manage GitHub repository secret acme/shop:NPM_TOKEN; exactly one stack may own it",
  ]);
});

test("two stacks managing one repository variable are rejected", () => {
  const variable = { variables: { LOG_LEVEL: "info" } };
  assert.deepEqual(ownershipConflicts([stack("Pulumi.dev.yaml", "dev", variable), stack("Pulumi.prod.yaml", "prod", variable)]), [
    "Pulumi.dev.yaml and Pulumi.prod.yaml: both manage GitHub repository variable acme/shop:LOG_LEVEL; exactly one stack may own it",
  ]);
});

test("two stacks owning a repository's Actions defaults are rejected", () => {
  const defaults = { actionsDefaults: true };
  assert.deepEqual(ownershipConflicts([stack("Pulumi.dev.yaml", "dev", defaults), stack("Pulumi.prod.yaml", "prod", defaults)]), [
    "Pulumi.dev.yaml and Pulumi.prod.yaml: both manage GitHub Actions defaults of acme/shop (set actionsDefaults: false in all but one stack); exactly one stack may own it",
  ]);
});

test("a registry one stack creates may be referenced as existing by another", () => {
  const azure = (registry: Record<string, unknown>, group: string) => ({
    "azure-native:location": "westeurope",
    "release-infra:azure": { resourceGroup: group, registry },
  });
  assert.deepEqual(
    ownershipConflicts([
      stack("Pulumi.prod.yaml", "prod", {}, azure({ name: "acmeprodacr", sku: "Premium" }, "acme-release-prod")),
      stack("Pulumi.staging.yaml", "staging", {}, azure({ name: "acmeprodacr", existing: true, resourceGroup: "acme-release-prod" }, "acme-release-staging")),
    ]),
    [],
  );
});

test("two stacks creating one registry are rejected", () => {
  const azure = (group: string) => ({ "azure-native:location": "westeurope", "release-infra:azure": { resourceGroup: group, registry: { name: "acmeacr", sku: "Basic" } } });
  assert.deepEqual(ownershipConflicts([stack("Pulumi.a.yaml", "dev", {}, azure("rg-a")), stack("Pulumi.b.yaml", "prod", {}, azure("rg-b"))]), [
    "Pulumi.a.yaml and Pulumi.b.yaml: both manage container registry acmeacr; exactly one stack may own it",
  ]);
});

const aks = (registry: Record<string, unknown>, group: string) => ({
  "azure-native:location": "westeurope",
  "release-infra:azure": { resourceGroup: group, registry, clusters: [{ name: "mys-prod", resourceGroup: "mys-aks", pullFromRegistry: true }] },
});

test("two stacks granting one cluster's kubelet AcrPull on the same registry are rejected", () => {
  assert.deepEqual(
    crossStackProblems([
      stack("Pulumi.prod.yaml", "prod", {}, aks({ name: "mysprodacr", sku: "Premium" }, "mys-release-prod")),
      stack("Pulumi.staging.yaml", "staging", {}, aks({ name: "mysprodacr", existing: true, resourceGroup: "mys-release-prod" }, "mys-release-staging")),
    ]),
    [
      "Pulumi.prod.yaml and Pulumi.staging.yaml: both manage AcrPull of the kubelet of cluster mys-aks/mys-prod on container registry mysprodacr (set pullFromRegistry: false in all but one stack); exactly one stack may own it",
    ],
  );
});

test("a stack referencing another stack's registry in the wrong resource group is rejected, naming where it is created", () => {
  const azure = (registry: Record<string, unknown>, group: string) => ({ "azure-native:location": "westeurope", "release-infra:azure": { resourceGroup: group, registry } });
  assert.deepEqual(
    crossStackProblems([
      stack("Pulumi.prod.yaml", "prod", {}, azure({ name: "acmeprodacr", sku: "Premium" }, "acme-release-prod")),
      stack("Pulumi.staging.yaml", "staging", {}, azure({ name: "acmeprodacr", existing: true }, "acme-release-staging")),
    ]),
    [
      "Pulumi.staging.yaml: release-infra:azure.registry.resourceGroup: registry acmeprodacr is created by Pulumi.prod.yaml in resource group acme-release-prod, not acme-release-staging; set resourceGroup: acme-release-prod",
    ],
  );
});

test("a promotion source adopted in a resource group of its own is referred to where it lives", () => {
  const azure = (registry: Record<string, unknown>, group: string) => ({ "azure-native:location": "westeurope", "release-infra:azure": { resourceGroup: group, registry } });
  const staging = stack("Pulumi.staging.yaml", "staging", {}, azure({ name: "acmestagingacr", sku: "Standard", adopt: true, resourceGroup: "acme-shared-registries" }, "acme-release-staging"));
  const prodFrom = (resourceGroup: string) =>
    stack("Pulumi.prod.yaml", "prod", {}, azure({ name: "acmeprodacr", sku: "Premium", importFrom: [{ name: "acmestagingacr", resourceGroup }] }, "acme-release-prod"));
  assert.deepEqual(crossStackProblems([staging, prodFrom("acme-shared-registries")]), []);
  assert.deepEqual(crossStackProblems([staging, prodFrom("acme-release-staging")]), [
    "Pulumi.prod.yaml: release-infra:azure.registry.importFrom[acmestagingacr].resourceGroup: registry acmestagingacr is created by Pulumi.staging.yaml in resource group acme-shared-registries, not acme-release-staging; set resourceGroup: acme-shared-registries",
  ]);
});

test("a promotion source in the wrong resource group is rejected", () => {
  const azure = (registry: Record<string, unknown>, group: string) => ({ "azure-native:location": "westeurope", "release-infra:azure": { resourceGroup: group, registry } });
  assert.deepEqual(
    crossStackProblems([
      stack("Pulumi.staging.yaml", "staging", {}, azure({ name: "acmestagingacr", sku: "Standard" }, "acme-release-staging")),
      stack("Pulumi.prod.yaml", "prod", {}, azure({ name: "acmeprodacr", sku: "Premium", importFrom: [{ name: "acmestagingacr", resourceGroup: "acme-staging" }] }, "acme-release-prod")),
    ]),
    [
      "Pulumi.prod.yaml: release-infra:azure.registry.importFrom[acmestagingacr].resourceGroup: registry acmestagingacr is created by Pulumi.staging.yaml in resource group acme-release-staging, not acme-staging; set resourceGroup: acme-release-staging",
    ],
  );
});

test("an adopted environment counts as managed: a stack adopting what another creates is rejected", () => {
  assert.deepEqual(
    ownershipConflicts([stack("Pulumi.prod.yaml", "prod", { environments: [env("production")] }), stack("Pulumi.staging.yaml", "staging", { environments: [{ ...env("production"), adopt: true }] })]),
    ["Pulumi.prod.yaml and Pulumi.staging.yaml: both manage GitHub environment acme/shop:production; exactly one stack may own it"],
  );
});
