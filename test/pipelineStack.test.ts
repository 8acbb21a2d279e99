import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { readStackSet } from "../config/stackSet";
import { NAMESPACE_DEPLOYER_PERMISSIONS, namespaceDeployerRoleId } from "../components/aksCluster";
import { AZURE_ROLES, CUSTOM_ROLES, derivePipeline, roleAssignmentCondition, type AzureGrant, type Grant } from "../components/pipelineGrants";
import { PipelineStack } from "../components/pipelineStack";
import { SUBSCRIPTION_ID } from "../scripts/mocks";
import { build, ofType, valueOf, type Built } from "./harness";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";

/** This suite's stack files: contoso's dev, staging and prod, and their pipeline stack. */
const FIXTURES = path.join(__dirname, "fixtures", "pipeline");
const set = readStackSet(FIXTURES);
const pipeline = set.pipeline?.config.pipeline ?? assert.fail("the fixture folder has a pipeline stack");
const plan = derivePipeline(set.stacks, pipeline);

/** Role names by id: the built-in roles, and each deploy stack's namespace deployer role for its clusters. */
const ROLE_NAMES = new Map<string, string>([
  ...Object.entries(AZURE_ROLES).map(([name, id]): [string, string] => [id, name]),
  ...set.stacks.flatMap((s) => (s.config.azure?.clusters ?? []).map((c): [string, string] => [namespaceDeployerRoleId(c, s.config.azure?.resourceGroup ?? ""), `${s.stack}'s namespace deployer`])),
]);
const CLUSTER_NONPROD = "/resourceGroups/contoso-aks-nonprod/providers/Microsoft.ContainerService/managedClusters/contoso-nonprod-aks";
const CLUSTER_PROD = "/resourceGroups/contoso-aks-prod/providers/Microsoft.ContainerService/managedClusters/contoso-prod-aks";
const STATE = "/resourceGroups/contoso-pulumi-state/providers/Microsoft.Storage/storageAccounts/contosopulumistate/blobServices/default/containers/pulumi-state";
const KEY = "/resourceGroups/contoso-pulumi-state/providers/Microsoft.KeyVault/vaults/contoso-pulumi/keys/pulumi";

/** The built-in roles a role-assignment condition allows, by name. */
function allowedRoles(condition: string): string[] {
  const [write] = condition.split(" AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}))");
  const ids = /GuidEquals \{([^}]*)\}/.exec(write)?.[1].split(", ") ?? [];
  return ids.map((id) => ROLE_NAMES.get(id) ?? id).sort();
}

/** One line per grant: `<environment> <role> <scope> [only <roles>]`. */
function lines(stack: string): string[] {
  return plan.grants
    .filter((g) => g.stack === stack)
    .map((g) => (g.cloud === "azure" ? `${g.environment} ${g.role} ${g.scope}${g.condition ? ` only ${allowedRoles(g.condition).join("+")}` : ""}` : `${g.environment} ${g.role} projects/${g.project}${g.condition ? " if" : ""}`))
    .sort();
}

const GCP_WRITER = (env: string, project: string) => [
  `${env} roles/compute.loadBalancerAdmin projects/${project}`,
  `${env} roles/iam.roleAdmin projects/${project}`,
  `${env} roles/iam.serviceAccountAdmin projects/${project}`,
  `${env} roles/iam.workloadIdentityPoolAdmin projects/${project}`,
  `${env} roles/resourcemanager.projectIamAdmin projects/${project} if`,
  `${env} roles/storage.admin projects/${project}`,
];
const GCP_READER = (env: string, project: string) => [`${env} roles/iam.securityReviewer projects/${project}`, `${env} roles/viewer projects/${project}`];
const STATE_AND_KEY = (stack: string) => [
  `pulumi-${stack} Key Vault Crypto User ${KEY}`,
  `pulumi-${stack} Storage Blob Data Contributor ${STATE}`,
  `pulumi-${stack}-read Key Vault Crypto User ${KEY}`,
  `pulumi-${stack}-read Storage Blob Data Reader ${STATE}`,
];

