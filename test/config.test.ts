import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../config/errors";
import { parseStackConfig, type ConfigSource } from "../config/load";

/** A complete, valid prod config; each test breaks one rule of a copy of it. */
const BASE = {
    "azure-native:location": "westeurope",
    "gcp:project": "acme-web-prod",
    "github:owner": "acme",
    "release-infra:azure": {
      resourceGroup: "acme-release-prod",
      registry: { name: "acmeprodacr", sku: "Premium", untaggedRetentionDays: 30, zoneRedundant: true },
      clusters: [
        {
          name: "acme-prod-aks",
          resourceGroup: "acme-aks-prod",
          pullFromRegistry: true,
          namespaces: [{ name: "shop", quota: { cpu: "8", memory: "16Gi", pods: 60 }, containerDefaults: { cpu: "250m", memory: "256Mi" } }],
        },
      ],
    },
    "release-infra:cdn": { bucket: "acme-cdn-assets", location: "EU", domains: ["cdn.acme.example"], latestPaths: ["/v1/*"] },
    "release-infra:github": {
      ownerId: 71234567,
      repositories: [
        {
          name: "shop",
          id: 812345678,
          oidcSubjects: "immutable",
          visibility: "private",
          plan: "enterprise",
          environments: [
            {
              name: "production",
              reviewers: { teams: ["release-managers"] },
              waitMinutes: 5,
              deployFrom: { branches: ["main"] },
              secrets: ["SLACK_WEBHOOK"],
              access: { registry: "push", namespaces: [{ cluster: "acme-prod-aks", namespace: "shop" }], cdn: "publish" },
            },
          ],
          trustedPublishing: [{ registry: "pypi", package: "acme-sdk", workflow: "release.yml", environment: "pypi", deployFrom: { branches: ["main"] } }],
        },
      ],
    },
  "release-infra:secrets": { SLACK_WEBHOOK: { secure: "v1:AAAA" } },
};

const base = () => structuredClone(BASE);

function problems(values: Record<string, unknown>, source: ConfigSource = "offline-plan", stack = "prod"): string[] {
  try {
    parseStackConfig(values, { file: "Pulumi.prod.yaml", stack, source });
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

test("the base config is valid and the stage defaults to the stack name", () => {
  const { config, warnings } = parseStackConfig(base(), { file: "Pulumi.prod.yaml", stack: "prod", source: "offline-plan" });
  assert.equal(config.stage, "prod");
  assert.deepEqual(warnings, []);
});

test("a registry name with a hyphen is rejected with the ACR rule", () => {
  const c = base();
  c["release-infra:azure"].registry.name = "mys-prod";
  assert.deepEqual(problems(c), [`Pulumi.prod.yaml: release-infra:azure.registry.name: "mys-prod" must be 5-50 lowercase letters or digits (no hyphens)`]);
});

test("retention and zone redundancy on a Standard registry are Premium-only errors", () => {
  const c = base();
  c["release-infra:azure"].registry.sku = "Standard";
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:azure.registry.untaggedRetentionDays: 30 requires sku Premium (this registry is Standard): ACR's retention policy is a Premium feature",
    "Pulumi.prod.yaml: release-infra:azure.registry.zoneRedundant: true requires sku Premium (this registry is Standard): zone redundancy is set explicitly only on Premium",
  ]);
});

test("importFrom naming the registry itself is rejected", () => {
  const c = base();
  Object.assign(c["release-infra:azure"].registry, { importFrom: [{ name: "acmeprodacr", resourceGroup: "acme-release-prod" }] });
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:azure.registry.importFrom[acmeprodacr].name: "acmeprodacr" is this registry itself; importFrom lists the registries images are promoted from`,
  ]);
});

test("an existing registry cannot carry settings of the stack that owns it", () => {
  const c = base();
  Object.assign(c["release-infra:azure"], { registry: { name: "acmeprodacr", existing: true, resourceGroup: "acme-release-prod", sku: "Premium" } });
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:azure.registry.sku: \"Premium\" cannot be set on an existing registry (another stack owns it; set it there)",
  ]);
});

test("an unknown key is an error with a did-you-mean suggestion", () => {
  const c = base();
  Object.assign(c["release-infra:azure"].registry, { zoneRedundnt: true });
  assert.deepEqual(problems(c), [`Pulumi.prod.yaml: release-infra:azure.registry.zoneRedundnt: unknown key; did you mean "zoneRedundant"?`]);
});

test("an unknown top-level release-infra key is an error with a suggestion", () => {
  const c = base();
  Object.assign(c, { "release-infra:foo": {}, "release-infra:azur": {} });
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:foo: unknown key; allowed keys are release-infra:stage, release-infra:tags, release-infra:azure, release-infra:cdn, release-infra:github, release-infra:pipeline, release-infra:secrets",
    `Pulumi.prod.yaml: release-infra:azur: unknown key; did you mean "release-infra:azure"?`,
  ]);
});

test("keys of provider namespaces are left to the providers", () => {
  const c = base();
  Object.assign(c, { "azure-native:subscriptionId": "x", "gcp:region": "europe-west1" });
  assert.deepEqual(problems(c), []);
});

test("namespace names must be DNS-1123 labels and not kube-*", () => {
  const c = base();
  const nsList = c["release-infra:azure"].clusters[0].namespaces;
  nsList[0].name = "Shop_Prod";
  nsList.push({ ...nsList[0], name: "kube-shop" });
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:azure.clusters[acme-prod-aks].namespaces[Shop_Prod].name: "Shop_Prod" must be a DNS-1123 label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit`,
    `Pulumi.prod.yaml: release-infra:azure.clusters[acme-prod-aks].namespaces[kube-shop].name: "kube-shop" must not start with "kube-" (reserved for Kubernetes system namespaces)`,
  ]);
});

test("a quota that is not a Kubernetes quantity is rejected", () => {
  const c = base();
  c["release-infra:azure"].clusters[0].namespaces[0].quota.memory = "16GB";
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:azure.clusters[acme-prod-aks].namespaces[shop].quota.memory: "16GB" must be a Kubernetes quantity such as "500m", "2", "512Mi" or "16Gi"`,
  ]);
});

test("container defaults larger than the quota are rejected", () => {
  const c = base();
  c["release-infra:azure"].clusters[0].namespaces[0].containerDefaults.cpu = "9";
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:azure.clusters[acme-prod-aks].namespaces[shop].containerDefaults.cpu: "9" is larger than the namespace quota of 8: no pod with default resources could start`,
  ]);
});

