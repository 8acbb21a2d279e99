import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { test } from "node:test";
import { ConfigError } from "../config/errors";
import { parseStackConfig, type RegistryConfig } from "../config/load";
import { ContainerRegistry, ROLE_ASSIGNMENT_MODE_API_VERSION, type ContainerRegistryArgs } from "../components/containerRegistry";
import { ARM_GET, SUBSCRIPTION_ID, type CallOverride } from "../scripts/mocks";
import { build, named, ofType, valueOf, type Built } from "./harness";

const REGISTRY = "azure-native:containerregistry:Registry";
const ASSIGNMENT = "azure-native:authorization:RoleAssignment";
const TASK = "azure-native:containerregistry:Task";
const ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec";
const IMPORTER = "577a9874-89fd-4f24-9dbd-b5034d0ad23a";
const READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const registryId = (rg: string, name: string) =>
  `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`;
const roleDefinition = (role: string) => `/subscriptions/${SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/${role}`;

function registryConfig(overrides: Partial<RegistryConfig> = {}): RegistryConfig {
  return { name: "acmeprodacr", existing: false, adopt: false, sku: "Standard", importFrom: [], ...overrides };
}

function args(overrides: Partial<ContainerRegistryArgs> = {}): ContainerRegistryArgs {
  return {
    registry: registryConfig(),
    resourceGroupName: "acme-release-prod",
    location: "westeurope",
    stage: "dev",
    tags: { team: "platform" },
    kubeletPrincipals: [],
    ciPrincipals: [],
    ...overrides,
  };
}

const promoting = args({
  registry: registryConfig({
    sku: "Premium",
    importFrom: [
      { name: "acmestagingacr", resourceGroup: "acme-release-staging" },
      { name: "acmeqaacr", resourceGroup: "acme-release-qa" },
    ],
  }),
  kubeletPrincipals: [{ name: "acme-prod-aks", principalId: "kubelet-object-id" }],
  ciPrincipals: [
    { name: "shop-production", principalId: "shop-principal", access: "push" },
    { name: "shop-readonly", principalId: "reader-principal", access: "pull" },
    { name: "shop-promote", principalId: "promoter-principal", access: "promote" },
  ],
});

function assignmentsOf(resources: Built[], principalId: string): Built[] {
  return ofType(resources, ASSIGNMENT).filter((r) => r.plain.principalId === principalId);
}

function grants(resources: Built[], principalId: string): string[] {
  return assignmentsOf(resources, principalId)
    .map((r) => `${String(r.plain.roleDefinitionId)} @ ${String(r.plain.scope)}`)
    .sort();
}

test("a created registry has the admin user and anonymous pull off and no content-trust policy", async () => {
  const { resources } = await build(() => new ContainerRegistry("acr", args()));
  const registry = named(resources, REGISTRY, "acr-registry");
  assert.equal(registry.plain.registryName, "acmeprodacr");
  assert.deepEqual(registry.plain.sku, { name: "Standard" });
  assert.equal(registry.plain.adminUserEnabled, false);
  assert.equal(registry.plain.anonymousPullEnabled, false);
  assert.equal(registry.plain.networkRuleBypassOptions, "AzureServices");
  const policies = registry.plain.policies as Record<string, unknown> | undefined;
  assert.equal(policies?.trustPolicy, undefined);
});

test("a Premium registry gets untagged-manifest retention and zone redundancy", async () => {
  const cfg = registryConfig({ sku: "Premium", untaggedRetentionDays: 30, zoneRedundant: true });
  const { resources } = await build(() => new ContainerRegistry("acr", args({ registry: cfg })));
  const registry = named(resources, REGISTRY, "acr-registry");
  const policies = registry.plain.policies as Record<string, unknown>;
  assert.deepEqual(policies.retentionPolicy, { status: "enabled", days: 30 });
  assert.equal(registry.plain.zoneRedundancy, "Enabled");
});