test("dev: its group, its registry roles, its cluster and namespace, its GCP project, state and key", () => {
  assert.deepEqual(
    lines("dev"),
    [
      `pulumi-dev Azure Kubernetes Service Cluster User Role ${CLUSTER_NONPROD}`,
      "pulumi-dev Contributor /resourceGroups/contoso-release-dev",
      `pulumi-dev Role Based Access Control Administrator ${CLUSTER_NONPROD} only Azure Kubernetes Service Cluster User Role`,
      `pulumi-dev Role Based Access Control Administrator ${CLUSTER_NONPROD}/namespaces/shop-dev only dev's namespace deployer`,
      "pulumi-dev Role Based Access Control Administrator /resourceGroups/contoso-release-dev only AcrPull+AcrPush",
      `pulumi-dev namespace-creator ${CLUSTER_NONPROD}`,
      `pulumi-dev namespace-manager ${CLUSTER_NONPROD}/namespaces/shop-dev`,
      `pulumi-dev-read Azure Kubernetes Service Cluster User Role ${CLUSTER_NONPROD}`,
      `pulumi-dev-read Azure Kubernetes Service RBAC Reader ${CLUSTER_NONPROD}`,
      `pulumi-dev-read Reader ${CLUSTER_NONPROD}`,
      "pulumi-dev-read Reader /resourceGroups/contoso-release-dev",
      ...STATE_AND_KEY("dev"),
      ...GCP_WRITER("pulumi-dev", "contoso-web-dev"),
      ...GCP_READER("pulumi-dev-read", "contoso-web-dev"),
    ].sort(),
  );
});

test("staging: no GCP project, so no GCP roles", () => {
  assert.deepEqual(
    lines("staging"),
    [
      `pulumi-staging Azure Kubernetes Service Cluster User Role ${CLUSTER_NONPROD}`,
      "pulumi-staging Contributor /resourceGroups/contoso-release-staging",
      `pulumi-staging Role Based Access Control Administrator ${CLUSTER_NONPROD} only Azure Kubernetes Service Cluster User Role`,
      `pulumi-staging Role Based Access Control Administrator ${CLUSTER_NONPROD}/namespaces/shop-staging only staging's namespace deployer`,
      "pulumi-staging Role Based Access Control Administrator /resourceGroups/contoso-release-staging only AcrPull+AcrPush",
      `pulumi-staging namespace-creator ${CLUSTER_NONPROD}`,
      `pulumi-staging namespace-manager ${CLUSTER_NONPROD}/namespaces/shop-staging`,
      `pulumi-staging-read Azure Kubernetes Service Cluster User Role ${CLUSTER_NONPROD}`,
      `pulumi-staging-read Azure Kubernetes Service RBAC Reader ${CLUSTER_NONPROD}`,
      `pulumi-staging-read Reader ${CLUSTER_NONPROD}`,
      "pulumi-staging-read Reader /resourceGroups/contoso-release-staging",
      ...STATE_AND_KEY("staging"),
    ].sort(),
  );
});

test("prod: promotion from staging's registry assigns only Reader there (the importer role stays on its own registry), on the group the pipeline creates", () => {
  assert.deepEqual(
    lines("prod"),
    [
      `pulumi-prod Azure Kubernetes Service Cluster User Role ${CLUSTER_PROD}`,
      "pulumi-prod Contributor /resourceGroups/contoso-release-prod",
      "pulumi-prod Reader /resourceGroups/contoso-release-staging",
      `pulumi-prod Role Based Access Control Administrator ${CLUSTER_PROD} only Azure Kubernetes Service Cluster User Role`,
      `pulumi-prod Role Based Access Control Administrator ${CLUSTER_PROD}/namespaces/shop only prod's namespace deployer`,
      "pulumi-prod Role Based Access Control Administrator /resourceGroups/contoso-release-prod only AcrPull+Container Registry Data Importer and Data Reader",
      "pulumi-prod Role Based Access Control Administrator /resourceGroups/contoso-release-staging only Reader",
      `pulumi-prod namespace-creator ${CLUSTER_PROD}`,
      `pulumi-prod namespace-manager ${CLUSTER_PROD}/namespaces/shop`,
      `pulumi-prod-read Azure Kubernetes Service Cluster User Role ${CLUSTER_PROD}`,
      `pulumi-prod-read Azure Kubernetes Service RBAC Reader ${CLUSTER_PROD}`,
      `pulumi-prod-read Reader ${CLUSTER_PROD}`,
      "pulumi-prod-read Reader /resourceGroups/contoso-release-prod",
      "pulumi-prod-read Reader /resourceGroups/contoso-release-staging",
      ...STATE_AND_KEY("prod"),
      ...GCP_WRITER("pulumi-prod", "contoso-web-prod"),
      ...GCP_READER("pulumi-prod-read", "contoso-web-prod"),
    ].sort(),
  );
});

