import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { readStackSet } from "../config/stackSet";
import { NAMESPACE_DEPLOYER_PERMISSIONS, namespaceDeployerRoleId } from "../components/aksCluster";
import { CUSTOM_ROLES, derivePipeline, githubAppPermissions, roleAssignmentCondition, type AzureGrant, type Grant } from "../components/pipelineGrants";
import { PipelineStack, pipelineEnvironments } from "../components/pipelineStack";
import { AZURE_BUILT_IN_ROLES } from "../components/roleCatalogue";
import { SUBSCRIPTION_ID } from "../scripts/mocks";
import { build, ofType, valueOf, type Built } from "./harness";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";
import type { PlanDocument } from "../scripts/lib/planStack";
import { accessMap } from "../scripts/lib/review/accessMap";

/** This suite's stack files: contoso's dev, staging and prod, and their pipeline stack. */
const FIXTURES = path.join(__dirname, "fixtures", "pipeline");
const set = readStackSet(FIXTURES);
const pipeline = set.pipeline?.config.pipeline ?? assert.fail("the fixture folder has a pipeline stack");
const PIPELINE_STACK = set.pipeline?.stack ?? "pipeline";
const plan = derivePipeline(set.stacks, pipeline, PIPELINE_STACK);

/** Role names by id: the built-in roles, and each deploy stack's namespace deployer role for its clusters. */
const ROLE_NAMES = new Map<string, string>([
  ...Object.entries(AZURE_BUILT_IN_ROLES).map(([name, role]): [string, string] => [role.id, name]),
  ...set.stacks.flatMap((s) => (s.config.azure?.clusters ?? []).map((c): [string, string] => [namespaceDeployerRoleId(c, s.config.azure?.resourceGroup ?? ""), `${s.stack}'s namespace deployer`])),
]);
const CLUSTER_NONPROD = "/resourceGroups/contoso-aks-nonprod/providers/Microsoft.ContainerService/managedClusters/contoso-nonprod-aks";
const CLUSTER_PROD = "/resourceGroups/contoso-aks-prod/providers/Microsoft.ContainerService/managedClusters/contoso-prod-aks";
const STATE = (stack: string) => `/resourceGroups/contoso-pulumi-state/providers/Microsoft.Storage/storageAccounts/contosopulumistate/blobServices/default/containers/pulumi-state${stack ? `-${stack}` : ""}`;
const KEY = (stack: string) => `/resourceGroups/contoso-pulumi-state/providers/Microsoft.KeyVault/vaults/contoso-pulumi/keys/pulumi${stack ? `-${stack}` : ""}`;

/** The built-in roles a role-assignment condition allows, by name. */
function allowedRoles(condition: string): string[] {
  const [write] = condition.split(" AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}))");
  const ids = /GuidEquals \{([^}]*)\}/.exec(write)?.[1].split(", ") ?? [];
  return ids.map((id) => ROLE_NAMES.get(id) ?? id).sort();
}

/** One line per grant of the writer and the main-only reader: `<environment> <role> <scope> [only <roles>]`. */
function lines(stack: string): string[] {
  return plan.grants
    .filter((g) => g.stack === stack && !g.environment.endsWith("-preview"))
    .map((g) => (g.cloud === "azure" ? `${g.environment} ${g.role} ${g.scope}${g.condition ? ` only ${allowedRoles(g.condition).join("+")}` : ""}` : `${g.environment} ${g.role} projects/${g.project}${g.condition ? " if" : ""}`))
    .sort();
}