for (const sku of ["Basic", "Standard"] as const) {
  test(`a ${sku} registry has no retention policy and zone redundancy not enabled`, async () => {
    const { resources } = await build(() => new ContainerRegistry("acr", args({ registry: registryConfig({ sku }) })));
    const registry = named(resources, REGISTRY, "acr-registry");
    const policies = registry.plain.policies as Record<string, unknown> | undefined;
    assert.equal(policies?.retentionPolicy, undefined);
    // "Disabled" is the SDK's own default, sent on every SKU.
    assert.equal(registry.plain.zoneRedundancy, "Disabled");
  });
}

test("the registry is protected in prod and not in dev", async () => {
  const prod = await build(() => new ContainerRegistry("acr", args({ stage: "prod" })), { stack: "prod" });
  const dev = await build(() => new ContainerRegistry("acr", args({ stage: "dev" })));
  assert.equal(named(prod.resources, REGISTRY, "acr-registry").protect, true);
  assert.equal(named(dev.resources, REGISTRY, "acr-registry").protect, false);
});

test("a created registry is public with trusted services passing its network rules, and ignores no setting", async () => {
  const { resources } = await build(() => new ContainerRegistry("acr", args({ registry: registryConfig({ sku: "Premium" }) })));
  const registry = named(resources, REGISTRY, "acr-registry");
  assert.equal(registry.plain.publicNetworkAccess, "Enabled");
  assert.equal(registry.plain.networkRuleBypassOptions, "AzureServices");
  assert.deepEqual(registry.ignoreChanges, []);
});

test("an adopted registry keeps its network exposure, zone redundancy, region, encryption, policies and tags until the stack file sets them", async () => {
  const cfg = registryConfig({ sku: "Premium", adopt: true });
  const { resources } = await build(() => new ContainerRegistry("acr", args({ registry: cfg, tags: {} })));
  assert.deepEqual(named(resources, REGISTRY, "acr-registry").ignoreChanges.sort(), [
    "dataEndpointEnabled",
    "encryption",
    "identity",
    "location",
    "networkRuleBypassOptions",
    "networkRuleSet",
    "policies",
    "publicNetworkAccess",
    "tags",
    "zoneRedundancy",
  ]);
});

test("an adopted registry gets the network settings, zone redundancy, retention and tags its stack file sets, and keeps its other policies", async () => {
  const cfg = registryConfig({ sku: "Premium", adopt: true, publicNetworkAccess: "Disabled", networkRuleBypassOptions: "None", zoneRedundant: true, untaggedRetentionDays: 7 });
  const { resources } = await build(() => new ContainerRegistry("acr", args({ registry: cfg })));
  const registry = named(resources, REGISTRY, "acr-registry");
  assert.equal(registry.plain.publicNetworkAccess, "Disabled");
  assert.equal(registry.plain.networkRuleBypassOptions, "None");
  assert.equal(registry.plain.zoneRedundancy, "Enabled");
  assert.deepEqual(registry.ignoreChanges.sort(), [
    "dataEndpointEnabled",
    "encryption",
    "identity",
    "location",
    "networkRuleSet",
    "policies.azureADAuthenticationAsArmPolicy",
    "policies.exportPolicy",
    "policies.quarantinePolicy",
    "policies.softDeletePolicy",
    "policies.trustPolicy",
  ]);
});

test("a registry adopted in a resource group of its own is managed, granted on and purged where it lives", async () => {
  const cfg = registryConfig({ adopt: true, resourceGroup: "acme-shared-registries", purge: { schedule: "0 3 * * *", olderThanDays: 7, keep: 3, untaggedOnly: false, filter: ".*:.*" } });
  const { resources, result } = await build(() =>
    new ContainerRegistry("acr", args({ registry: cfg, ciPrincipals: [{ name: "shop-production", principalId: "shop-principal", access: "push" }] })),
  );
  assert.equal(named(resources, REGISTRY, "acr-registry").plain.resourceGroupName, "acme-shared-registries");
  assert.equal(named(resources, TASK, "acr-purge").plain.resourceGroupName, "acme-shared-registries");
  assert.deepEqual(grants(resources, "shop-principal"), [`${roleDefinition(ACR_PUSH)} @ ${registryId("acme-shared-registries", "acmeprodacr")}`]);
  assert.equal(result.adoptions.length, 1);
  assert.equal(await valueOf(pulumi.output(result.adoptions[0].importId)), registryId("acme-shared-registries", "acmeprodacr"));
  assert.equal(await valueOf(result.resourceGroupName), "acme-shared-registries");
});