test("a bucket name starting with goog is rejected with the GCS rule", () => {
  const c = base();
  c["release-infra:cdn"].bucket = "google-assets";
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:cdn.bucket: "google-assets" must not start with "goog" (reserved by Google)`,
    `Pulumi.prod.yaml: release-infra:cdn.bucket: "google-assets" must not contain "google" or a close misspelling`,
  ]);
});

test("latest paths must be URL-map path patterns", () => {
  const c = base();
  c["release-infra:cdn"].latestPaths = ["v1/*", "/v1/*.js"];
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:cdn.latestPaths[0]: "v1/*" must be a URL-map path pattern: start with "/", no "?" or "#", and "*" only as a final "/*" (e.g. "/v1/*")`,
    `Pulumi.prod.yaml: release-infra:cdn.latestPaths[1]: "/v1/*.js" must be a URL-map path pattern: start with "/", no "?" or "#", and "*" only as a final "/*" (e.g. "/v1/*")`,
  ]);
});

test("max ages beyond Cloud CDN's one-year limit are rejected", () => {
  const c = base();
  Object.assign(c["release-infra:cdn"], { immutableMaxAgeSeconds: 40000000 });
  assert.deepEqual(problems(c), ["Pulumi.prod.yaml: release-infra:cdn.immutableMaxAgeSeconds: must be at most 31622400, got number 40000000"]);
});

test("reviewers and wait timers on a private repository of the team plan explain the plan limit", () => {
  const c = base();
  c["release-infra:github"].repositories[0].plan = "team";
  const reason =
    "is not available on a private repository of GitHub's team plan (required reviewers and wait timers need a public repository or GitHub Enterprise); make the repository public, move to Enterprise, or remove it";
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].reviewers: ${reason}`,
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].waitMinutes: 5 ${reason}`,
  ]);
});

test("access naming an undeclared cluster or namespace lists what is declared", () => {
  const c = base();
  c["release-infra:github"].repositories[0].environments[0].access.namespaces = [
    { cluster: "other-aks", namespace: "shop" },
    { cluster: "acme-prod-aks", namespace: "web" },
  ];
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].access.namespaces[other-aks/shop].cluster: "other-aks" is not a cluster of release-infra:azure.clusters (declared: acme-prod-aks)`,
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].access.namespaces[acme-prod-aks/web].namespace: "web" is not a namespace of cluster acme-prod-aks (declared: shop)`,
  ]);
});

test("duplicate environment names are rejected case-insensitively, across trusted publishing", () => {
  const c = base();
  c["release-infra:github"].repositories[0].trustedPublishing[0].environment = "Production";
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].trustedPublishing[acme-sdk].environment: duplicate environment name "Production" (listed twice); environment names must be unique (case-insensitive)`,
  ]);
});

test("duplicate namespace names on one cluster are rejected", () => {
  const c = base();
  const nsList = c["release-infra:azure"].clusters[0].namespaces;
  nsList.push({ ...nsList[0] });
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:azure.clusters[acme-prod-aks].namespaces[1].name: duplicate namespace "shop" (listed twice); namespaces must be unique`,
  ]);
});

test("a trusted-publishing workflow given as a path is rejected", () => {
  const c = base();
  c["release-infra:github"].repositories[0].trustedPublishing[0].workflow = ".github/workflows/release.yml";
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].trustedPublishing[acme-sdk].workflow: ".github/workflows/release.yml" must be the workflow file name only (e.g. "release.yml"), not a path: registries match the file name in .github/workflows`,
  ]);
});

test("a PyPI trusted publisher in a reusable workflow is rejected", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0].trustedPublishing[0], { reusableWorkflow: true });
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].trustedPublishing[acme-sdk].reusableWorkflow: true is not accepted by PyPI: a trusted publisher must be the top-level workflow file, not a reusable workflow",
  ]);
});

test("an environment without deployment branches or tags is rejected", () => {
  const c = base();
  c["release-infra:github"].repositories[0].environments[0].deployFrom = { branches: [] };
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].deployFrom: must list at least one branch or tag: an environment without deployment policies lets any ref deploy",
  ]);
});

test("a wired variable set by hand on an environment with access is rejected", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0].environments[0], { variables: { AZURE_CLIENT_ID: "abc" } });
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].variables.AZURE_CLIENT_ID: \"abc\" is set by release-infra from the environment's access (wired from the cloud components); remove it here",
  ]);
});

test("a required section key that is missing says it is required", () => {
  const c = base();
  Reflect.deleteProperty(c["release-infra:azure"], "resourceGroup");
  assert.deepEqual(problems(c), ["Pulumi.prod.yaml: release-infra:azure.resourceGroup: is required (a string)"]);
});

test("an enum value that is not allowed lists the allowed values", () => {
  const c = base();
  c["release-infra:azure"].registry.sku = "Gold";
  assert.deepEqual(problems(c), [`Pulumi.prod.yaml: release-infra:azure.registry.sku: must be one of "Basic", "Standard", "Premium", got string "Gold"`]);
});

test("a stack not named dev, staging or prod must set the stage", () => {
  assert.deepEqual(problems(base(), "offline-plan", "qa"), [
    `Pulumi.prod.yaml: release-infra:stage: is required because the stack name "qa" is not dev, staging or prod; set one of them`,
  ]);
});

test("every problem of a config is listed, not only the first", () => {
  const c = base();
  c["release-infra:azure"].registry.name = "x";
  c["release-infra:cdn"].bucket = "Bad Bucket";
  Reflect.deleteProperty(c, "github:owner");
  assert.equal(problems(c).length, 3);
});

test("a secret in plain text in the stack file is an error naming the command to store it", () => {
  const c = base();
  Object.assign(c["release-infra:secrets"], { SLACK_WEBHOOK: "https://hooks.example/plain" });
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:secrets.SLACK_WEBHOOK: is stored in plain text in the stack file; remove it and run: pulumi config set --secret --path 'release-infra:secrets.SLACK_WEBHOOK' --stack prod",
  ]);
});

test("a referenced secret that is not set stops a real update with the exact command", () => {
  const c = base();
  Reflect.deleteProperty(c["release-infra:secrets"], "SLACK_WEBHOOK");
  assert.deepEqual(problems(c, "engine"), [
    "Pulumi.prod.yaml: release-infra:secrets.SLACK_WEBHOOK: is not set but release-infra:github.repositories[shop].environments[production].secrets[0] uses it; run: pulumi config set --secret --path 'release-infra:secrets.SLACK_WEBHOOK' --stack prod",
  ]);
});

test("a referenced secret that is not set is only a warning in the offline plan", () => {
  const c = base();
  Reflect.deleteProperty(c["release-infra:secrets"], "SLACK_WEBHOOK");
  const { warnings } = parseStackConfig(c, { file: "Pulumi.prod.yaml", stack: "prod", source: "offline-plan" });
  assert.deepEqual(warnings, [
    "Pulumi.prod.yaml: release-infra:secrets.SLACK_WEBHOOK: is not set but release-infra:github.repositories[shop].environments[production].secrets[0] uses it; run: pulumi config set --secret --path 'release-infra:secrets.SLACK_WEBHOOK' --stack prod",
  ]);
});

test("a resource group on a registry this stack creates is rejected", () => {
  const c = base();
  Object.assign(c["release-infra:azure"].registry, { resourceGroup: "elsewhere" });
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:azure.registry.resourceGroup: "elsewhere" is only for an existing or adopted registry; a registry this stack creates lives in release-infra:azure.resourceGroup`,
  ]);
});