const GCP_WRITER = (env: string, project: string) => [
  `${env} roles/compute.loadBalancerAdmin projects/${project}`,
  `${env} roles/iam.serviceAccountAdmin projects/${project}`,
  `${env} roles/iam.workloadIdentityPoolAdmin projects/${project}`,
  `${env} roles/resourcemanager.projectIamAdmin projects/${project} if`,
  `${env} roles/storage.admin projects/${project}`,
];
const GCP_READER = (env: string, project: string) => [
  `${env} roles/iam.securityReviewer projects/${project}`,
  `${env} roles/storage.bucketViewer projects/${project}`,
  `${env} roles/viewer projects/${project}`,
];
const STATE_AND_KEY = (stack: string) => [
  `pulumi-${stack} Storage Blob Data Contributor ${STATE(stack)}`,
  `pulumi-${stack} secrets-decrypter ${KEY(stack)}`,
  `pulumi-${stack}-read Storage Blob Data Reader ${STATE(stack)}`,
  `pulumi-${stack}-read secrets-decrypter ${KEY(stack)}`,
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
      `pulumi-dev-read Azure Kubernetes Service RBAC Reader ${CLUSTER_NONPROD}/namespaces/shop-dev`,
      `pulumi-dev-read reader ${CLUSTER_NONPROD}`,
      "pulumi-dev-read reader /resourceGroups/contoso-release-dev",
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
      `pulumi-staging-read Azure Kubernetes Service RBAC Reader ${CLUSTER_NONPROD}/namespaces/shop-staging`,
      `pulumi-staging-read reader ${CLUSTER_NONPROD}`,
      "pulumi-staging-read reader /resourceGroups/contoso-release-staging",
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
      "pulumi-prod reader /resourceGroups/contoso-release-staging",
      `pulumi-prod Role Based Access Control Administrator ${CLUSTER_PROD} only Azure Kubernetes Service Cluster User Role`,
      `pulumi-prod Role Based Access Control Administrator ${CLUSTER_PROD}/namespaces/shop only prod's namespace deployer`,
      "pulumi-prod Role Based Access Control Administrator /resourceGroups/contoso-release-prod only AcrPull+Container Registry Data Importer and Data Reader",
      "pulumi-prod Role Based Access Control Administrator /resourceGroups/contoso-release-staging only Reader",
      `pulumi-prod namespace-creator ${CLUSTER_PROD}`,
      `pulumi-prod namespace-manager ${CLUSTER_PROD}/namespaces/shop`,
      `pulumi-prod-read Azure Kubernetes Service Cluster User Role ${CLUSTER_PROD}`,
      `pulumi-prod-read Azure Kubernetes Service RBAC Reader ${CLUSTER_PROD}/namespaces/shop`,
      `pulumi-prod-read reader ${CLUSTER_PROD}`,
      "pulumi-prod-read reader /resourceGroups/contoso-release-prod",
      "pulumi-prod-read reader /resourceGroups/contoso-release-staging",
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
    STATE(stack),
    KEY(stack),
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

test("readers can read and decrypt but never write, assign roles or pull images, and read Kubernetes objects only in their namespaces", () => {
  const readerRoles = new Set(plan.grants.filter((g) => g.access === "read").map((g) => g.role));
  assert.deepEqual([...readerRoles].sort(), [
    "Azure Kubernetes Service Cluster User Role",
    "Azure Kubernetes Service RBAC Reader",
    "Storage Blob Data Reader",
    "reader",
    "roles/iam.securityReviewer",
    "roles/storage.bucketViewer",
    "roles/viewer",
    "secrets-decrypter",
  ]);
  assert.ok(plan.grants.filter((g) => g.access === "read").every((g) => /-(read|preview)$/.test(g.environment)));
  for (const g of plan.grants.filter((g): g is AzureGrant => g.cloud === "azure" && g.role === "Azure Kubernetes Service RBAC Reader")) assert.match(g.scope, /\/namespaces\/[^/]+$/);
});

test("each stack's state and key are its own: no identity reaches another stack's container or key", () => {
  const stateOf = (scope: string) => /\/containers\/([^/]+)$|\/keys\/([^/]+)$/.exec(scope);
  for (const g of plan.grants.filter((g): g is AzureGrant => g.cloud === "azure" && stateOf(g.scope) !== null)) {
    const name = stateOf(g.scope)?.slice(1).find((n) => n !== undefined);
    if (g.role === "reader") continue; // control-plane metadata only: the pipeline's drift reader
    assert.equal(name, g.stack === PIPELINE_STACK ? "pulumi" + (g.scope.includes("/containers/") ? "-state" : "") : `${g.scope.includes("/containers/") ? "pulumi-state" : "pulumi"}-${g.stack}`, `${g.environment}: ${g.role} on ${g.scope}`);
  }
  const pipelineState = plan.grants.filter((g) => g.cloud === "azure" && (g.scope === STATE("") || g.scope === KEY("")));
  assert.deepEqual(pipelineState.map((g) => `${g.environment} ${g.role}`).sort(), [`pulumi-${PIPELINE_STACK}-read Storage Blob Data Reader`, `pulumi-${PIPELINE_STACK}-read secrets-decrypter`]);
  const onKeys = plan.grants.filter((g): g is AzureGrant => g.cloud === "azure" && g.scope.includes("/keys/") && g.role !== "reader");
  assert.deepEqual([...new Set(onKeys.map((g) => g.role))], ["secrets-decrypter"]);
});

test("the role-assignment right is conditioned to the listed roles for service principals, on write and on delete", () => {
  assert.equal(
    roleAssignmentCondition([AZURE_BUILT_IN_ROLES.AcrPush.id, AZURE_BUILT_IN_ROLES.AcrPull.id]),
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
  const grants = derivePipeline([shared], pipeline, PIPELINE_STACK).grants.filter((g): g is AzureGrant => g.cloud === "azure" && g.scope.includes("platform-shared"));
  assert.deepEqual(
    grants.map((g) => `${g.environment} ${g.role} ${g.scope}`).sort(),
    [
      "pulumi-dev Role Based Access Control Administrator /resourceGroups/platform-shared/providers/Microsoft.ContainerRegistry/registries/contosodevacr",
      "pulumi-dev reader /resourceGroups/platform-shared/providers/Microsoft.ContainerRegistry/registries/contosodevacr",
      "pulumi-dev-preview reader /resourceGroups/platform-shared/providers/Microsoft.ContainerRegistry/registries/contosodevacr",
      "pulumi-dev-read reader /resourceGroups/platform-shared/providers/Microsoft.ContainerRegistry/registries/contosodevacr",
      `pulumi-${PIPELINE_STACK}-read reader /resourceGroups/platform-shared/providers/Microsoft.ContainerRegistry/registries/contosodevacr`,
    ],
  );
});

test("a registry adopted in a resource group of its own is managed and granted on the registry itself, never on its group", () => {
  const dev = set.stacks.find((s) => s.stack === "dev");
  assert.ok(dev?.config.azure?.registry);
  const adopted = { ...dev, config: { ...dev.config, azure: { ...dev.config.azure, registry: { ...dev.config.azure.registry, adopt: true, resourceGroup: "platform-shared" } } } };
  const grants = derivePipeline([adopted], pipeline, PIPELINE_STACK).grants.filter((g): g is AzureGrant => g.cloud === "azure" && g.scope.includes("platform-shared"));
  const registry = "/resourceGroups/platform-shared/providers/Microsoft.ContainerRegistry/registries/contosodevacr";
  assert.deepEqual(
    grants.map((g) => `${g.environment} ${g.role} ${g.scope}`).sort(),
    [
      `pulumi-dev Contributor ${registry}`,
      `pulumi-dev Role Based Access Control Administrator ${registry}`,
      `pulumi-dev-preview reader ${registry}`,
      `pulumi-dev-read reader ${registry}`,
      `pulumi-${PIPELINE_STACK}-read reader ${registry}`,
    ],
  );
});

test("the namespace roles hold only namespace, quota, limit range and network policy data actions, and no role-definition right", () => {
  const namespaceRoles = [CUSTOM_ROLES["namespace-creator"], CUSTOM_ROLES["namespace-manager"]];
  assert.deepEqual(namespaceRoles.flatMap((r) => [...r.actions, ...r.notActions]), []);
  for (const action of namespaceRoles.flatMap((r) => r.dataActions)) {
    assert.match(action, /^Microsoft\.ContainerService\/managedClusters\/(namespaces|resourcequotas|limitranges|networking\.k8s\.io\/networkpolicies)\/(read|write|delete)$/);
  }
  assert.ok(!CUSTOM_ROLES["namespace-creator"].dataActions.some((a) => a.endsWith("/delete")), "deleting any namespace of a shared cluster is not granted cluster-wide");
  assert.deepEqual(
    plan.customRoles.filter((r) => r.key.startsWith("namespace-")),
    [
      { key: "namespace-creator", assignableScopes: ["/resourceGroups/contoso-aks-nonprod", "/resourceGroups/contoso-aks-prod"] },
      { key: "namespace-manager", assignableScopes: ["/resourceGroups/contoso-aks-nonprod", "/resourceGroups/contoso-aks-prod"] },
    ],
  );
});

test("the reader role is Reader without image pull, and the decrypter may only decrypt: never encrypt, update, back up or delete a key", () => {
  assert.deepEqual(CUSTOM_ROLES.reader, { ...CUSTOM_ROLES.reader, actions: ["*/read"], notActions: ["Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/quarantine/read"], dataActions: [] });
  assert.deepEqual(CUSTOM_ROLES["secrets-decrypter"], { ...CUSTOM_ROLES["secrets-decrypter"], actions: [], notActions: [], dataActions: ["Microsoft.KeyVault/vaults/keys/decrypt/action"] });
  assert.ok(!plan.grants.some((g) => g.role === "Reader"), "no pipeline identity holds the built-in Reader (registries/pull/read in the legacy mode)");
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

test("no pipeline identity administers roles; a dns stack's writer gets Certificate Manager and its project the API", () => {
  assert.ok(!plan.grants.some((g) => /roleAdmin|organizationRoleAdmin/.test(g.role)));
  const dev = set.stacks.find((s) => s.stack === "dev") ?? assert.fail("dev");
  const cdn = dev.config.cdn ?? assert.fail("dev has a CDN");
  const dns = { ...dev, config: { ...dev.config, cdn: { ...cdn, certificateAuthorization: "dns" as const } } };
  const dnsPlan = derivePipeline([dns], pipeline, PIPELINE_STACK);
  assert.deepEqual(
    dnsPlan.grants.filter((g) => g.role.startsWith("roles/certificatemanager.")).map((g) => g.environment),
    ["pulumi-dev"],
  );
  assert.ok(dnsPlan.gcpServices.some((s) => s.project === "contoso-web-dev" && s.service === "certificatemanager.googleapis.com"));
  assert.ok(!plan.gcpServices.some((s) => s.service === "certificatemanager.googleapis.com"), "load-balancer stacks do not enable it");
});

// ---------------------------------------------------------------------------------------------
// The component under mocks

function buildPipeline() {
  return build(
    () =>
      new PipelineStack("pipeline", {
        stack: PIPELINE_STACK,
        owner: "contoso",
        pipeline,
        location: "westeurope",
        tags: { team: "platform" },
        stacks: set.stacks,
      }),
    { stack: "pipeline", repositories: { "release-infra": { id: pipeline.repository.id, teams: pipeline.reviewers.teams } } },
  );
}

/** The component, built once for the tests below: they only read what it registered and returned. */
let pipelineBuild: ReturnType<typeof buildPipeline> | undefined;
const built = () => (pipelineBuild ??= buildPipeline());

const byType = (resources: Built[], type: string) => ofType(resources, type);

test("each deploy stack gets pulumi-<stack> and pulumi-<stack>-read (main only) and pulumi-<stack>-preview (any ref, reviewers); the pipeline stack gets pulumi-pipeline-read (main only)", async () => {
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
  const reviewed = { reviewers: 1, canAdminsBypass: false };
  assert.deepEqual(summary, [
    // dev and staging manage GitHub objects: their writers hold the writer App key, so prod's protection.
    { environment: "pulumi-dev", branchPolicy: custom, ...reviewed },
    { environment: "pulumi-dev-preview", branchPolicy: null, ...reviewed },
    { environment: "pulumi-dev-read", branchPolicy: custom, reviewers: 0, canAdminsBypass: null },
    { environment: "pulumi-pipeline-read", branchPolicy: custom, reviewers: 0, canAdminsBypass: null },
    { environment: "pulumi-prod", branchPolicy: custom, ...reviewed },
    { environment: "pulumi-prod-preview", branchPolicy: null, ...reviewed },
    { environment: "pulumi-prod-read", branchPolicy: custom, reviewers: 0, canAdminsBypass: null },
    { environment: "pulumi-staging", branchPolicy: custom, ...reviewed },
    { environment: "pulumi-staging-preview", branchPolicy: null, ...reviewed },
    { environment: "pulumi-staging-read", branchPolicy: custom, reviewers: 0, canAdminsBypass: null },
  ]);
  const policies = byType(resources, "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy");
  assert.deepEqual(
    policies.map((p) => `${p.plain.environment} ${p.plain.branchPattern}`).sort(),
    ["dev", "dev-read", "pipeline-read", "prod", "prod-read", "staging", "staging-read"].map((e) => `pulumi-${e} main`),
  );
  assert.ok(environments.every((e) => e.plain.repository === "release-infra"));
});

test("the writer App key is held only by reviewed deploy environments of stacks that manage GitHub objects; every other environment holds the reader's", async () => {
  const { resources } = await built();
  const appIds = byType(resources, "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")
    .filter((v) => v.plain.variableName === "GH_APP_ID")
    .map((v) => `${v.plain.environment} ${v.plain.value}`)
    .sort();
  const writer = String(pipeline.githubApps.writer.appId);
  const reader = String(pipeline.githubApps.reader.appId);
  assert.deepEqual(appIds, [
    `pulumi-dev ${writer}`,
    `pulumi-dev-preview ${reader}`,
    `pulumi-dev-read ${reader}`,
    `pulumi-pipeline-read ${reader}`,
    `pulumi-prod ${writer}`,
    `pulumi-prod-preview ${reader}`,
    `pulumi-prod-read ${reader}`,
    `pulumi-staging ${writer}`,
    `pulumi-staging-preview ${reader}`,
    `pulumi-staging-read ${reader}`,
  ]);
  const environments = byType(resources, "github:index/repositoryEnvironment:RepositoryEnvironment");
  for (const id of appIds.filter((a) => a.endsWith(` ${writer}`))) {
    const env = environments.find((e) => e.plain.environment === id.split(" ")[0]);
    assert.ok(Array.isArray(env?.plain.reviewers) && env.plain.reviewers.length > 0 && env.plain.canAdminsBypass === false, id);
  }
});

test("a deploy stack without GitHub objects deploys with the reader App key and, outside prod, without reviewers", () => {
  const staging = set.stacks.find((s) => s.stack === "staging") ?? assert.fail("staging");
  const bare = { ...staging, config: { ...staging.config, github: undefined } };
  const env = pipelineEnvironments(PIPELINE_STACK, pipeline, [bare]).find((e) => e.environment === "pulumi-staging");
  assert.deepEqual(env && { app: env.app, reviewers: env.reviewers }, { app: "reader", reviewers: undefined });
});

test("the pipeline stack turns off 'Actions can approve pull requests' on its own repository", async () => {
  const { resources } = await built();
  const defaults = byType(resources, "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions");
  assert.deepEqual(
    defaults.map((d) => [d.plain.repository, d.plain.defaultWorkflowPermissions, d.plain.canApprovePullRequestReviews]),
    [["release-infra", "read", false]],
  );
});

test("the writer App is never installed on this repository; the reader App is, for the pipeline stack's drift check", () => {
  const apps = githubAppPermissions(set.stacks, "contoso", pipeline);
  assert.ok(!apps.writer.installOn.includes("contoso/release-infra"));
  assert.ok(apps.reader.installOn.includes("contoso/release-infra"));
});

test("each environment's Azure identity and GCP service account trust exactly that environment", async () => {
  const { resources } = await built();
  const subjects = byType(resources, "azure-native:managedidentity:FederatedIdentityCredential").map((c) => `${c.plain.resourceName} ${c.plain.subject}`);
  const both = (env: string) => [`repo:contoso/release-infra:environment:${env}`, `repo:contoso@71234567/release-infra@812345690:environment:${env}`];
  const environments = [...set.stacks.flatMap((s) => [`pulumi-${s.stack}`, `pulumi-${s.stack}-read`, `pulumi-${s.stack}-preview`]), `pulumi-${PIPELINE_STACK}-read`];
  const expected = environments.flatMap((env) => both(env).map((subject) => `id-release-infra-${env} ${subject}`));
  assert.deepEqual(subjects.sort(), expected.sort());
  assert.ok(byType(resources, "azure-native:managedidentity:UserAssignedIdentity").every((i) => i.plain.resourceGroupName === "contoso-release-pipelines"));
  const gcpTrust = byType(resources, "gcp:serviceaccount/iAMMember:IAMMember").map((m) => String(m.plain.member).replace(/^principal:\/\/iam\.googleapis\.com\/.*\/subject\//, ""));
  const gcpEnvironments = [...["dev", "prod"].flatMap((s) => [`pulumi-${s}`, `pulumi-${s}-read`, `pulumi-${s}-preview`]), `pulumi-${PIPELINE_STACK}-read`];
  assert.deepEqual(gcpTrust.sort(), gcpEnvironments.flatMap(both).sort());
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
});

test("each stack's environments log in to its own state container, which the pipeline stack creates with its own key", async () => {
  const { resources } = await built();
  const backends = byType(resources, "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")
    .filter((v) => v.plain.variableName === "PULUMI_BACKEND_URL")
    .map((v) => `${v.plain.environment} ${v.plain.value}`)
    .sort();
  const url = (container: string) => `azblob://${container}?storage_account=contosopulumistate`;
  assert.deepEqual(backends, [
    ...set.stacks.flatMap((s) => [`pulumi-${s.stack}`, `pulumi-${s.stack}-preview`, `pulumi-${s.stack}-read`].map((env) => `${env} ${url(`pulumi-state-${s.stack}`)}`)),
    `pulumi-${PIPELINE_STACK}-read ${url("pulumi-state")}`,
  ].sort());
  const containers = byType(resources, "azure-native:storage:BlobContainer").map((c) => [c.plain.containerName, c.plain.accountName, c.plain.publicAccess, c.retainOnDelete]);
  assert.deepEqual(containers, set.stacks.map((s) => [`pulumi-state-${s.stack}`, "contosopulumistate", "None", true]));
  const keys = byType(resources, "azure-native:keyvault:Key").map((k) => [k.plain.keyName, k.plain.vaultName, k.retainOnDelete]);
  assert.deepEqual(keys, set.stacks.map((s) => [`pulumi-${s.stack}`, "contoso-pulumi", true]));
});

test("a client id reaches a workflow only once its identity's role assignments exist", async () => {
  const { result } = await built();
  const environments = await valueOf(result.environments);
  assert.match(environments["pulumi-prod"].azureClientId, /^<client-id of id-release-infra-pulumi-prod>$/);
  assert.match(environments["pulumi-prod-read"].gcpServiceAccount ?? "", /@contoso-release-pipelines\.iam\.gserviceaccount\.com$/);
  assert.equal(environments["pulumi-staging"].gcpServiceAccount, undefined);
});

test("the pipeline stack defines the CDN's custom roles, and everything it creates in a GCP project depends on that project's services", async () => {
  const { resources } = await built();
  const roles = byType(resources, "gcp:projects/iAMCustomRole:IAMCustomRole").map((r) => `${r.plain.project} ${r.plain.roleId}`).sort();
  assert.deepEqual(roles, ["contoso-web-dev", "contoso-web-prod"].flatMap((project) => {
    const bucket = set.stacks.find((s) => s.config.cdn?.project === project)?.config.cdn?.bucket.replace(/-/g, "_");
    return [`${project} cdnFill_${bucket}`, `${project} cdnInvalidator_${bucket}`];
  }));
  const services = new Map<string, string[]>();
  for (const api of byType(resources, "gcp:projects/service:Service")) services.set(String(api.plain.project), [...(services.get(String(api.plain.project)) ?? []), api.urn]);
  const gcp = resources.filter((r) => r.custom && r.type.startsWith("gcp:") && r.type !== "gcp:projects/service:Service");
  assert.ok(gcp.length > 0);
  for (const r of gcp) {
    const project = typeof r.plain.project === "string" ? r.plain.project : pipeline.gcp?.project;
    for (const api of services.get(String(project)) ?? assert.fail(`no services for ${String(project)}`)) assert.ok(r.dependsOn.includes(api), `${r.name} does not wait for ${api}`);
  }
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

test("a pipeline repository whose plan has no required reviewers is a config error naming the rule: every preview environment needs one", () => {
  const dir = folderWith({ "Pulumi.pipeline.yaml": (t) => t.replace("plan: enterprise", "plan: team") });
  assert.throws(() => readStackSet(dir), (err: Error) => {
    assert.match(
      err.message,
      /^Pulumi\.pipeline\.yaml: release-infra:pipeline\.repository: every deploy stack \(Pulumi\.dev\.yaml, Pulumi\.prod\.yaml, Pulumi\.staging\.yaml\) has a pulumi-<stack>-preview environment that must require a reviewer .*, which a private repository of GitHub's team plan cannot/m,
    );
    return true;
  });
});

test("a deploy stack that governs this repository, or shares a CDN project with the pipeline, is a config error naming both keys", () => {
  const dir = folderWith({
    "Pulumi.dev.yaml": (t) => t.replace("      - name: loader\n", "      - name: release-infra\n"),
    "Pulumi.pipeline.yaml": (t) => t.replace("project: contoso-release-pipelines", "project: contoso-web-prod"),
  });
  assert.throws(() => readStackSet(dir), (err: Error) => {
    assert.match(err.message, /^Pulumi\.dev\.yaml: release-infra:github\.repositories\[1\]\.name: release-infra is this repository \(Pulumi\.pipeline\.yaml: release-infra:pipeline\.repository\.name\)/m);
    assert.match(err.message, /^Pulumi\.prod\.yaml: gcp:project: contoso-web-prod is also Pulumi\.pipeline\.yaml: release-infra:pipeline\.gcp\.project; /m);
    return true;
  });
});

test("a deploy stack's resource group that is a cluster's, the backend's, the vault's or the pipeline's is a config error naming both keys", () => {
  const dir = folderWith({ "Pulumi.dev.yaml": (t) => t.replace("resourceGroup: contoso-release-dev", "resourceGroup: contoso-aks-nonprod"), "Pulumi.staging.yaml": (t) => t.replace("resourceGroup: contoso-release-staging", "resourceGroup: contoso-pulumi-state") });
  assert.throws(() => readStackSet(dir), (err: Error) => {
    assert.match(err.message, /^Pulumi\.dev\.yaml: release-infra:azure\.resourceGroup: contoso-aks-nonprod is also Pulumi\.dev\.yaml: release-infra:azure\.clusters\[0\]\.resourceGroup; /m);
    assert.match(err.message, /^Pulumi\.staging\.yaml: release-infra:azure\.resourceGroup: contoso-pulumi-state is also Pulumi\.pipeline\.yaml: release-infra:pipeline\.backend\.resourceGroup; /m);
    assert.match(err.message, /^Pulumi\.staging\.yaml: release-infra:azure\.resourceGroup: contoso-pulumi-state is also Pulumi\.pipeline\.yaml: release-infra:pipeline\.secretsProvider\.resourceGroup; /m);
    return true;
  });
});

test("a stack whose environment name another stack's environments already use is a config error naming both", () => {
  const dir = folderWith({});
  fs.copyFileSync(path.join(dir, "Pulumi.staging.yaml"), path.join(dir, "Pulumi.Dev-Preview.yaml"));
  fs.copyFileSync(path.join(dir, "Pulumi.staging.yaml"), path.join(dir, "Pulumi.pipeline-read.yaml"));
  assert.throws(() => readStackSet(dir), (err: Error) => {
    assert.match(err.message, /^Pulumi\.dev\.yaml: the stack name gives it the environment pulumi-dev-preview, which is also an environment of stack Dev-Preview \(Pulumi\.Dev-Preview\.yaml\); rename the stack$/m);
    assert.match(err.message, /^Pulumi\.pipeline-read\.yaml: the stack name gives it the environment pulumi-pipeline-read, which is also an environment of stack pipeline \(Pulumi\.pipeline\.yaml\); rename the stack$/m);
    return true;
  });
});

test("a stack name whose pipeline environment's OIDC subject exceeds Google's 127 bytes is a config error", () => {
  const long = "d".repeat(60);
  const dir = folderWith({});
  fs.renameSync(path.join(dir, "Pulumi.dev.yaml"), path.join(dir, `Pulumi.${long}.yaml`));
  assert.throws(() => readStackSet(dir), (err: Error) => {
    assert.match(err.message, new RegExp(`^Pulumi\\.${long}\\.yaml: the stack name makes the immutable OIDC subject "repo:contoso@71234567/release-infra@812345690:environment:pulumi-${long}-preview" of its pipeline environment 133 bytes, longer than the 127 bytes`, "m"));
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

type PipelinePlanJson = PlanDocument & {
  policy: { enforcement: string }[];
  outputs: { pipeline: { rights: string[]; administrator: string[]; backend: { stacks: Record<string, { setup: string }> } } };
};
let pipelinePlanJson: PipelinePlanJson | undefined;
/** The offline plan of the fixture's pipeline stack with the policy pack, run once for the tests below. */
function pipelinePlan(): PipelinePlanJson {
  if (pipelinePlanJson) return pipelinePlanJson;
  const run = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, path.join(__dirname, "..", "scripts", "plan.ts"), "--config", path.join(FIXTURES, "Pulumi.pipeline.yaml"), "--json", "--policy"], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  assert.equal(run.status, 0, run.stderr);
  return (pipelinePlanJson = JSON.parse(run.stdout) as PipelinePlanJson);
}

test("the pipeline stack's access map names every role and every object it grants on", () => {
  const map = accessMap(pipelinePlan());
  const grants = map.repositories.flatMap((r) => r.environments.flatMap((e) => e.identities.flatMap((i) => i.grants.map((g) => ({ environment: e.environment, ...g })))));
  assert.ok(grants.length >= plan.grants.length);
  for (const g of grants) {
    assert.doesNotMatch(g.role, /[0-9a-f]{8}-[0-9a-f]{4}-/, `${g.environment}: ${g.role} on ${g.object}`);
    assert.doesNotMatch(g.object, /^\/subscriptions\//, `${g.environment}: ${g.role} on ${g.object}`);
  }
  assert.deepEqual(map.unwiredIdentities.map((i) => i.name), []);
});

test("the pipeline stack prints every setup command with this organisation's names: the admin's data-plane roles, its own stack, each deploy stack's", () => {
  const { outputs } = pipelinePlan();
  const admin = outputs.pipeline.administrator.join("\n");
  assert.match(admin, /--role "Storage Blob Data Contributor" --scope "\$\(az storage account show -n contosopulumistate -g contoso-pulumi-state --query id -o tsv\)"/);
  assert.match(admin, /--role "Key Vault Crypto Officer" --scope "\$\(az keyvault show -n contoso-pulumi -g contoso-pulumi-state --query id -o tsv\)"/);
  assert.match(admin, /^pulumi stack init pipeline --secrets-provider='azurekeyvault:\/\/contoso-pulumi\.vault\.azure\.net\/keys\/pulumi'$/m);
  assert.equal(
    outputs.pipeline.backend.stacks.prod.setup,
    "pulumi login 'azblob://pulumi-state-prod?storage_account=contosopulumistate' && pulumi stack init prod --secrets-provider='azurekeyvault://contoso-pulumi.vault.azure.net/keys/pulumi-prod'",
  );
});

test("the pipeline stack's plan holds no secret value and no environment secret: its drift reader could decrypt any", async () => {
  const doc = pipelinePlan();
  assert.deepEqual(doc.resources.filter((r) => /Secret$/.test(r.type)).map((r) => r.urn), []);
  assert.doesNotMatch(JSON.stringify({ resources: doc.resources, outputs: doc.outputs }), /\[secret\]/);
  const { resources } = await built();
  assert.deepEqual(byType(resources, "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"), []);
});

test("the administrator's commands set GH_APP_PRIVATE_KEY on every pulumi-* environment by hand, the writer key only where the writer App belongs", async () => {
  const commands = pipelinePlan().outputs.pipeline.administrator.filter((c) => c.startsWith("gh secret set"));
  const keys = commands.map((c) => {
    const [, environment, app] = /^gh secret set GH_APP_PRIVATE_KEY --env (\S+) --repo contoso\/release-infra < (writer|reader)\.pem$/.exec(c) ?? assert.fail(c);
    return `${environment} ${app}`;
  });
  assert.deepEqual(keys.sort(), [
    "pulumi-dev writer",
    "pulumi-dev-preview reader",
    "pulumi-dev-read reader",
    "pulumi-pipeline-read reader",
    "pulumi-prod writer",
    "pulumi-prod-preview reader",
    "pulumi-prod-read reader",
    "pulumi-staging writer",
    "pulumi-staging-preview reader",
    "pulumi-staging-read reader",
  ]);
  // Each key is the one of the App whose id the environment's GH_APP_ID names.
  const { resources } = await built();
  const appOf = new Map([[String(pipeline.githubApps.writer.appId), "writer"], [String(pipeline.githubApps.reader.appId), "reader"]]);
  const appIds = byType(resources, "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")
    .filter((v) => v.plain.variableName === "GH_APP_ID")
    .map((v) => `${v.plain.environment} ${appOf.get(String(v.plain.value))}`);
  assert.deepEqual(keys.sort(), appIds.sort());
});

test("the pipeline stack plans for its folder's stacks, and passes the policy pack", () => {
  const doc = pipelinePlan();
  assert.deepEqual(doc.policy.filter((v) => v.enforcement === "mandatory"), []);
  assert.equal(doc.resources.filter((r) => r.type === "azure-native:authorization:RoleAssignment").length, plan.grants.filter((g) => g.cloud === "azure").length);
  assert.equal(doc.outputs.pipeline.rights.length, plan.grants.length);
});

test("a deploy stack with a pipeline stack beside it defines no role (namespace deployer, CDN custom roles); without one it does", () => {
  const roleDefinitions = (file: string) => {
    const run = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, path.join(__dirname, "..", "scripts", "plan.ts"), "--config", file, "--json"], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    assert.equal(run.status, 0, run.stderr);
    const types = (JSON.parse(run.stdout) as { resources: { type: string }[] }).resources.map((r) => r.type);
    return { azure: types.filter((t) => t === "azure-native:authorization:RoleDefinition").length, gcp: types.filter((t) => t === "gcp:projects/iAMCustomRole:IAMCustomRole").length };
  };
  assert.deepEqual(roleDefinitions(path.join(FIXTURES, "Pulumi.dev.yaml")), { azure: 0, gcp: 0 });
  const alone = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "alone-")), "Pulumi.dev.yaml");
  fs.copyFileSync(path.join(FIXTURES, "Pulumi.dev.yaml"), alone);
  assert.deepEqual(roleDefinitions(alone), { azure: 1, gcp: 2 });
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
        stack: PIPELINE_STACK,
        owner: "contoso",
        pipeline: { ...pipeline, stacks: settings },
        location: "westeurope",
        tags: { team: "platform" },
        stacks: set.stacks,
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