test("an existing registry is read, not created, and still gets the grants", async () => {
  const cfg = registryConfig({ existing: true, sku: undefined, resourceGroup: "acme-release-shared" });
  const { resources, result } = await build(() =>
    new ContainerRegistry("acr", args({ registry: cfg, ciPrincipals: [{ name: "shop-production", principalId: "shop-principal", access: "push" }] })),
  );
  assert.equal(ofType(resources, REGISTRY).length, 0);
  assert.equal(ofType(resources, TASK).length, 0);
  assert.deepEqual(grants(resources, "shop-principal"), [`${roleDefinition(ACR_PUSH)} @ ${registryId("acme-release-shared", "acmeprodacr")}`]);
  assert.equal(await valueOf(result.loginServer), "acmeprodacr.azurecr.io");
  assert.equal(await valueOf(result.registryId), registryId("acme-release-shared", "acmeprodacr"));
});

test("an existing registry without its own resource group is read from the stack's resource group", async () => {
  const cfg = registryConfig({ existing: true, sku: undefined });
  const { result } = await build(() => new ContainerRegistry("acr", args({ registry: cfg })));
  assert.equal(await valueOf(result.registryId), registryId("acme-release-prod", "acmeprodacr"));
  assert.equal(await valueOf(result.resourceGroupName), "acme-release-prod");
});

test("push gets AcrPush and pull gets AcrPull, on this registry only", async () => {
  const { resources } = await build(() => new ContainerRegistry("acr", promoting));
  const target = registryId("acme-release-prod", "acmeprodacr");
  assert.deepEqual(grants(resources, "shop-principal"), [`${roleDefinition(ACR_PUSH)} @ ${target}`]);
  assert.deepEqual(grants(resources, "reader-principal"), [`${roleDefinition(ACR_PULL)} @ ${target}`]);
});

test("promote gets the importer role on the target only and read-only Reader on every source registry", async () => {
  const { resources } = await build(() => new ContainerRegistry("acr", promoting));
  assert.deepEqual(
    grants(resources, "promoter-principal"),
    [
      `${roleDefinition(IMPORTER)} @ ${registryId("acme-release-prod", "acmeprodacr")}`,
      `${roleDefinition(READER)} @ ${registryId("acme-release-qa", "acmeqaacr")}`,
      `${roleDefinition(READER)} @ ${registryId("acme-release-staging", "acmestagingacr")}`,
    ].sort(),
  );
});

test("the promotion output imports by digest from each source, by its resource id, without --force, and locks the tag", async () => {
  const { result } = await build(() => new ContainerRegistry("acr", promoting));
  assert.deepEqual(await valueOf(result.promotion), [
    {
      source: "acmestagingacr",
      target: "acmeprodacr",
      importCommand: `az acr import --name acmeprodacr --registry ${registryId("acme-release-staging", "acmestagingacr")} --source <repository>@sha256:<digest> --image <repository>:<version>`,
      lockCommand: "az acr repository update --name acmeprodacr --image <repository>:<version> --write-enabled false --delete-enabled false",
    },
    {
      source: "acmeqaacr",
      target: "acmeprodacr",
      importCommand: `az acr import --name acmeprodacr --registry ${registryId("acme-release-qa", "acmeqaacr")} --source <repository>@sha256:<digest> --image <repository>:<version>`,
      lockCommand: "az acr repository update --name acmeprodacr --image <repository>:<version> --write-enabled false --delete-enabled false",
    },
  ]);
});