test("a purge filter with a quote is rejected (it would break the acr purge command)", () => {
  const c = base();
  Object.assign(c["release-infra:azure"].registry, { purge: { schedule: "0 3 * * *", olderThanDays: 7, filter: "shop:'x" } });
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:azure.registry.purge.filter: "shop:'x" must be "<repository regex>:<tag regex>" without spaces or quotes, e.g. ".*:.*"`,
  ]);
});

test("a purge schedule that is not a five-field cron is rejected", () => {
  const c = base();
  Object.assign(c["release-infra:azure"].registry, { purge: { schedule: "daily", olderThanDays: 7 } });
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:azure.registry.purge.schedule: "daily" must be a five-field cron expression ("minute hour day-of-month month day-of-week"), e.g. "0 3 * * *"`,
  ]);
});

test("environments on a private repository of the free plan are rejected", () => {
  const c = base();
  const repo = c["release-infra:github"].repositories[0];
  Object.assign(repo, { plan: "free" });
  Reflect.deleteProperty(repo.environments[0], "reviewers");
  Reflect.deleteProperty(repo.environments[0], "waitMinutes");
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].environments: environments on a private repository need GitHub Pro, Team or Enterprise (this repository's plan is free); make it public or upgrade",
  ]);
});

/** The base repository's trusted-publishing list replaced by `entries` (npm packages of one monorepo by default). */
function publishing(...entries: Record<string, unknown>[]) {
  const c = base();
  const npm = { registry: "npm", workflow: "release.yml", environment: "npm", deployFrom: { branches: ["main"] }, reviewers: { teams: ["release-managers"] } };
  Object.assign(c["release-infra:github"].repositories[0], { trustedPublishing: entries.map((e) => ({ ...npm, ...e })) });
  return c;
}
const SHARING_RULE =
  "entries sharing an environment must spell it alike and publish to the same registry from the same workflow with identical deployFrom, reviewers, waitMinutes and stagedPublishing; give this entry its own environment otherwise";

test("trusted-publishing entries of several packages may share one environment when registry, workflow and policies agree", () => {
  assert.deepEqual(problems(publishing({ package: "@acme/core" }, { package: "@acme/react" }, { package: "@acme/cli" })), []);
});

test("entries sharing an environment may list deployFrom patterns and reviewers in any order", () => {
  const c = publishing(
    { package: "@acme/core", deployFrom: { branches: ["main", "release/*"] }, reviewers: { teams: ["a", "b"] } },
    { package: "@acme/react", deployFrom: { branches: ["release/*", "main"] }, reviewers: { teams: ["b", "a"] } },
  );
  assert.deepEqual(problems(c), []);
});

test("entries sharing an environment must spell its name alike", () => {
  assert.deepEqual(problems(publishing({ package: "@acme/core" }, { package: "@acme/react", environment: "NPM" })), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].trustedPublishing[@acme/react].environment: differs from the npm package @acme/core ("NPM" here, "npm" there), which uses the same environment "npm": ${SHARING_RULE}`,
  ]);
});

test("entries sharing an environment but publishing to different registries name only the first differing key", () => {
  const c = publishing({ package: "acme" }, { package: "acme", registry: "pypi", workflow: "pypi.yml" });
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].trustedPublishing[1].registry: differs from the npm package acme ("pypi" here, "npm" there), which uses the same environment "npm": ${SHARING_RULE}`,
  ]);
});

test("entries sharing an environment must publish from the same workflow", () => {
  assert.deepEqual(problems(publishing({ package: "@acme/core" }, { package: "@acme/react", workflow: "publish.yml" })), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].trustedPublishing[@acme/react].workflow: differs from the npm package @acme/core ("publish.yml" here, "release.yml" there), which uses the same environment "npm": ${SHARING_RULE}`,
  ]);
});

test("entries sharing an environment must allow the same branches and tags", () => {
  const c = publishing({ package: "@acme/core" }, { package: "@acme/react" }, { package: "@acme/cli", deployFrom: { tags: ["v*"] } });
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].trustedPublishing[@acme/cli].deployFrom: differs from the npm package @acme/core ({"branches":[],"tags":["v*"]} here, {"branches":["main"],"tags":[]} there), which uses the same environment "npm": ${SHARING_RULE}`,
  ]);
});

test("entries sharing an environment must have the same reviewers", () => {
  assert.deepEqual(problems(publishing({ package: "@acme/core" }, { package: "@acme/react", reviewers: undefined })), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].trustedPublishing[@acme/react].reviewers: differs from the npm package @acme/core (not set here, {"teams":["release-managers"],"users":[]} there), which uses the same environment "npm": ${SHARING_RULE}`,
  ]);
});

test("entries sharing an environment must have the same wait timer", () => {
  assert.deepEqual(problems(publishing({ package: "@acme/core", waitMinutes: 10 }, { package: "@acme/react" })), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].trustedPublishing[@acme/react].waitMinutes: differs from the npm package @acme/core (not set here, 10 there), which uses the same environment "npm": ${SHARING_RULE}`,
  ]);
});

test("a shared trusted-publishing environment named like one of environments is one duplicate-name error", () => {
  assert.deepEqual(problems(publishing({ package: "@acme/core", environment: "production" }, { package: "@acme/react", environment: "production" })), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].trustedPublishing[@acme/core].environment: duplicate environment name "production" (listed twice); environment names must be unique (case-insensitive)`,
  ]);
});

test("the same package listed twice for one registry is rejected", () => {
  assert.deepEqual(problems(publishing({ package: "@acme/core" }, { package: "@acme/react" }, { package: "@acme/core" })), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].trustedPublishing[2].package: "@acme/core" is listed twice for npm; list each package once per registry`,
  ]);
});