/** The scopes a stack's config names, read from the config here rather than from the derivation. */
function managedScopes(stack: string): string[] {
  const config = set.stacks.find((s) => s.stack === stack)?.config;
  const azure = config?.azure;
  if (!azure) return [];
  const registries = [...(azure.registry?.importFrom ?? []), ...(azure.registry?.existing ? [{ name: azure.registry.name, resourceGroup: azure.registry.resourceGroup ?? azure.resourceGroup }] : [])];
  return [
    `/resourceGroups/${azure.resourceGroup}`,
    ...registries.flatMap((r) => [`/resourceGroups/${r.resourceGroup}`, `/resourceGroups/${r.resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${r.name}`]),
    ...azure.clusters.flatMap((c) => {
      const cluster = `/resourceGroups/${c.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${c.name}`;
      return [cluster, ...c.namespaces.map((n) => `${cluster}/namespaces/${n.name}`)];
    }),
    STATE,
    KEY,
  ];
}

test("no identity gets a role on a scope its stack's config does not name, and none on a subscription", () => {
  for (const stack of set.stacks) {
    const allowed = new Set(managedScopes(stack.stack));
    for (const g of plan.grants.filter((g): g is AzureGrant => g.cloud === "azure" && g.stack === stack.stack)) {
      assert.ok(allowed.has(g.scope), `${g.environment}: ${g.role} on ${g.scope}`);
      assert.match(g.scope, /^\/resourceGroups\/[^/]+/);
    }
    for (const g of plan.grants.filter((g) => g.cloud === "gcp" && g.stack === stack.stack)) {
      assert.equal(g.cloud === "gcp" && g.project, stack.config.cdn?.project);
    }
  }
});

test("readers can read and decrypt but never write, assign roles or touch Kubernetes objects", () => {
  const readerRoles = new Set(plan.grants.filter((g) => g.access === "read").map((g) => g.role));
  assert.deepEqual([...readerRoles].sort(), [
    "Azure Kubernetes Service Cluster User Role",
    "Azure Kubernetes Service RBAC Reader",
    "Key Vault Crypto User",
    "Reader",
    "Storage Blob Data Reader",
    "roles/iam.securityReviewer",
    "roles/viewer",
  ]);
  assert.ok(plan.grants.filter((g) => g.access === "read").every((g) => g.environment.endsWith("-read")));
});