/** An ARM answer that puts the named registries in ABAC mode (and reports the others absent when asked). */
function armRegistries(abac: string[], absent: string[] = []): CallOverride {
  return (a) => {
    const name = String(a.path).split("/").pop() ?? "";
    if (absent.includes(name)) return { error: { code: "ResourceNotFound", message: `registry ${name} not found` } };
    return { id: a.path, name, properties: { roleAssignmentMode: abac.includes(name) ? "AbacRepositoryPermissions" : "LegacyRegistryPermissions" } };
  };
}

test("the role-assignment mode of the target and of every source is read from ARM at the API version that returns it", async () => {
  const paths: string[] = [];
  const record: CallOverride = (a) => {
    paths.push(`${String(a.path)}?api-version=${String(a.apiVersion)}`);
    return armRegistries([])(a);
  };
  await build(() => new ContainerRegistry("acr", promoting), { calls: { [ARM_GET]: record } });
  assert.deepEqual([...new Set(paths)].sort(), [
    `${registryId("acme-release-prod", "acmeprodacr")}?api-version=${ROLE_ASSIGNMENT_MODE_API_VERSION}`,
    `${registryId("acme-release-qa", "acmeqaacr")}?api-version=${ROLE_ASSIGNMENT_MODE_API_VERSION}`,
    `${registryId("acme-release-staging", "acmestagingacr")}?api-version=${ROLE_ASSIGNMENT_MODE_API_VERSION}`,
  ]);
});

test("an existing registry in ABAC mode fails the preview with the fix", async () => {
  const cfg = registryConfig({ existing: true, sku: undefined, resourceGroup: "acme-release-shared" });
  const { errors } = await build(
    () => new ContainerRegistry("acr", args({ registry: cfg, ciPrincipals: [{ name: "shop-production", principalId: "shop-principal", access: "push" }] })),
    { preview: true, expectErrors: true, calls: { [ARM_GET]: armRegistries(["acmeprodacr"]) } },
  );
  assert.ok(errors.length > 0);
  for (const e of errors) {
    assert.match(e, /registry acmeprodacr \(resource group acme-release-shared\) uses the role-assignment mode AbacRepositoryPermissions/);
    assert.match(e, /az acr update --name acmeprodacr --resource-group acme-release-shared --role-assignment-mode rbac/);
  }
});

test("a promotion source in ABAC mode fails the preview", async () => {
  const { errors } = await build(() => new ContainerRegistry("acr", promoting), { preview: true, expectErrors: true, calls: { [ARM_GET]: armRegistries(["acmeqaacr"]) } });
  assert.ok(errors.some((e) => e.includes("registry acmeqaacr (resource group acme-release-qa) uses the role-assignment mode AbacRepositoryPermissions")), errors.join("\n"));
});

test("a registry this stack creates that already exists in ABAC mode (adopted) fails the preview", async () => {
  const { errors } = await build(() => new ContainerRegistry("acr", promoting), { preview: true, expectErrors: true, calls: { [ARM_GET]: armRegistries(["acmeprodacr"]) } });
  assert.ok(errors.some((e) => e.includes("registry acmeprodacr (resource group acme-release-prod) uses the role-assignment mode AbacRepositoryPermissions")), errors.join("\n"));
});

test("a registry this stack creates that does not exist yet previews with its grants", async () => {
  const { resources, errors } = await build(() => new ContainerRegistry("acr", promoting), { preview: true, calls: { [ARM_GET]: armRegistries([], ["acmeprodacr"]) } });
  assert.deepEqual(errors, []);
  assert.equal(named(resources, ASSIGNMENT, "acr-ci-shop-production-acrpush").plain.scope, registryId("acme-release-prod", "acmeprodacr"));
});

test("a missing existing registry fails instead of granting on nothing", async () => {
  const cfg = registryConfig({ existing: true, sku: undefined });
  const { errors } = await build(
    () => new ContainerRegistry("acr", args({ registry: cfg, ciPrincipals: [{ name: "shop-production", principalId: "shop-principal", access: "push" }] })),
    { preview: true, expectErrors: true, calls: { [ARM_GET]: armRegistries([], ["acmeprodacr"]) } },
  );
  assert.ok(errors.some((e) => e.includes("registry acmeprodacr (resource group acme-release-prod) does not exist")), errors.join("\n"));
});