test("the same package name on two registries, each in its own environment, is valid", () => {
  const c = publishing({ package: "acme-sdk" }, { package: "acme-sdk", registry: "pypi", environment: "pypi" });
  assert.deepEqual(problems(c), []);
});

test("a repository id without the owner id is rejected (the immutable subject needs both)", () => {
  const c = base();
  Reflect.deleteProperty(c["release-infra:github"], "ownerId");
  Reflect.deleteProperty(c["release-infra:github"].repositories[0], "oidcSubjects");
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].id: 812345678 needs release-infra:github.ownerId as well: the immutable OIDC subject is repo:OWNER@OWNER_ID/REPO@REPO_ID:...",
  ]);
});

/** The warnings of a config that is valid. */
const warningsOf = (values: Record<string, unknown>) => parseStackConfig(values, { file: "Pulumi.prod.yaml", stack: "prod", source: "offline-plan" }).warnings;
const SUBJECT_CHECK = "gh api repos/OWNER/REPO/actions/oidc/customization/sub --jq .use_immutable_subject";

test("without ids and a choice of subjects, the plan warns that identities trust only the name-only subject", () => {
  const c = base();
  Reflect.deleteProperty(c["release-infra:github"].repositories[0], "id");
  Reflect.deleteProperty(c["release-infra:github"].repositories[0], "oidcSubjects");
  assert.deepEqual(warningsOf(c), [
    `Pulumi.prod.yaml: release-infra:github: the CI identities of shop trust only the name-only subject repo:OWNER/REPO:environment:ENV; a repository created, renamed or transferred since 15 July 2026 sends the immutable form repo:OWNER@OWNER_ID/REPO@REPO_ID:... instead (${SUBJECT_CHECK} prints true), so set oidcSubjects: name-only if it prints false, else the repository's id, release-infra:github.ownerId (gh api repos/OWNER/REPO --jq '.owner.id, .id') and oidcSubjects: immutable`,
  ]);
});

test("an explicit choice of the name-only subject is not warned about", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { oidcSubjects: "name-only" });
  assert.deepEqual(warningsOf(c), []);
});

test("while both subject forms are trusted (the default with ids, or oidcSubjects: both) the plan warns", () => {
  const message = `Pulumi.prod.yaml: release-infra:github: the CI identities of shop trust both the name-only and the immutable OIDC subject; whoever registers a deleted owner or repository name again can reproduce the name-only one, so trust both only while switching over: set oidcSubjects: immutable once ${SUBJECT_CHECK} prints true, or name-only while it prints false`;
  const byDefault = base();
  Reflect.deleteProperty(byDefault["release-infra:github"].repositories[0], "oidcSubjects");
  assert.deepEqual(warningsOf(byDefault), [message]);
  const explicit = base();
  Object.assign(explicit["release-infra:github"].repositories[0], { oidcSubjects: "both" });
  assert.deepEqual(warningsOf(explicit), [message]);
});

test("trusting the immutable subject without the ids it is made of is an error with the command that prints them", () => {
  const c = base();
  Reflect.deleteProperty(c["release-infra:github"].repositories[0], "id");
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].oidcSubjects: "immutable" needs the repository's id and release-infra:github.ownerId: the immutable subject is repo:OWNER@OWNER_ID/REPO@REPO_ID:...; look them up with gh api repos/OWNER/REPO --jq '.owner.id, .id'`,
  ]);
});

test("every subject a CDN identity will trust must fit Google's 127 bytes, the immutable one with the ids' digits", () => {
  // repo:acme/shop:environment:<env> is 27 bytes plus the name; the immutable form adds "@71234567" and "@812345678" (19 bytes).
  const env = Array.from({ length: 4 }, () => "production-eu-west-1").join("-");
  const c = base();
  c["release-infra:github"].repositories[0].environments[0].name = env;
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[${env}].name: "${env}" makes the immutable OIDC subject "repo:acme@71234567/shop@812345678:environment:${env}" ${46 + env.length} bytes, longer than the 127 bytes Google's workload identity federation accepts as google.subject; use a shorter environment name`,
  ]);
  Object.assign(c["release-infra:github"].repositories[0], { oidcSubjects: "name-only" });
  assert.deepEqual(problems(c), []);
});

test("more CDN domains than a target HTTPS proxy takes certificates for are rejected", () => {
  const c = base();
  c["release-infra:cdn"].domains = Array.from({ length: 16 }, (_, i) => `cdn${i}.acme.example`);
  assert.deepEqual(problems(c), ["Pulumi.prod.yaml: release-infra:cdn.domains: a target HTTPS proxy takes at most 15 certificates (one per domain)"]);
});

test("two environments with access whose identities would get the same name are rejected", () => {
  const c = base();
  const repos = c["release-infra:github"].repositories;
  repos[0].name = "shop-api";
  repos[0].environments[0].name = "prod";
  repos.push({ ...structuredClone(repos[0]), name: "shop", trustedPublishing: [] });
  repos[1].environments[0].name = "api-prod";
  Reflect.deleteProperty(repos[1], "id");
  Reflect.deleteProperty(repos[1], "oidcSubjects");
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[api-prod].name: "api-prod" gives the CI identities the same name "shop-api-prod" as environment prod of repository shop-api; rename one of the environments`,
  ]);
});

test("error paths name repositories, environments and namespaces by the names the user wrote", () => {
  const c = base();
  c["release-infra:github"].repositories[0].environments[0].deployFrom = { branches: [] };
  c["release-infra:azure"].clusters[0].namespaces[0].quota.cpu = "lots";
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:azure.clusters[acme-prod-aks].namespaces[shop].quota.cpu: "lots" must be a Kubernetes quantity such as "500m", "2", "512Mi" or "16Gi"`,
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].deployFrom: must list at least one branch or tag: an environment without deployment policies lets any ref deploy",
  ]);
});

test("an enum value in the wrong case suggests the allowed spelling", () => {
  const c = base();
  c["release-infra:azure"].registry.sku = "premium";
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:azure.registry.sku: must be one of "Basic", "Standard", "Premium", got string "premium"; did you mean "Premium"?`,
  ]);
});

test("a misspelt enum value suggests the closest allowed value", () => {
  const c = base();
  c["release-infra:github"].repositories[0].visibility = "privat";
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].visibility: must be one of "public", "private", "internal", got string "privat"; did you mean "private"?`,
  ]);
});