test("the role-assignment right is conditioned to the listed roles for service principals, on write and on delete", () => {
  assert.equal(
    roleAssignmentCondition([AZURE_ROLES.AcrPush, AZURE_ROLES.AcrPull]),
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (" +
      "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {7f951dda-4ed3-4680-a7ca-43fe172d538d, 8311e382-0749-4cb8-b61a-304f252e45ec} AND " +
      "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'})) AND " +
      "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (" +
      "@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {7f951dda-4ed3-4680-a7ca-43fe172d538d, 8311e382-0749-4cb8-b61a-304f252e45ec} AND " +
      "@Resource[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}))",
  );
  const unconditioned = plan.grants.filter((g) => g.role === "Role Based Access Control Administrator" && !(g.cloud === "azure" && g.condition));
  assert.deepEqual(unconditioned, []);
  const projectIam = plan.grants.filter((g) => g.role === "roles/resourcemanager.projectIamAdmin");
  assert.ok(projectIam.length > 0);
  const bucketOf = (project: string) => set.stacks.find((s) => s.config.cdn?.project === project)?.config.cdn?.bucket ?? "";
  for (const g of projectIam) {
    const project = g.cloud === "gcp" ? g.project : "";
    assert.equal(g.cloud === "gcp" && g.condition?.expression, `api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['projects/${project}/roles/cdnInvalidator_${bucketOf(project).replace(/-/g, "_")}'])`);
  }
});

test("a registry outside the pipeline's resource groups is granted on the registry itself", () => {
  const dev = set.stacks.find((s) => s.stack === "dev");
  assert.ok(dev?.config.azure?.registry);
  const shared = { ...dev, config: { ...dev.config, azure: { ...dev.config.azure, registry: { ...dev.config.azure.registry, existing: true, resourceGroup: "platform-shared" } } } };
  const grants = derivePipeline([shared], pipeline).grants.filter((g): g is AzureGrant => g.cloud === "azure" && g.scope.includes("platform-shared"));
  assert.deepEqual(
    grants.map((g) => `${g.environment} ${g.role} ${g.scope}`).sort(),
    [
      "pulumi-dev Reader /resourceGroups/platform-shared/providers/Microsoft.ContainerRegistry/registries/contosodevacr",
      "pulumi-dev Role Based Access Control Administrator /resourceGroups/platform-shared/providers/Microsoft.ContainerRegistry/registries/contosodevacr",
      "pulumi-dev-read Reader /resourceGroups/platform-shared/providers/Microsoft.ContainerRegistry/registries/contosodevacr",
    ],
  );
});

test("a registry adopted in a resource group of its own is managed and granted on the registry itself, never on its group", () => {
  const dev = set.stacks.find((s) => s.stack === "dev");
  assert.ok(dev?.config.azure?.registry);
  const adopted = { ...dev, config: { ...dev.config, azure: { ...dev.config.azure, registry: { ...dev.config.azure.registry, adopt: true, resourceGroup: "platform-shared" } } } };
  const grants = derivePipeline([adopted], pipeline).grants.filter((g): g is AzureGrant => g.cloud === "azure" && g.scope.includes("platform-shared"));
  const registry = "/resourceGroups/platform-shared/providers/Microsoft.ContainerRegistry/registries/contosodevacr";
  assert.deepEqual(
    grants.map((g) => `${g.environment} ${g.role} ${g.scope}`).sort(),
    [`pulumi-dev Contributor ${registry}`, `pulumi-dev Role Based Access Control Administrator ${registry}`, `pulumi-dev-read Reader ${registry}`],
  );
});

test("the custom roles hold only namespace, quota, limit range and network policy data actions, and no role-definition right", () => {
  const actions = Object.values(CUSTOM_ROLES).flatMap((r) => r.dataActions);
  assert.deepEqual(Object.values(CUSTOM_ROLES).flatMap((r) => r.actions), []);
  for (const action of actions) assert.match(action, /^Microsoft\.ContainerService\/managedClusters\/(namespaces|resourcequotas|limitranges|networking\.k8s\.io\/networkpolicies)\/(read|write|delete)$/);
  assert.ok(!CUSTOM_ROLES["namespace-creator"].dataActions.some((a) => a.endsWith("/delete")), "deleting any namespace of a shared cluster is not granted cluster-wide");
  assert.deepEqual(plan.customRoles, [
    { key: "namespace-creator", assignableScopes: ["/resourceGroups/contoso-aks-nonprod", "/resourceGroups/contoso-aks-prod"] },
    { key: "namespace-manager", assignableScopes: ["/resourceGroups/contoso-aks-nonprod", "/resourceGroups/contoso-aks-prod"] },
  ]);
});

test("the GCP APIs of every CDN project and of the pipeline's own project are enabled", () => {
  const projects = [...new Set(plan.gcpServices.map((s) => s.project))].sort();
  assert.deepEqual(projects, ["contoso-release-pipelines", "contoso-web-dev", "contoso-web-prod"]);
  for (const project of projects) {
    assert.deepEqual(
      plan.gcpServices.filter((s) => s.project === project).map((s) => s.service).sort(),
      ["cloudresourcemanager.googleapis.com", "compute.googleapis.com", "iam.googleapis.com", "iamcredentials.googleapis.com", "storage.googleapis.com", "sts.googleapis.com"],
    );
  }
});

// ---------------------------------------------------------------------------------------------
// The component under mocks

function buildPipeline() {
  return build(
    () =>
      new PipelineStack("pipeline", {
        owner: "contoso",
        pipeline,
        location: "westeurope",
        tags: { team: "platform" },
        stacks: set.stacks,
        secrets: { PIPELINE_WRITER_APP_KEY: pulumi.secret("w"), PIPELINE_READER_APP_KEY: pulumi.secret("r") },
      }),
    { stack: "pipeline", repositories: { "release-infra": { id: pipeline.repository.id, teams: pipeline.reviewers.teams } } },
  );
}

/** The component, built once for the tests below: they only read what it registered and returned. */
let pipelineBuild: ReturnType<typeof buildPipeline> | undefined;
const built = () => (pipelineBuild ??= buildPipeline());

const byType = (resources: Built[], type: string) => ofType(resources, type);

test("each deploy stack gets pulumi-<stack> (main only; reviewers and no admin bypass in prod) and pulumi-<stack>-read (any ref)", async () => {
  const { resources } = await built();
  const environments = byType(resources, "github:index/repositoryEnvironment:RepositoryEnvironment");
  const summary = environments
    .map((e) => ({
      environment: e.plain.environment,
      branchPolicy: e.plain.deploymentBranchPolicy ?? null,
      reviewers: Array.isArray(e.plain.reviewers) ? e.plain.reviewers.length : 0,
      canAdminsBypass: e.plain.canAdminsBypass ?? null,
    }))
    .sort((a, b) => String(a.environment).localeCompare(String(b.environment)));
  const custom = { customBranchPolicies: true, protectedBranches: false };
  assert.deepEqual(summary, [
    { environment: "pulumi-dev", branchPolicy: custom, reviewers: 0, canAdminsBypass: true },
    { environment: "pulumi-dev-read", branchPolicy: null, reviewers: 0, canAdminsBypass: null },
    { environment: "pulumi-prod", branchPolicy: custom, reviewers: 1, canAdminsBypass: false },
    { environment: "pulumi-prod-read", branchPolicy: null, reviewers: 0, canAdminsBypass: null },
    { environment: "pulumi-staging", branchPolicy: custom, reviewers: 0, canAdminsBypass: true },
    { environment: "pulumi-staging-read", branchPolicy: null, reviewers: 0, canAdminsBypass: null },
  ]);
  const policies = byType(resources, "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy");
  assert.deepEqual(policies.map((p) => `${p.plain.environment} ${p.plain.branchPattern}`).sort(), ["pulumi-dev main", "pulumi-prod main", "pulumi-staging main"]);
  assert.ok(environments.every((e) => e.plain.repository === "release-infra"));
});

test("each environment's Azure identity and GCP service account trust exactly that environment", async () => {
  const { resources } = await built();
  const subjects = byType(resources, "azure-native:managedidentity:FederatedIdentityCredential").map((c) => `${c.plain.resourceName} ${c.plain.subject}`);
  const expected = set.stacks.flatMap((s) =>
    [`pulumi-${s.stack}`, `pulumi-${s.stack}-read`].flatMap((env) => [
      `id-release-infra-${env} repo:contoso/release-infra:environment:${env}`,
      `id-release-infra-${env} repo:contoso@71234567/release-infra@812345690:environment:${env}`,
    ]),
  );
  assert.deepEqual(subjects.sort(), expected.sort());
  assert.ok(byType(resources, "azure-native:managedidentity:UserAssignedIdentity").every((i) => i.plain.resourceGroupName === "contoso-release-pipelines"));
  const gcpTrust = byType(resources, "gcp:serviceaccount/iAMMember:IAMMember").map((m) => String(m.plain.member).replace(/^principal:\/\/iam\.googleapis\.com\/.*\/subject\//, ""));
  assert.deepEqual(
    gcpTrust.sort(),
    ["dev", "prod"].flatMap((s) => [`pulumi-${s}`, `pulumi-${s}-read`].flatMap((env) => [`repo:contoso/release-infra:environment:${env}`, `repo:contoso@71234567/release-infra@812345690:environment:${env}`])).sort(),
  );
  const pool = byType(resources, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider");
  assert.equal(pool.length, 1);
  assert.match(String(pool[0].plain.attributeCondition), /assertion\.repository_id in \["812345690"\]/);
});

test("the role assignments are the derived grants: role, scope and condition, for service principals", async () => {
  const { resources } = await built();
  const assignments = byType(resources, "azure-native:authorization:RoleAssignment");
  const definitions = new Map(byType(resources, "azure-native:authorization:RoleDefinition").map((d) => [String(d.plain.roleDefinitionId), String(d.name).replace(/^pipeline-role-/, "")]));
  const actual = assignments
    .map((a) => {
      const id = String(a.plain.roleDefinitionId).split("/").pop() ?? "";
      const env = String(a.plain.description).replace(/^release-infra pipeline (\S+):.*$/, "$1");
      return `${env} ${ROLE_NAMES.get(id) ?? definitions.get(id) ?? id} ${String(a.plain.scope).replace(`/subscriptions/${SUBSCRIPTION_ID}`, "")} ${a.plain.condition ?? ""}`;
    })
    .sort();
  const expected = plan.grants
    .filter((g): g is AzureGrant => g.cloud === "azure")
    .map((g) => `${g.environment} ${g.role} ${g.scope} ${g.condition ?? ""}`)
    .sort();
  assert.deepEqual(actual, expected);
  assert.ok(assignments.every((a) => a.plain.principalType === "ServicePrincipal"));
  assert.ok(assignments.filter((a) => a.plain.condition).every((a) => a.plain.conditionVersion === "2.0"));
  const gcp = byType(resources, "gcp:projects/iAMMember:IAMMember").map((m) => `${m.plain.project} ${m.plain.role}${m.plain.condition ? " if" : ""}`).sort();
  const expectedGcp = plan.grants.filter((g: Grant) => g.cloud === "gcp").map((g) => `${g.cloud === "gcp" ? g.project : ""} ${g.role}${g.cloud === "gcp" && g.condition ? " if" : ""}`).sort();
  assert.deepEqual(gcp, expectedGcp);
});

test("the deploy stacks' resource groups are created once and never updated or deleted by the pipeline stack", async () => {
  const { resources } = await built();
  const groups = byType(resources, "azure-native:resources:ResourceGroup").filter((g) => g.plain.resourceGroupName !== "contoso-release-pipelines");
  assert.deepEqual(groups.map((g) => g.plain.resourceGroupName).sort(), ["contoso-release-dev", "contoso-release-prod", "contoso-release-staging"]);
  for (const g of groups) {
    assert.equal(g.retainOnDelete, true);
    assert.deepEqual(g.ignoreChanges, ["tags"]);
  }
  const own = byType(resources, "azure-native:resources:ResourceGroup").find((g) => g.plain.resourceGroupName === "contoso-release-pipelines");
  assert.equal(own?.protect, true);
});

test("the workflows' variables are set on each environment, GCP ones only for stacks with a CDN", async () => {
  const { resources } = await built();
  const variables = byType(resources, "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable");
  const of = (env: string) => variables.filter((v) => v.plain.environment === env).map((v) => v.plain.variableName).sort();
  const azure = ["AZURE_CLIENT_ID", "AZURE_SUBSCRIPTION_ID", "AZURE_TENANT_ID", "GH_APP_ID", "PULUMI_BACKEND_URL"];
  assert.deepEqual(of("pulumi-staging"), azure);
  assert.deepEqual(of("pulumi-prod-read"), [...azure, "GCP_SERVICE_ACCOUNT", "GCP_WORKLOAD_IDENTITY_PROVIDER"].sort());
  const backend = variables.find((v) => v.plain.variableName === "PULUMI_BACKEND_URL");
  assert.equal(backend?.plain.value, "azblob://pulumi-state?storage_account=contosopulumistate");
  const appIds = variables.filter((v) => v.plain.variableName === "GH_APP_ID").map((v) => `${v.plain.environment} ${v.plain.value}`).sort();
  assert.ok(appIds.includes("pulumi-prod 1234501") && appIds.includes("pulumi-prod-read 1234502"), appIds.join(", "));
  const secrets = byType(resources, "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret");
  assert.deepEqual(secrets.map((s) => `${s.plain.environment} ${s.plain.secretName} ${s.plain.value}`).sort().slice(0, 2), ["pulumi-dev GH_APP_PRIVATE_KEY [secret]", "pulumi-dev-read GH_APP_PRIVATE_KEY [secret]"]);
});

test("a client id reaches a workflow only once its identity's role assignments exist", async () => {
  const { result } = await built();
  const environments = await valueOf(result.environments);
  assert.match(environments["pulumi-prod"].azureClientId, /^<client-id of id-release-infra-pulumi-prod>$/);
  assert.match(environments["pulumi-prod-read"].gcpServiceAccount ?? "", /@contoso-release-pipelines\.iam\.gserviceaccount\.com$/);
  assert.equal(environments["pulumi-staging"].gcpServiceAccount, undefined);
});

// ---------------------------------------------------------------------------------------------
// Config errors and the plan

function folderWith(changes: Record<string, (text: string) => string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pipeline-"));
  for (const f of fs.readdirSync(FIXTURES)) {
    const content = fs.readFileSync(path.join(FIXTURES, f), "utf8");
    fs.writeFileSync(path.join(dir, f), changes[f] ? changes[f](content) : content);
  }
  return dir;
}

test("a prod stack on a repository whose plan has no required reviewers is a config error naming the rule", () => {
  const dir = folderWith({ "Pulumi.pipeline.yaml": (t) => t.replace("plan: enterprise", "plan: team") });
  assert.throws(() => readStackSet(dir), (err: Error) => {
    assert.match(err.message, /^Pulumi\.pipeline\.yaml: release-infra:pipeline\.repository: Pulumi\.prod\.yaml deploy\(s\) through an environment that must require a reviewer, which a private repository of GitHub's team plan cannot/m);
    return true;
  });
});

test("a deploy stack with Azure that does not adopt the resource group the pipeline stack creates is a config error", () => {
  const dir = folderWith({ "Pulumi.dev.yaml": (t) => t.replace(/^ *adoptResourceGroup: true.*\n/m, "") });
  assert.throws(() => readStackSet(dir), (err: Error) => {
    assert.match(err.message, /^Pulumi\.dev\.yaml: release-infra:azure\.adoptResourceGroup: must be true: Pulumi\.pipeline\.yaml creates resource group \S+, and this stack imports it \(docs\/migration\.md\)$/m);
    return true;
  });
});

test("a CDN stack without a pipeline GCP project, or pipeline settings for a stack that does not exist, are config errors", () => {
  const dir = folderWith({ "Pulumi.pipeline.yaml": (t) => t.replace(/    gcp:\n      project: [^\n]*\n/, "").replace("prod: { drift", "prd: { drift") });
  assert.throws(() => readStackSet(dir), (err: Error) => {
    assert.match(err.message, /release-infra:pipeline\.gcp: is required: Pulumi\.dev\.yaml, Pulumi\.prod\.yaml set\(s\) release-infra:cdn/);
    assert.match(err.message, /release-infra:pipeline\.stacks\.prd: there is no deploy stack file Pulumi\.prd\.yaml beside it \(deploy stacks: dev, prod, staging\)/);
    return true;
  });
});

test("the pipeline stack plans for its folder's stacks, and passes the policy pack", () => {
  const run = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, path.join(__dirname, "..", "scripts", "plan.ts"), "--config", path.join(FIXTURES, "Pulumi.pipeline.yaml"), "--json", "--policy"], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  assert.equal(run.status, 0, run.stderr);
  const doc = JSON.parse(run.stdout) as { resources: { type: string }[]; policy: { enforcement: string }[]; outputs: { pipeline: { rights: string[] } } };
  assert.deepEqual(doc.policy.filter((v) => v.enforcement === "mandatory"), []);
  assert.equal(doc.resources.filter((r) => r.type === "azure-native:authorization:RoleAssignment").length, plan.grants.filter((g) => g.cloud === "azure").length);
  assert.equal(doc.outputs.pipeline.rights.length, plan.grants.length);
});

test("a deploy stack with a pipeline stack beside it defines no namespace deployer role; without one it does", () => {
  const roleDefinitions = (file: string) => {
    const run = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, path.join(__dirname, "..", "scripts", "plan.ts"), "--config", file, "--json"], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    assert.equal(run.status, 0, run.stderr);
    return (JSON.parse(run.stdout) as { resources: { type: string }[] }).resources.filter((r) => r.type === "azure-native:authorization:RoleDefinition").length;
  };
  assert.equal(roleDefinitions(path.join(FIXTURES, "Pulumi.dev.yaml")), 0);
  const alone = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "alone-")), "Pulumi.dev.yaml");
  fs.copyFileSync(path.join(FIXTURES, "Pulumi.dev.yaml"), alone);
  assert.equal(roleDefinitions(alone), 1);
});