test("each kubelet identity gets AcrPull on the registry", async () => {
  const { resources } = await build(() => new ContainerRegistry("acr", promoting));
  assert.deepEqual(grants(resources, "kubelet-object-id"), [`${roleDefinition(ACR_PULL)} @ ${registryId("acme-release-prod", "acmeprodacr")}`]);
});

test("every role assignment is for a service principal, scoped to a registry, never a subscription or resource group", async () => {
  const { resources } = await build(() => new ContainerRegistry("acr", promoting));
  const assignments = ofType(resources, ASSIGNMENT);
  assert.equal(assignments.length, 6);
  for (const a of assignments) {
    assert.equal(a.plain.principalType, "ServicePrincipal", a.name);
    assert.match(String(a.plain.scope), /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ContainerRegistry\/registries\/[a-z0-9]+$/, a.name);
  }
});

test("role assignment names are GUIDs, unique, and the same on every run", async () => {
  const first = await build(() => new ContainerRegistry("acr", promoting));
  const second = await build(() => new ContainerRegistry("acr", promoting));
  const names = (resources: Built[]) => ofType(resources, ASSIGNMENT).map((r) => `${r.name}=${String(r.plain.roleAssignmentName)}`).sort();
  const guids = ofType(first.resources, ASSIGNMENT).map((r) => String(r.plain.roleAssignmentName));
  for (const guid of guids) assert.match(guid, GUID);
  assert.equal(new Set(guids).size, guids.length);
  assert.deepEqual(names(first.resources), names(second.resources));
});

test("a replaced role assignment is deleted first, since its name does not change", async () => {
  const { resources } = await build(() => new ContainerRegistry("acr", promoting));
  for (const a of ofType(resources, ASSIGNMENT)) assert.equal(a.deleteBeforeReplace, true, a.name);
});

test("in a preview, grants on a new registry show their target and name and wait for the registry", async () => {
  const { resources } = await build(() => new ContainerRegistry("acr", promoting), { preview: true });
  const registry = named(resources, REGISTRY, "acr-registry");
  const push = named(resources, ASSIGNMENT, "acr-ci-shop-production-acrpush");
  assert.equal(push.plain.scope, registryId("acme-release-prod", "acmeprodacr"));
  assert.match(String(push.plain.roleAssignmentName), GUID);
  assert.ok(push.dependsOn.includes(registry.urn));
});

test("purge creates a scheduled ACR task on the registry that runs the purge of a pinned acr-cli image with the configured filter", async () => {
  const cfg = registryConfig({ purge: { schedule: "0 3 * * *", olderThanDays: 7, keep: 3, untaggedOnly: false, filter: "shop:.*" } });
  const { resources } = await build(() => new ContainerRegistry("acr", args({ registry: cfg })));
  const task = named(resources, TASK, "acr-purge");
  assert.equal(task.plain.registryName, "acmeprodacr");
  assert.equal(task.plain.resourceGroupName, "acme-release-prod");
  assert.ok(task.dependsOn.includes(named(resources, REGISTRY, "acr-registry").urn));
  assert.deepEqual((task.plain.platform as Record<string, unknown>).os, "Linux");
  const trigger = task.plain.trigger as { timerTriggers: { schedule: string; status: string }[] };
  assert.deepEqual(trigger.timerTriggers.map((t) => [t.schedule, t.status]), [["0 3 * * *", "Enabled"]]);
  const step = task.plain.step as { type: string; encodedTaskContent: string };
  assert.equal(step.type, "EncodedTask");
  const yaml = Buffer.from(step.encodedTaskContent, "base64").toString("utf8");
  assert.match(yaml, /^version: v1\.1\.0\nsteps:\n  - cmd: "mcr\.microsoft\.com\/acr\/acr-cli:0\.18 purge --registry \{\{\.Run\.Registry\}\} --filter 'shop:\.\*' --ago 7d --keep 3 --untagged"\n/);
});