const GITHUB_TOKEN_VALUE = "ghp_R2d2C3poB88AsWx9qLmZ0kTyU7vHn4Jf1EeP";

test("a token pasted into a secrets list is an error that never repeats it", () => {
  const c = base();
  c["release-infra:github"].repositories[0].environments[0].secrets = [GITHUB_TOKEN_VALUE];
  const lines = problems(c);
  assert.deepEqual(lines, [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].secrets[0]: looks like a GitHub token, not a secret name (not shown); list the name here and set the value with pulumi config set --secret --path 'release-infra:secrets.NAME'",
  ]);
  assert.ok(!lines.join("\n").includes(GITHUB_TOKEN_VALUE));
});

test("a token used as a key of release-infra:secrets is never repeated", () => {
  const c = base();
  Object.assign(c["release-infra:secrets"], { [GITHUB_TOKEN_VALUE]: "plain" });
  const lines = problems(c);
  assert.equal(lines.length, 1);
  assert.ok(!lines.join("\n").includes(GITHUB_TOKEN_VALUE), lines.join("\n"));
  assert.match(lines[0], /^Pulumi\.prod\.yaml: release-infra:secrets\.<key that may be a secret, not shown>: key \(not shown: it may be a secret\) /);
});

test("a value of the wrong type that may be a secret is described without repeating it", () => {
  const c = base();
  Object.assign(c["release-infra:azure"].registry, { sku: GITHUB_TOKEN_VALUE });
  const [line] = problems(c);
  assert.equal(line, `Pulumi.prod.yaml: release-infra:azure.registry.sku: must be one of "Basic", "Standard", "Premium", got a string that may be a secret (not shown)`);
});

test("a Slack webhook URL in variables is an error naming the key, not the URL", () => {
  const c = base();
  const url = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx";
  Object.assign(c["release-infra:github"].repositories[0].environments[0], { variables: { NOTIFY_URL: url } });
  const lines = problems(c);
  assert.deepEqual(lines, [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].variables.NOTIFY_URL: its value looks like a Slack webhook URL (the URL is the credential) (not shown): variables are stored and shown in plain text (in the plan, the review comment and the repository's settings); list NOTIFY_URL under secrets instead and set the value with pulumi config set --secret --path 'release-infra:secrets.NOTIFY_URL', or, if it is no credential, list it under notSecret",
  ]);
  assert.ok(!lines.join("\n").includes("abcdefghijklmnopqrstuvwx"));
});

test("a URL with a password or a token in repository variables is an error", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { variables: { DATABASE_URL: "postgres://app:s3cret@db.internal:5432/app", NPM_KEY: `x ${GITHUB_TOKEN_VALUE}` } });
  const lines = problems(c);
  assert.deepEqual(
    lines.map((l) => l.replace(/ \(not shown\).*/, "")),
    [
      "Pulumi.prod.yaml: release-infra:github.repositories[shop].variables.DATABASE_URL: its value looks like a URL with a password",
      "Pulumi.prod.yaml: release-infra:github.repositories[shop].variables.NPM_KEY: its value looks like a GitHub token",
    ],
  );
  assert.ok(!/s3cret|ghp_/.test(lines.join("\n")));
});

test("ordinary variable values pass: URLs without credentials, ids, numbers", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0].environments[0], {
    variables: { HEALTH_URL: "https://shop.acme.example/health?probe=1", TENANT: "6dae42f8-4368-4678-94ff-3960e28e3630", RETRIES: "5", COMMIT: "0123456789abcdef0123456789abcdef01234567" },
  });
  assert.deepEqual(problems(c), []);
});

// ---------------------------------------------------------------------------------------------
// GitHub rules: deployment patterns, plans, limits, required checks

test("deployFrom patterns written as full refs never match and are errors naming the short name to write", () => {
  const c = base();
  c["release-infra:github"].repositories[0].environments[0].deployFrom = { branches: ["refs/heads/main", "refs/tags/v1"], tags: ["refs/tags/v*", "~DEFAULT_BRANCH"] } as never;
  const at = "Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].deployFrom";
  assert.deepEqual(problems(c), [
    `${at}.branches[0]: "refs/heads/main" never matches: deployment policies match short branch names; write "main"`,
    `${at}.branches[1]: never matches: deployment policies match short branch names; "refs/tags/v1" is a tag ref: list "v1" under deployFrom.tags`,
    `${at}.tags[0]: "refs/tags/v*" never matches: deployment policies match short tag names; write "v*"`,
    `${at}.tags[1]: "~DEFAULT_BRANCH" never matches: deployment policies match short tag names; ~DEFAULT_BRANCH is a ruleset token; name the tags (e.g. v*) that may deploy`,
  ]);
});

test("internal visibility outside GitHub Enterprise is an error", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { visibility: "internal", plan: "team" });
  c["release-infra:github"].repositories[0].environments[0] = { ...c["release-infra:github"].repositories[0].environments[0], reviewers: undefined, waitMinutes: undefined } as never;
  assert.deepEqual(problems(c), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].visibility: "internal" exists only on GitHub Enterprise (this repository's plan is team): internal repositories belong to organisations of an enterprise account`,
  ]);
});

test("more secrets than GitHub stores per repository or environment are errors", () => {
  const c = base();
  const names = Array.from({ length: 101 }, (_, i) => `SECRET_${i}`);
  const repo = c["release-infra:github"].repositories[0];
  Object.assign(repo, { secrets: names });
  Object.assign(repo.environments[0], { secrets: names });
  Object.assign(c["release-infra:secrets"], Object.fromEntries(names.map((n) => [n, { secure: "v1:AAAA" }])));
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].secrets: lists 101 secrets; GitHub stores at most 100 secrets per repository",
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].secrets: lists 101 secrets; GitHub stores at most 100 secrets per environment",
  ]);
});

test("an environment with access counts the wired variables against GitHub's 100 variables per environment", () => {
  const c = base();
  const variables = Object.fromEntries(Array.from({ length: 90 }, (_, i) => [`SETTING_${i}`, "x"]));
  Object.assign(c["release-infra:github"].repositories[0].environments[0], { variables });
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].variables: lists 90 variables and release-infra sets up to 13 wired ones; GitHub stores at most 100 variables per environment",
  ]);
});

test("a variable above GitHub's 48 KB is an error that gives its size, not its value", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { variables: { BANNER: "a ".repeat(25000) } });
  assert.deepEqual(problems(c), ["Pulumi.prod.yaml: release-infra:github.repositories[shop].variables: BANNER is 50000 bytes; GitHub accepts variables of at most 48 KB (49152 bytes)"]);
});