test("the pipeline section stands alone: with a deploy section in the same file it is a config error", () => {
  const dir = folderWith({ "Pulumi.pipeline.yaml": (t) => `${t}  release-infra:github:\n    repositories: []\n` });
  assert.throws(() => readStackSet(dir), (err: Error) => {
    assert.match(err.message, /^Pulumi\.pipeline\.yaml: release-infra:github: cannot be set in the pipeline stack \(release-infra:pipeline\): put it in a deploy stack's Pulumi\.<stack>\.yaml$/m);
    return true;
  });
});

// ---------------------------------------------------------------------------------------------
// Deploy stacks' resource groups that exist already

/** A preview of the pipeline stack where ARM finds the resource groups in `existing`. */
async function groupTakeOver(existing: string[], options: { adopt?: string; inState?: string[] } = {}) {
  const settings = options.adopt ? { ...pipeline.stacks, [options.adopt]: { ...pipeline.stacks[options.adopt], adoptResourceGroup: true } } : pipeline.stacks;
  const { result } = await build(
    () =>
      new PipelineStack("pipeline", {
        owner: "contoso",
        pipeline: { ...pipeline, stacks: settings },
        location: "westeurope",
        tags: { team: "platform" },
        stacks: set.stacks,
        secrets: { PIPELINE_WRITER_APP_KEY: pulumi.secret("w"), PIPELINE_READER_APP_KEY: pulumi.secret("r") },
        managedBefore: [],
      }),
    {
      stack: "pipeline",
      preview: true,
      repositories: { "release-infra": { id: pipeline.repository.id, teams: pipeline.reviewers.teams } },
      creates: { resourceGroups: ["contoso-release-dev", "contoso-release-staging", "contoso-release-prod"].filter((g) => !existing.includes(g)) },
      inState: options.inState,
    },
  );
  return { problems: await valueOf(result.takeOverProblems), adoptions: await Promise.all(result.adoptions.map((a) => valueOf(pulumi.output(a.importId)))) };
}

const PIPELINE_STEPS = "npm run plan -- --stack pipeline --import-file pipeline-import.json, then pulumi import --file pipeline-import.json --stack pipeline --generate-code=false (docs/migration.md)";

test("a deploy stack's resource group that exists already fails the pipeline stack's preview, naming the key that adopts it", async () => {
  assert.deepEqual((await groupTakeOver(["contoso-release-prod"])).problems, [
    `Azure resource group contoso-release-prod (of stack prod) exists already and this stack does not manage it: set release-infra:pipeline.stacks.prod.adoptResourceGroup: true and import it (${PIPELINE_STEPS}), or rename it in the config`,
  ]);
  assert.deepEqual((await groupTakeOver([])).problems, []);
});

test("an adopted deploy stack's group is imported by its resource id, and is not reported once in the state", async () => {
  const adopted = await groupTakeOver(["contoso-release-prod"], { adopt: "prod" });
  assert.deepEqual(adopted.adoptions, [`/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/contoso-release-prod`]);
  assert.deepEqual(adopted.problems, [
    `Azure resource group contoso-release-prod (of stack prod) is adopted but not in this stack's state, so the update would create it again: import it first (${PIPELINE_STEPS}); if it is imported, the config forces its replacement: pulumi preview --diff names the input`,
  ]);
  assert.deepEqual((await groupTakeOver(["contoso-release-prod"], { adopt: "prod", inState: ["pipeline-rg-contoso-release-prod"] })).problems, []);
});

test("the pipeline stack defines each deploy stack's namespace deployer role, with the id its conditioned assignment right names", async () => {
  const { resources } = await built();
  const roles = ofType(resources, "azure-native:authorization:RoleDefinition").filter((r) => r.name.startsWith("pipeline-deployer-role-"));
  assert.deepEqual(
    roles.map((r) => [r.name, r.plain.roleDefinitionId, r.plain.scope, r.plain.assignableScopes]),
    set.stacks.flatMap((s) =>
      (s.config.azure?.clusters ?? []).map((c) => [
        `pipeline-deployer-role-${s.stack}-${c.name}`,
        namespaceDeployerRoleId(c, s.config.azure?.resourceGroup ?? ""),
        `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${c.resourceGroup}`,
        [`/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${c.resourceGroup}`],
      ]),
    ),
  );
  for (const role of roles) assert.deepEqual(role.plain.permissions, [{ actions: NAMESPACE_DEPLOYER_PERMISSIONS.actions, dataActions: NAMESPACE_DEPLOYER_PERMISSIONS.dataActions }]);
});