test("purge keeps the configured number of latest tags per repository", async () => {
  const cfg = registryConfig({ purge: { schedule: "0 3 * * *", olderThanDays: 3, keep: 5, untaggedOnly: false, filter: ".*:.*" } });
  const { resources } = await build(() => new ContainerRegistry("acr", args({ registry: cfg })));
  const step = named(resources, TASK, "acr-purge").plain.step as { encodedTaskContent: string };
  assert.match(Buffer.from(step.encodedTaskContent, "base64").toString("utf8"), /--filter '\.\*:\.\*' --ago 3d --keep 5 --untagged"/);
});

test("purge with untaggedOnly deletes only untagged manifests, no tags", async () => {
  const cfg = registryConfig({ purge: { schedule: "0 3 * * *", olderThanDays: 1, keep: 3, untaggedOnly: true, filter: ".*:.*" } });
  const { resources } = await build(() => new ContainerRegistry("acr", args({ registry: cfg })));
  const step = named(resources, TASK, "acr-purge").plain.step as { encodedTaskContent: string };
  const yaml = Buffer.from(step.encodedTaskContent, "base64").toString("utf8");
  assert.match(yaml, /--filter '\.\*:\.\*' --ago 1d --untagged-only"/);
});

test("no purge configured creates no task", async () => {
  const { resources } = await build(() => new ContainerRegistry("acr", args()));
  assert.equal(ofType(resources, TASK).length, 0);
});

test("outputs resolve to the registry and each principal's assignment ids", async () => {
  const { result } = await build(() => new ContainerRegistry("acr", promoting));
  assert.equal(await valueOf(result.loginServer), "acmeprodacr.azurecr.io");
  assert.equal(await valueOf(result.registryId), registryId("acme-release-prod", "acmeprodacr"));
  assert.equal(await valueOf(result.registryName), "acmeprodacr");
  assert.deepEqual(Object.keys(result.ciAssignmentIds).sort(), ["shop-production", "shop-promote", "shop-readonly"]);
  assert.equal(result.ciAssignmentIds["shop-promote"].length, 3);
  const pushIds = await Promise.all(result.ciAssignmentIds["shop-production"].map(valueOf));
  assert.match(pushIds[0], /\/registries\/acmeprodacr\/providers\/Microsoft\.Authorization\/roleAssignments\/[0-9a-f-]{36}$/);
  assert.equal(result.kubeletAssignmentIds["acme-prod-aks"].length, 1);
});

// ---------------------------------------------------------------------------------------------
// Purge rules of the stack config (config/sections/azure.ts)

function registryProblems(purge: Record<string, unknown>): string[] {
  const values = {
    "azure-native:location": "westeurope",
    "release-infra:azure": { resourceGroup: "acme-release-staging", registry: { name: "acmestagingacr", sku: "Standard", purge: { schedule: "0 3 * * *", ...purge } } },
  };
  try {
    parseStackConfig(values, { file: "Pulumi.staging.yaml", stack: "staging", source: "offline-plan" });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}

test("purge keeps the latest 3 tags per repository unless told otherwise", () => {
  const { config } = parseStackConfig(
    { "azure-native:location": "westeurope", "release-infra:azure": { resourceGroup: "rg", registry: { name: "acmestagingacr", sku: "Standard", purge: { schedule: "0 3 * * *", olderThanDays: 7 } } } },
    { file: "Pulumi.staging.yaml", stack: "staging", source: "offline-plan" },
  );
  assert.equal(config.azure?.registry?.purge?.keep, 3);
});

test("olderThanDays 0 without untaggedOnly is a config error naming the key", () => {
  assert.deepEqual(registryProblems({ olderThanDays: 0 }), [
    "Pulumi.staging.yaml: release-infra:azure.registry.purge.olderThanDays: is 0 without untaggedOnly: every run would delete every tag but the kept ones, including images a namespace still runs; use at least 1, or untaggedOnly: true",
  ]);
});

test("olderThanDays 0 with untaggedOnly is accepted", () => {
  assert.deepEqual(registryProblems({ olderThanDays: 0, untaggedOnly: true }), []);
});

test("purge.keep must keep at least one tag", () => {
  const problems = registryProblems({ olderThanDays: 7, keep: 0 });
  assert.equal(problems.length, 1);
  assert.match(problems[0], /release-infra:azure\.registry\.purge\.keep: must be at least 1/);
});

function stackProblems(values: Record<string, unknown>, stack: string): string[] {
  try {
    parseStackConfig(values, { file: `Pulumi.${stack}.yaml`, stack, source: "offline-plan" });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}

const pushingTo = (stage: string, access: string, registry: Record<string, unknown>, clusters: unknown[] = []) => ({
  "azure-native:location": "southafricanorth",
  "github:owner": "phoenixvc",
  "release-infra:stage": stage,
  "release-infra:azure": { resourceGroup: "mys-release-staging", registry, clusters },
  "release-infra:github": { repositories: [{ name: "Mystira.workspace", visibility: "private", plan: "team", actionsDefaults: false, environments: [{ name: "dev", deployFrom: { branches: ["dev"] }, access: { registry: access } }] }] },
});

test("a non-prod stack file that pushes to a registry another stack owns is a config error naming the environment", () => {
  const problems = stackProblems(pushingTo("staging", "push", { name: "mysprodacr", existing: true, resourceGroup: "mys-release-prod" }), "staging");
  assert.deepEqual(problems, [
    'Pulumi.staging.yaml: release-infra:github.repositories[Mystira.workspace].environments[dev].access.registry: "push" in stage staging writes to registry mysprodacr, which another stack owns and a prod stage may pull from; push to a registry this stack creates and promote from it into the prod registry',
  ]);
});

test("a non-prod stack file that pushes to its own registry is accepted", () => {
  assert.deepEqual(stackProblems(pushingTo("staging", "push", { name: "mysnonprodacr", sku: "Standard" }), "staging"), []);
});

test("a prod stack file whose cluster pulls from a registry another stack owns is a config error", () => {
  const cluster = { name: "mys-prod", resourceGroup: "mys-prod-rg", pullFromRegistry: true, namespaces: [] };
  const problems = stackProblems(pushingTo("prod", "pull", { name: "mysnonprodacr", existing: true, resourceGroup: "mys-release-staging" }, [cluster]), "prod");
  assert.equal(problems.length, 2);
  assert.match(problems[0], /release-infra:azure\.clusters\[mys-prod\]\.pullFromRegistry: true makes the kubelet pull in stage prod from registry mysnonprodacr, which another stack owns/);
  assert.match(problems[1], /access\.registry: "pull" in stage prod reads registry mysnonprodacr, which another stack owns/);
});

// ---------------------------------------------------------------------------------------------
// Objects that exist already (adoption)

// The harness runs the stack "dev".
const IMPORT_STEPS = "npm run plan -- --stack dev --import-file dev-import.json, then pulumi import --file dev-import.json --stack dev --generate-code=false (docs/migration.md)";
const KUBELET_KEY = "AcrPull of the kubelet of cluster acme-aks-prod/acme-prod-aks on container registry acmeprodacr (set pullFromRegistry: false in all but one stack)";

/** ARM with the registry present and the kubelet's AcrPull assignments on it by name. */
function armWith(registryExists: boolean, kubeletAcrPulls: string[] = []): CallOverride {
  return (a) => {
    const path = String(a.path);
    if (path.endsWith("/providers/Microsoft.Authorization/roleAssignments")) {
      const scope = path.slice(0, -"/providers/Microsoft.Authorization/roleAssignments".length);
      const value = kubeletAcrPulls.map((name) => ({
        id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
        name,
        properties: { scope, principalId: "kubelet-object-id", roleDefinitionId: roleDefinition(ACR_PULL) },
      }));
      // ARM's principalId filter also lists assignments above the scope: one on the resource group.
      value.push({ id: "/subscriptions/x/resourceGroups/acme-release-prod/providers/Microsoft.Authorization/roleAssignments/above", name: "above", properties: { scope: "/subscriptions/x/resourceGroups/acme-release-prod", principalId: "kubelet-object-id", roleDefinitionId: roleDefinition(ACR_PULL) } });
      assert.equal(a.filter, "principalId eq 'kubelet-object-id'");
      return { value };
    }
    return registryExists ? armRegistries([])(a) : { error: { code: "ResourceNotFound", message: "not found" } };
  };
}

const kubelet = (overrides: Partial<ContainerRegistryArgs["kubeletPrincipals"][number]> = {}) => ({
  name: "acme-prod-aks",
  principalId: "kubelet-object-id",
  takeOver: { key: KUBELET_KEY, adoptKey: "release-infra:azure.clusters[acme-prod-aks].adoptAcrPull" },
  ...overrides,
});

async function takeOver(registryArgs: ContainerRegistryArgs, arm: CallOverride, options: { inState?: string[]; managedBefore?: string[] } = {}) {
  const { result } = await build(() => new ContainerRegistry("acr", { ...registryArgs, managedBefore: options.managedBefore ?? [] }), { preview: true, calls: { [ARM_GET]: arm }, inState: options.inState });
  return valueOf(result.takeOverProblems);
}

test("in a preview, an existing registry the config does not adopt is reported with the key that adopts it", async () => {
  assert.deepEqual(await takeOver(args(), armWith(true)), [
    `container registry acmeprodacr exists already and this stack does not manage it: set release-infra:azure.registry.adopt: true and import it (${IMPORT_STEPS}), or rename it in the config`,
  ]);
});

test("a registry that does not exist yet, or is in the stack's state, is not reported", async () => {
  assert.deepEqual(await takeOver(args(), armWith(false)), []);
  assert.deepEqual(await takeOver(args(), armWith(true), { inState: ["acr-registry"] }), []);
});

test("an adopted registry that is not imported yet is reported with the import steps", async () => {
  assert.deepEqual(await takeOver(args({ registry: registryConfig({ adopt: true }) }), armWith(true)), [
    `container registry acmeprodacr is adopted but not in this stack's state, so the update would create it again: import it first (${IMPORT_STEPS}); if it is imported, the config forces its replacement: pulumi preview --diff names the input`,
  ]);
});

test("a kubelet AcrPull made under another name (az aks update --attach-acr) is reported with adoptAcrPull and that name, since ours would get 409 RoleAssignmentExists", async () => {
  const problems = await takeOver(args({ kubeletPrincipals: [kubelet()] }), armWith(true, ["0b1c2d3e-0000-4000-8000-000000000001"]), { inState: ["acr-registry"] });
  assert.deepEqual(problems, [
    `AcrPull of the kubelet of cluster acme-prod-aks on container registry acmeprodacr exists already and this stack does not manage it: set release-infra:azure.clusters[acme-prod-aks].adoptAcrPull: 0b1c2d3e-0000-4000-8000-000000000001 and import it (${IMPORT_STEPS}), or rename it in the config`,
  ]);
});

test("an adopted kubelet AcrPull takes the existing assignment's name and import id, and is not reported once imported", async () => {
  const name = "0b1c2d3e-0000-4000-8000-000000000001";
  const registryArgs = args({ kubeletPrincipals: [kubelet({ adoptAssignment: name })] });
  assert.deepEqual(await takeOver(registryArgs, armWith(true, [name]), { inState: ["acr-registry", "acr-kubelet-acme-prod-aks-acrpull"] }), []);
  const { resources, result } = await build(() => new ContainerRegistry("acr", registryArgs));
  assert.equal(named(resources, ASSIGNMENT, "acr-kubelet-acme-prod-aks-acrpull").plain.roleAssignmentName, name);
  assert.deepEqual(await Promise.all(result.adoptions.map((a) => valueOf(pulumi.output(a.importId)))), [
    `${registryId("acme-release-prod", "acmeprodacr")}/providers/Microsoft.Authorization/roleAssignments/${name}`,
  ]);
});