test("repository variables beyond the 256 KB a workflow run receives are an error", () => {
  const c = base();
  const variables = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`PART_${i}`, "b ".repeat(24000)]));
  Object.assign(c["release-infra:github"].repositories[0], { variables });
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].variables: total 288000 bytes; a workflow run receives repository and organisation variables only up to 256 KB together, the rest silently missing",
  ]);
});

test("two variable names that differ only in case are one variable on GitHub and an error", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { variables: { NODE_VERSION: "22", node_version: "20" } });
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].variables: node_version and NODE_VERSION are one variable on GitHub, which compares variable names case-insensitively; keep one",
  ]);
});

test("a required check is a name (reported by GitHub Actions) or { context, app } with an app id or any", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], {
    rulesets: [{ name: "main", branches: ["main"], requiredApprovals: 1, requiredChecks: ["test", { context: "codecov/project", app: 254 }, { context: "jenkins", app: "any" }, { context: "lint" }] }],
  });
  const { config } = parseStackConfig(c, { file: "Pulumi.prod.yaml", stack: "prod", source: "offline-plan" });
  assert.deepEqual(config.github?.repositories[0].rulesets[0].requiredChecks, [
    { context: "test", app: "github-actions" },
    { context: "codecov/project", app: 254 },
    { context: "jenkins", app: "any" },
    { context: "lint", app: "github-actions" },
  ]);
  Object.assign(c["release-infra:github"].repositories[0], { rulesets: [{ name: "main", branches: ["main"], requiredChecks: [{ context: "test", app: "circleci" }] }] });
  assert.equal(problems(c).length, 1);
});

// ---------------------------------------------------------------------------------------------
// Adoption keys

test("adopt on an existing registry is rejected: the stack that owns it adopts it", () => {
  const v = base();
  v["release-infra:azure"].registry = { name: "acmeprodacr", existing: true, resourceGroup: "acme-release-prod", adopt: true } as never;
  assert.deepEqual(problems(v), [
    "Pulumi.prod.yaml: release-infra:azure.registry.adopt: true cannot be set on an existing registry: another stack owns it (adopt it in that stack, or set existing: false to own it here)",
  ]);
});

test("adopting the registry without its resource group is rejected: the group exists if the registry does", () => {
  const v = base();
  v["release-infra:azure"].registry = { ...v["release-infra:azure"].registry, adopt: true } as never;
  assert.deepEqual(problems(v), [
    "Pulumi.prod.yaml: release-infra:azure.adoptResourceGroup: must be true when registry.adopt is and the registry is in the stack's resource group: registry acmeprodacr exists in resource group acme-release-prod, so the group exists too (or set registry.resourceGroup to the group it lives in)",
  ]);
  Object.assign(v["release-infra:azure"], { adoptResourceGroup: true });
  assert.deepEqual(problems(v), []);
});

test("a registry adopted where it lives, in a resource group of its own, needs no adoption of the stack's group", () => {
  const v = base();
  v["release-infra:azure"].registry = { ...v["release-infra:azure"].registry, adopt: true, resourceGroup: "acme-shared-registries" } as never;
  assert.deepEqual(problems(v), []);
});

test("a purge task on a registry without public network access is rejected: ACR Tasks would not reach it", () => {
  const v = base();
  v["release-infra:azure"].registry = { name: "acmeprodacr", sku: "Premium", publicNetworkAccess: "Disabled", purge: { schedule: "0 3 * * *", olderThanDays: 7 } } as never;
  assert.deepEqual(problems(v), [
    "Pulumi.prod.yaml: release-infra:azure.registry.purge: cannot run on a registry with publicNetworkAccess Disabled: ACR Tasks reach such a registry only from a dedicated agent pool in its network, which this program does not create",
  ]);
});

test("publicNetworkAccess Disabled on a registry below Premium is rejected", () => {
  const v = base();
  v["release-infra:azure"].registry = { name: "acmeprodacr", sku: "Standard", publicNetworkAccess: "Disabled" } as never;
  assert.deepEqual(problems(v), [
    `Pulumi.prod.yaml: release-infra:azure.registry.publicNetworkAccess: "Disabled" requires sku Premium (this registry is Standard): private endpoints and network rules are Premium features`,
  ]);
});

test("adoptAcrPull on a cluster that does not pull from the registry is rejected", () => {
  const v = base();
  Object.assign(v["release-infra:azure"].clusters[0], { pullFromRegistry: false, adoptAcrPull: "0b1c2d3e-0000-4000-8000-000000000001" });
  assert.deepEqual(problems(v), [
    `Pulumi.prod.yaml: release-infra:azure.clusters[acme-prod-aks].adoptAcrPull: "0b1c2d3e-0000-4000-8000-000000000001" requires pullFromRegistry: true (it adopts the kubelet's AcrPull on this stack's registry)`,
  ]);
});

test("adoptAcrPull must be a role assignment name (a lowercase GUID)", () => {
  const v = base();
  Object.assign(v["release-infra:azure"].clusters[0], { adoptAcrPull: "AcrPull" });
  assert.match(problems(v).join("\n"), /clusters\[acme-prod-aks\]\.adoptAcrPull: .*must be a role assignment name: a lowercase GUID/);
});

test("adoptVariables may list only variables the repository declares", () => {
  const v = base();
  Object.assign(v["release-infra:github"].repositories[0], { variables: { LOG_LEVEL: "info" }, adoptVariables: ["LOG_LEVL"] });
  assert.deepEqual(problems(v), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].adoptVariables[0]: "LOG_LEVL" is not one of this repository's variables (declared: LOG_LEVEL); list only variables you declare, to take them over`,
  ]);
});

test("adopting a variable of an environment the stack creates is rejected: a new environment has none", () => {
  const v = base();
  Object.assign(v["release-infra:github"].repositories[0].environments[0], { variables: { URL: "https://shop.acme.example" }, adoptVariables: ["URL"] });
  assert.deepEqual(problems(v), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].adoptVariables[0]: "URL" adopts a variable of an environment this stack creates: set adopt: true on the environment as well (a new environment has no variables)`,
  ]);
});

test("a retired secret that is also managed is rejected, compared case-insensitively", () => {
  const v = base();
  Object.assign(v["release-infra:github"].repositories[0], { secrets: ["NPM_TOKEN"], retiredSecrets: ["npm_token"] });
  v["release-infra:secrets"] = { ...v["release-infra:secrets"], NPM_TOKEN: { secure: "v1:AAAA" } } as never;
  assert.deepEqual(problems(v), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].retiredSecrets[0]: "npm_token" is also listed under secrets; a secret is either managed here or retired`,
  ]);
});

test("a ruleset's adopt is its numeric id", () => {
  const v = base();
  Object.assign(v["release-infra:github"].repositories[0], { rulesets: [{ name: "protect-main", branches: ["main"], requiredApprovals: 1, adopt: 0 }] });
  assert.deepEqual(problems(v), ["Pulumi.prod.yaml: release-infra:github.repositories[shop].rulesets[protect-main].adopt: must be greater than 0, got number 0"]);
});

// ---------------------------------------------------------------------------------------------
// Secrets never echoed, credentials never plain text (issue 24)

/** The problems of `c`, asserting that none repeats any of `secrets`. */
function problemsHiding(c: Record<string, unknown>, ...secrets: string[]): string[] {
  const lines = problems(c);
  for (const secret of secrets) assert.ok(!lines.join("\n").includes(secret), `${secret} printed in:\n${lines.join("\n")}`);
  return lines;
}

const SECRETS_AT = "Pulumi.prod.yaml: release-infra:github.repositories[shop].secrets[0]";
const STORE = "list the name here and set the value with pulumi config set --secret --path 'release-infra:secrets.NAME'";

test("a Slack webhook URL pasted behind a NAME= prefix in secrets is refused without repeating it", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { secrets: ["SLACK_WEBHOOK=https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx"] });
  assert.deepEqual(problemsHiding(c, "hooks.slack.com", "abcdefghijklmnopqrstuvwx"), [
    `${SECRETS_AT}: looks like a Slack webhook URL (the URL is the credential), not a secret name (not shown); ${STORE}`,
  ]);
});

test("a database URL with a password pasted behind a NAME= prefix in secrets is refused without repeating it", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { secrets: ["DATABASE_URL=postgres://admin:S3cretPass@db.internal:5432/app"] });
  assert.deepEqual(problemsHiding(c, "S3cretPass", "DATABASE_URL="), [`${SECRETS_AT}: looks like a URL with a password, not a secret name (not shown); ${STORE}`]);
});

test("a passphrase pasted as NAME = value in secrets breaks the name rule and is not repeated", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { secrets: ["DEPLOY_KEY = correct-horse-battery-staple"] });
  assert.deepEqual(problemsHiding(c, "correct-horse"), [
    `${SECRETS_AT}: secret names must be letters, digits or '_' and must not start with a digit (not shown: it may be a pasted secret)`,
  ]);
});

test("a lowercase 32-hex API key is refused as a secret name, everywhere it is used, without repeating it", () => {
  const c = base();
  const key = "deadbeef0c1a2b3c4d5e6f708192a3b4";
  Object.assign(c["release-infra:github"].repositories[0], { secrets: [key], retiredSecrets: [key] });
  Object.assign(c["release-infra:secrets"], { [key]: { secure: "v1:AAAA" } });
  const lines = problemsHiding(c, key).filter((l) => l.includes("looks like key material (long hex or base64, random-looking), not a secret name (not shown)"));
  assert.deepEqual(
    lines.map((l) => l.replace(/^Pulumi\.prod\.yaml: /, "").replace(/: .*/, "")),
    ["release-infra:github.repositories[shop].secrets[0]", "release-infra:github.repositories[shop].retiredSecrets[0]", "release-infra:secrets.<key that may be a secret, not shown>"],
  );
});

test("an Entra ID client secret pasted into secrets is refused without repeating it", () => {
  const c = base();
  const secret = "Xyz8Q~abcDEF1234ghiJKL5678mnoPQR90stuVWx";
  c["release-infra:github"].repositories[0].environments[0].secrets = [secret];
  assert.deepEqual(problemsHiding(c, secret, "Xyz8Q"), [
    `Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].secrets[0]: looks like an Entra ID client secret, not a secret name (not shown); ${STORE}`,
  ]);
});

test("a variable key holding a password is left out of the key path and the message", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { variables: { "DB_PASSWORD: hunter2": "x" } });
  assert.deepEqual(problemsHiding(c, "hunter2"), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].variables.<key that may be a secret, not shown>: key (not shown: it may be a secret) variable names must be letters, digits or '_' and must not start with a digit (not shown: it may be a pasted secret)",
  ]);
});

test("adoptVariables, retiredSecrets and a secret key that break the name rule are never printed", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { adoptVariables: ["DB_PASSWORD: hunter2"], retiredSecrets: ["TOKEN=s3cr3t-value"] });
  Object.assign(c["release-infra:secrets"], { "API_KEY=s3cr3t-value": { secure: "v1:AAAA" } });
  const lines = problemsHiding(c, "hunter2", "s3cr3t-value");
  assert.deepEqual(
    lines.map((l) => l.replace(/^Pulumi\.prod\.yaml: /, "").replace(/: .*/, "")),
    [
      "release-infra:github.repositories[shop].adoptVariables[0]",
      "release-infra:github.repositories[shop].retiredSecrets[0]",
      "release-infra:github.repositories[shop].adoptVariables[0]",
      "release-infra:secrets.<key that may be a secret, not shown>",
    ],
  );
});

test("the pipeline stack holds no secret: release-infra:secrets there is a config error pointing to gh secret set, never printing the value", () => {
  const lines = problemsHiding(
    {
      "github:owner": "acme",
      "release-infra:stage": "prod",
      "release-infra:pipeline": { githubApps: { writer: { appId: 1 }, reader: { appId: 2 } } },
      "release-infra:secrets": { PIPELINE_WRITER_APP_KEY: "-----BEGIN RSA PRIVATE KEY-----hunter2", PIPELINE_READER_APP_KEY: { secure: "v1:hunter2" } },
    },
    "hunter2",
  );
  assert.ok(
    lines.includes(
      "Pulumi.prod.yaml: release-infra:secrets: cannot be set in the pipeline stack (release-infra:pipeline): its drift reader decrypts every secret of this stack; the GitHub App keys go on each pulumi-* environment with gh secret set (the stack's pipeline.administrator output)",
    ),
    lines.join("\n"),
  );
  assert.ok(!lines.some((l) => l.includes("pulumi config set --secret")), lines.join("\n"));
});

test("a GitHub App's private key named in the pipeline section is an unknown key: the keys are not in any stack", () => {
  const lines = problems({
    "github:owner": "acme",
    "release-infra:stage": "prod",
    "release-infra:pipeline": { githubApps: { writer: { appId: 1, privateKeySecret: "PIPELINE_WRITER_APP_KEY" }, reader: { appId: 2 } } },
  });
  assert.ok(lines.some((l) => l.startsWith("Pulumi.prod.yaml: release-infra:pipeline.githubApps.writer.privateKeySecret: ")), lines.join("\n"));
});

test("credentials kept as plain-text variables are refused by their names, pointing to secrets", () => {
  const c = base();
  const values = { DB_PASSWORD: "Tr0ub4dor-3-horse", API_KEY: "0123456789abcdef0123456789abcdef", AZURE_CLIENT_SECRET: "Xyz8Q~abcDEF1234ghiJKL5678mnoPQR90stuVWx", DATADOG_API_KEY: "3f9a0c1a2b3c4d5e6f708192a3b4c5d6" };
  Object.assign(c["release-infra:github"].repositories[0], { variables: values });
  const lines = problemsHiding(c, ...Object.values(values));
  const at = "Pulumi.prod.yaml: release-infra:github.repositories[shop].variables";
  const fix = (name: string) =>
    `variables are stored and shown in plain text (in the plan, the review comment and the repository's settings); list ${name} under secrets instead and set the value with pulumi config set --secret --path 'release-infra:secrets.${name}', or, if it is no credential, list it under notSecret`;
  assert.deepEqual(lines, [
    `${at}.DB_PASSWORD: its name says it holds a credential (PASSWORD): ${fix("DB_PASSWORD")}`,
    `${at}.API_KEY: its name says it holds a credential (API_KEY): ${fix("API_KEY")}`,
    `${at}.AZURE_CLIENT_SECRET: its name says it holds a credential (SECRET): ${fix("AZURE_CLIENT_SECRET")}`,
    `${at}.DATADOG_API_KEY: its name says it holds a credential (API_KEY): ${fix("DATADOG_API_KEY")}`,
  ]);
});

test("a plain-text variable whose value looks like a credential or a random token is refused under any name", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0].environments[0], {
    variables: { AZURE_CLIENT: "Xyz8Q~abcDEF1234ghiJKL5678mnoPQR90stuVWx", DD: "kT9vQ2mX7pL4sR8wZ3nB6yH1" },
  });
  const lines = problemsHiding(c, "Xyz8Q~", "kT9vQ2mX7pL4sR8wZ3nB6yH1");
  assert.deepEqual(
    lines.map((l) => l.replace(/ \(not shown\).*/, "")),
    [
      "Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].variables.AZURE_CLIENT: its value looks like an Entra ID client secret",
      "Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].variables.DD: its value looks like a random token or key",
    ],
  );
});

test("notSecret lets a variable that only looks like a credential stay plain text", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { variables: { TOKEN_ENDPOINT: "https://login.acme.example/oauth2/token" }, notSecret: ["TOKEN_ENDPOINT"] });
  Object.assign(c["release-infra:github"].repositories[0].environments[0], { variables: { PUBLIC_SIGNING_KEY_ID: "key-2024" }, notSecret: ["PUBLIC_SIGNING_KEY_ID"] });
  assert.deepEqual(problems(c), []);
});

test("notSecret may list only variables declared beside it", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { variables: { NODE_VERSION: "22" }, notSecret: ["API_TOKEN"] });
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].notSecret[0]: \"API_TOKEN\" is not one of the variables beside it (declared: NODE_VERSION); list only variables that look like credentials and are not",
  ]);
});

test("a deployFrom pattern listed twice is refused (two deployment policies of one URN)", () => {
  const c = base();
  c["release-infra:github"].repositories[0].environments[0].deployFrom = { branches: ["main", "main"], tags: ["v*", "v*"] } as never;
  const at = "Pulumi.prod.yaml: release-infra:github.repositories[shop].environments[production].deployFrom";
  assert.deepEqual(problems(c), [
    `${at}.branches[1]: duplicate branch pattern "main" (listed twice); branch patterns must be unique`,
    `${at}.tags[1]: duplicate tag pattern "v*" (listed twice); tag patterns must be unique`,
  ]);
});

test("stagedPublishing exists only on npm: PyPI and NuGet have no separate approval step", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0].trustedPublishing[0], { stagedPublishing: true });
  assert.deepEqual(problems(c), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].trustedPublishing[acme-sdk].stagedPublishing: true is only for npm: PyPI has no separate approval step for trusted publishing (npm's staged publishing is the only one); give the environment reviewers instead",
  ]);
});

test("credential words in a variable's name are found at underscores and at case changes", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { variables: { dbPassword: "x", NPM_TOKEN: "x", SQL_CONNECTION_STRING: "x", CACHE_KEY: "x", TOKENIZER_MODE: "x" } });
  assert.deepEqual(
    problems(c).map((l) => /variables\.(\w+): its name says it holds a credential \((\w+)\)/.exec(l)?.slice(1)),
    [
      ["dbPassword", "PASSWORD"],
      ["NPM_TOKEN", "TOKEN"],
      ["SQL_CONNECTION_STRING", "CONNECTION_STRING"],
    ],
  );
});

test("a notSecret entry that breaks the name rule is not printed either", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { notSecret: ["PW = hunter2"] });
  assert.deepEqual(problemsHiding(c, "hunter2"), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].notSecret[0]: variable names must be letters, digits or '_' and must not start with a digit (not shown: it may be a pasted secret)",
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].notSecret[0]: is not one of the variables beside it (declared: none); list only variables that look like credentials and are not",
  ]);
});

test("a secret pasted where a list of names belongs (no brackets) is described, not repeated", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { secrets: "DEPLOY_KEY = correct-horse-battery-staple" });
  assert.deepEqual(problemsHiding(c, "correct-horse"), [
    "Pulumi.prod.yaml: release-infra:github.repositories[shop].secrets: must be a list, got a string (not shown: it may be a secret)",
  ]);
});

test("a pasted secret listed twice under secrets is reported as a duplicate without repeating it", () => {
  const c = base();
  Object.assign(c["release-infra:github"].repositories[0], { secrets: ["TOKEN=s3cr3t-value", "TOKEN=s3cr3t-value"] });
  const lines = problemsHiding(c, "s3cr3t-value");
  assert.ok(lines.includes("Pulumi.prod.yaml: release-infra:github.repositories[shop].secrets[1]: duplicate secret (listed twice); secrets must be unique (case-insensitive)"), lines.join("\n"));
});
