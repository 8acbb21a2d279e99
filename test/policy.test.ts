import assert from "node:assert/strict";
import { test } from "node:test";
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import type { RoleAssignmentArgs } from "@pulumi/azure-native/authorization";
import type { RegistryArgs } from "@pulumi/azure-native/containerregistry";
import type { FederatedIdentityCredentialArgs } from "@pulumi/azure-native/managedidentity";
import type { WorkloadIdentityPoolProviderArgs } from "@pulumi/gcp/iam";
import type { IAMMemberArgs as ProjectIamMemberArgs } from "@pulumi/gcp/projects";
import type { IAMMemberArgs as ServiceAccountIamMemberArgs } from "@pulumi/gcp/serviceaccount";
import type { BucketArgs, BucketIAMBindingArgs, BucketIAMMemberArgs, BucketIAMPolicyArgs } from "@pulumi/gcp/storage";
import type { ActionsSecretArgs, RepositoryEnvironmentArgs, RepositoryRulesetArgs } from "@pulumi/github";
import type { LimitRangeArgs, NamespaceArgs, ResourceQuotaArgs } from "@pulumi/kubernetes/core/v1";
import type { ClusterRoleBindingArgs } from "@pulumi/kubernetes/rbac/v1";
import { checkResources, formatViolations, resourceValidationArgs, stackValidationArgs, type CheckedResource } from "../policy/check";
import * as p from "../policy/policies";

// Fixtures are typed with the providers' Args interfaces, so a misspelt property fails tsc.

/** Inputs as the offline plan shows them: plain JSON. */
function plain(args: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(args));
}

interface Options {
  stack?: string;
  stage?: p.Stage;
  protect?: boolean;
  deleteBeforeReplace?: boolean;
  name?: string;
}

function planned(type: string, inputs: object, options: Options = {}): CheckedResource {
  const name = options.name ?? "r";
  return {
    type,
    name,
    urn: `urn:pulumi:${options.stack ?? "dev"}::release-infra::${type}::${name}`,
    inputs: plain(inputs),
    protect: options.protect ?? false,
    retainOnDelete: false,
    deleteBeforeReplace: options.deleteBeforeReplace ?? false,
  };
}

/** Messages a resource policy reports for one resource, calling its validateResource directly. */
function violations(policy: ResourceValidationPolicy, type: string, inputs: object, options: Options = {}): string[] {
  const validate = policy.validateResource;
  assert.equal(typeof validate, "function");
  const found: string[] = [];
  if (typeof validate === "function") validate(resourceValidationArgs(planned(type, inputs, options), { stage: options.stage }), (m) => found.push(m));
  return found;
}

function stackViolations(policy: StackValidationPolicy, resources: CheckedResource[]): { message: string; urn?: string }[] {
  const found: { message: string; urn?: string }[] = [];
  policy.validateStack(stackValidationArgs(resources, {}), (message, urn) => found.push({ message, urn }));
  return found;
}

const REGISTRY = "azure-native:containerregistry:Registry";
const ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment";
const FIC = "azure-native:managedidentity:FederatedIdentityCredential";
const WIF_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider";
const NAMESPACE = "kubernetes:core/v1:Namespace";
const QUOTA = "kubernetes:core/v1:ResourceQuota";
const LIMITS = "kubernetes:core/v1:LimitRange";
const BUCKET = "gcp:storage/bucket:Bucket";
const BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember";
const BUCKET_BINDING = "gcp:storage/bucketIAMBinding:BucketIAMBinding";
const BUCKET_POLICY = "gcp:storage/bucketIAMPolicy:BucketIAMPolicy";
const ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment";
const SECRET = "github:index/actionsSecret:ActionsSecret";
const RULESET = "github:index/repositoryRuleset:RepositoryRuleset";

const registry: RegistryArgs = { resourceGroupName: "rg", sku: { name: "Premium" }, adminUserEnabled: false, anonymousPullEnabled: false };
const registryId = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acmeprodacr";
const roleAssignment: RoleAssignmentArgs = { principalId: "p", principalType: "ServicePrincipal", roleDefinitionId: "/subscriptions/sub/providers/Microsoft.Authorization/roleDefinitions/8311e382-0749-4cb8-b61a-304f252e45ec", scope: registryId };
const credential: FederatedIdentityCredentialArgs = {
  resourceGroupName: "rg",
  resourceName: "id-shop-production",
  issuer: "https://token.actions.githubusercontent.com",
  audiences: ["api://AzureADTokenExchange"],
  subject: "repo:acme/shop:environment:production",
};
const wifProvider: WorkloadIdentityPoolProviderArgs = {
  workloadIdentityPoolId: "github",
  workloadIdentityPoolProviderId: "github",
  oidc: { issuerUri: "https://token.actions.githubusercontent.com" },
  attributeCondition: "assertion.repository == 'acme/shop' && assertion.repository_owner_id == '123'",
};
const psa = (level: string): Record<string, string> => ({
  "pod-security.kubernetes.io/enforce": level,
  "pod-security.kubernetes.io/audit": level,
  "pod-security.kubernetes.io/warn": level,
});
const namespace = (name: string, labels = psa("restricted")): NamespaceArgs => ({ metadata: { name, labels } });
const quota = (ns: string): ResourceQuotaArgs => ({ metadata: { name: "quota", namespace: ns }, spec: { hard: { pods: "60" } } });
const limits = (ns: string): LimitRangeArgs => ({ metadata: { name: "limits", namespace: ns }, spec: { limits: [{ type: "Container", default: { cpu: "250m" } }] } });
const bucket: BucketArgs = { location: "EU", uniformBucketLevelAccess: true };
const cdnRead: BucketIAMMemberArgs = { bucket: "acme-cdn-assets", role: "roles/storage.objectViewer", member: "allUsers" };
const environment: RepositoryEnvironmentArgs = {
  repository: "shop",
  environment: "production",
  deploymentBranchPolicy: { customBranchPolicies: true, protectedBranches: false },
};
const secret: ActionsSecretArgs = { repository: "shop", secretName: "NPM_TOKEN", value: "[secret]" };
const ruleset = (rules: RepositoryRulesetArgs["rules"], includes = ["~DEFAULT_BRANCH"]): RepositoryRulesetArgs => ({
  repository: "shop",
  name: "protect-main",
  target: "branch",
  enforcement: "active",
  conditions: { refName: { includes, excludes: [] } },
  rules,
});
const fullRules = { pullRequest: { requiredApprovingReviewCount: 1 }, requiredStatusChecks: { requiredChecks: [{ context: "test" }] } };

// ---------------------------------------------------------------------------------------------
// Stage

test("the stage comes from the policy config", () => {
  assert.equal(p.stageOf({ stage: "dev" }), "dev");
});

test("without a configured stage every stack counts as prod, even one named dev", () => {
  assert.equal(p.stageOf({}), "prod");
});

test("the CLI and the offline check agree on a stack named unlike its stage", () => {
  // Pulumi.dev-eu.yaml with release-infra:stage dev: the policy config, not the stack name, decides.
  const devEu = planned("gcp:storage/bucket:Bucket", { forceDestroy: true, uniformBucketLevelAccess: true }, { stack: "dev-eu" });
  const found = (config: p.StageConfig) => checkResources([devEu], config).filter((v) => v.policy === "gcs-prod-bucket-not-force-destroy");
  assert.deepEqual(found({ stage: "dev" }), []);
  assert.equal(found({}).length, 1);
});

// ---------------------------------------------------------------------------------------------
// Azure

test("a registry with admin user and anonymous pull off passes", () => {
  assert.deepEqual(violations(p.registryNoSharedCredentials, REGISTRY, registry), []);
});

test("a registry with the admin user enabled is a violation", () => {
  const found = violations(p.registryNoSharedCredentials, REGISTRY, { ...registry, adminUserEnabled: true });
  assert.equal(found.length, 1);
  assert.match(found[0], /adminUserEnabled/);
});

test("a registry with anonymous pull enabled is a violation", () => {
  const found = violations(p.registryNoSharedCredentials, REGISTRY, { ...registry, anonymousPullEnabled: true });
  assert.equal(found.length, 1);
  assert.match(found[0], /anonymousPullEnabled/);
});

test("a role assignment scoped to a registry passes", () => {
  assert.deepEqual(violations(p.roleAssignmentResourceScope, ROLE_ASSIGNMENT, roleAssignment), []);
});

test("a role assignment at subscription scope is a violation", () => {
  assert.equal(violations(p.roleAssignmentResourceScope, ROLE_ASSIGNMENT, { ...roleAssignment, scope: "/subscriptions/sub" }).length, 1);
});

test("a role assignment at resource-group scope is a violation", () => {
  assert.equal(violations(p.roleAssignmentResourceScope, ROLE_ASSIGNMENT, { ...roleAssignment, scope: "/subscriptions/sub/resourceGroups/rg" }).length, 1);
});

test("a role assignment for a service principal passes the principal-type policy", () => {
  assert.deepEqual(violations(p.roleAssignmentPrincipalType, ROLE_ASSIGNMENT, roleAssignment), []);
});

test("a role assignment with the SDK's default principalType User is a violation", () => {
  const found = violations(p.roleAssignmentPrincipalType, ROLE_ASSIGNMENT, { ...roleAssignment, principalType: "User" });
  assert.equal(found.length, 1);
  assert.match(found[0], /ServicePrincipal/);
});

test("a federated credential for a GitHub environment passes", () => {
  assert.deepEqual(violations(p.federatedCredentialGithubEnvironment, FIC, credential), []);
});

test("a federated credential for a GitHub environment in the immutable subject form passes", () => {
  assert.deepEqual(violations(p.federatedCredentialGithubEnvironment, FIC, { ...credential, subject: "repo:acme@71234567/shop@812345678:environment:production" }), []);
});

test("a branch subject in the immutable form is still a violation", () => {
  assert.equal(violations(p.federatedCredentialGithubEnvironment, FIC, { ...credential, subject: "repo:acme@71234567/shop@812345678:ref:refs/heads/main" }).length, 1);
});

test("a federated credential with a branch subject is a violation", () => {
  const found = violations(p.federatedCredentialGithubEnvironment, FIC, { ...credential, subject: "repo:acme/shop:ref:refs/heads/main" });
  assert.equal(found.length, 1);
  assert.match(found[0], /subject/);
});

test("a federated credential with a pull_request subject is a violation", () => {
  assert.equal(violations(p.federatedCredentialGithubEnvironment, FIC, { ...credential, subject: "repo:acme/shop:pull_request" }).length, 1);
});

test("a federated credential trusting another issuer is a violation", () => {
  const found = violations(p.federatedCredentialGithubEnvironment, FIC, { ...credential, issuer: "https://gitlab.com" });
  assert.equal(found.length, 1);
  assert.match(found[0], /issuer/);
});

test("a federated credential with an extra audience is a violation", () => {
  const found = violations(p.federatedCredentialGithubEnvironment, FIC, { ...credential, audiences: ["api://AzureADTokenExchange", "sts.amazonaws.com"] });
  assert.equal(found.length, 1);
  assert.match(found[0], /audiences/);
});

// ---------------------------------------------------------------------------------------------
// GCP identity

test("a Workload Identity provider pinned to a repository passes", () => {
  assert.deepEqual(violations(p.wifProviderPinsRepository, WIF_PROVIDER, wifProvider), []);
});

test("a Workload Identity provider without an attribute condition is a violation", () => {
  const found = violations(p.wifProviderPinsRepository, WIF_PROVIDER, { ...wifProvider, attributeCondition: undefined });
  assert.equal(found.length, 1);
  assert.match(found[0], /attributeCondition/);
});

// ---------------------------------------------------------------------------------------------
// Kubernetes

test("a namespace with restricted Pod Security labels passes in prod", () => {
  assert.deepEqual(violations(p.namespacePodSecurity, NAMESPACE, namespace("shop"), { stack: "prod" }), []);
});

test("a namespace without an audit label is a violation", () => {
  const labels = psa("baseline");
  delete labels["pod-security.kubernetes.io/audit"];
  const found = violations(p.namespacePodSecurity, NAMESPACE, namespace("shop", labels));
  assert.equal(found.length, 1);
  assert.match(found[0], /pod-security\.kubernetes\.io\/audit/);
});

test("a privileged namespace is a violation in prod", () => {
  assert.equal(violations(p.namespacePodSecurity, NAMESPACE, namespace("shop", psa("privileged")), { stack: "prod" }).length, 3);
});

test("a privileged namespace passes outside prod", () => {
  assert.deepEqual(violations(p.namespacePodSecurity, NAMESPACE, namespace("shop", psa("privileged")), { stage: "dev" }), []);
});

test("a namespace with a quota and a limit range in it passes", () => {
  const resources = [planned(NAMESPACE, namespace("shop")), planned(QUOTA, quota("shop"), { name: "q" }), planned(LIMITS, limits("shop"), { name: "l" })];
  assert.deepEqual(stackViolations(p.namespaceQuotaAndLimits, resources), []);
});

test("a namespace whose only limit range is in another namespace is a violation on that namespace", () => {
  const ns = planned(NAMESPACE, namespace("shop"));
  const resources = [ns, planned(QUOTA, quota("shop"), { name: "q" }), planned(LIMITS, limits("other"), { name: "l" })];
  const found = stackViolations(p.namespaceQuotaAndLimits, resources);
  assert.equal(found.length, 1);
  assert.match(found[0].message, /LimitRange/);
  assert.equal(found[0].urn, ns.urn);
});

test("a namespace without a quota is a violation", () => {
  const found = stackViolations(p.namespaceQuotaAndLimits, [planned(NAMESPACE, namespace("shop")), planned(LIMITS, limits("shop"), { name: "l" })]);
  assert.equal(found.length, 1);
  assert.match(found[0].message, /ResourceQuota/);
});

test("a ClusterRoleBinding is a violation", () => {
  const binding: ClusterRoleBindingArgs = { roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" } };
  assert.equal(violations(p.noClusterRoleBinding, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", binding).length, 1);
});

test("a namespaced RoleBinding passes the ClusterRoleBinding policy", () => {
  const binding = { metadata: { namespace: "shop" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" } };
  assert.deepEqual(violations(p.noClusterRoleBinding, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", binding), []);
});

// ---------------------------------------------------------------------------------------------
// Storage and CDN

test("a bucket with uniform bucket-level access passes", () => {
  assert.deepEqual(violations(p.bucketUniformAccess, BUCKET, bucket), []);
});

test("a bucket without uniform bucket-level access is a violation", () => {
  assert.equal(violations(p.bucketUniformAccess, BUCKET, { ...bucket, uniformBucketLevelAccess: false }).length, 1);
});

test("a forceDestroy bucket is a violation in prod", () => {
  assert.equal(violations(p.prodBucketNotForceDestroy, BUCKET, { ...bucket, forceDestroy: true }, { stack: "prod" }).length, 1);
});

test("a forceDestroy bucket passes outside prod", () => {
  assert.deepEqual(violations(p.prodBucketNotForceDestroy, BUCKET, { ...bucket, forceDestroy: true }, { stage: "staging" }), []);
});

test("allUsers objectViewer on a bucket, the CDN read path, passes", () => {
  assert.deepEqual(violations(p.gcpNoPublicMembers, BUCKET_MEMBER, cdnRead), []);
});

test("allUsers with any other bucket role is a violation", () => {
  assert.equal(violations(p.gcpNoPublicMembers, BUCKET_MEMBER, { ...cdnRead, role: "roles/storage.objectAdmin" }).length, 1);
});

test("allAuthenticatedUsers is a violation even with objectViewer on a bucket", () => {
  const binding: BucketIAMBindingArgs = { bucket: "acme-cdn-assets", role: "roles/storage.objectViewer", members: ["allAuthenticatedUsers"] };
  assert.equal(violations(p.gcpNoPublicMembers, BUCKET_BINDING, binding).length, 1);
});

test("allUsers on a project is a violation", () => {
  const member: ProjectIamMemberArgs = { project: "acme-web-prod", role: "roles/storage.objectViewer", member: "allUsers" };
  assert.equal(violations(p.gcpNoPublicMembers, "gcp:projects/iAMMember:IAMMember", member).length, 1);
});

test("allUsers inside a bucket IAM policy document is a violation", () => {
  const policy: BucketIAMPolicyArgs = { bucket: "acme-cdn-assets", policyData: JSON.stringify({ bindings: [{ role: "roles/storage.objectViewer", members: ["allUsers"] }] }) };
  assert.equal(violations(p.gcpNoPublicMembers, BUCKET_POLICY, policy).length, 1);
});

test("a principal set pinned to a repository passes", () => {
  const member: ServiceAccountIamMemberArgs = {
    serviceAccountId: "projects/acme/serviceAccounts/ci@acme.iam.gserviceaccount.com",
    role: "roles/iam.workloadIdentityUser",
    member: "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/attribute.repository/acme/shop",
  };
  assert.deepEqual(violations(p.gcpNoWildcardPrincipalSet, "gcp:serviceaccount/iAMMember:IAMMember", member), []);
});

test("a wildcard principal set is a violation", () => {
  const member: ServiceAccountIamMemberArgs = {
    serviceAccountId: "projects/acme/serviceAccounts/ci@acme.iam.gserviceaccount.com",
    role: "roles/iam.workloadIdentityUser",
    member: "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/*",
  };
  assert.equal(violations(p.gcpNoWildcardPrincipalSet, "gcp:serviceaccount/iAMMember:IAMMember", member).length, 1);
});

// ---------------------------------------------------------------------------------------------
// GitHub

test("an environment with custom branch policies passes", () => {
  assert.deepEqual(violations(p.environmentCustomBranchPolicy, ENVIRONMENT, environment), []);
});

test("an environment limited to protected branches is a violation", () => {
  const found = violations(p.environmentCustomBranchPolicy, ENVIRONMENT, { ...environment, deploymentBranchPolicy: { customBranchPolicies: false, protectedBranches: true } });
  assert.equal(found.length, 1);
});

test("an environment without a deployment branch policy is a violation", () => {
  assert.equal(violations(p.environmentCustomBranchPolicy, ENVIRONMENT, { ...environment, deploymentBranchPolicy: undefined }).length, 1);
});

const reviewed: RepositoryEnvironmentArgs = { ...environment, reviewers: [{ teams: [1] }] };

test("a prod environment with reviewers that admins cannot bypass passes", () => {
  assert.deepEqual(violations(p.prodEnvironmentNoAdminBypass, ENVIRONMENT, { ...reviewed, canAdminsBypass: false }, { stack: "prod" }), []);
});

test("a prod environment with reviewers and GitHub's default admin bypass is a violation", () => {
  const found = violations(p.prodEnvironmentNoAdminBypass, ENVIRONMENT, reviewed, { stack: "prod" });
  assert.equal(found.length, 1);
  assert.match(found[0], /canAdminsBypass/);
});

test("a prod environment with a wait timer and admin bypass is a violation", () => {
  assert.equal(violations(p.prodEnvironmentNoAdminBypass, ENVIRONMENT, { ...environment, waitTimer: 5, canAdminsBypass: true }, { stack: "prod" }).length, 1);
});

test("admin bypass of an environment with reviewers passes outside prod", () => {
  assert.deepEqual(violations(p.prodEnvironmentNoAdminBypass, ENVIRONMENT, reviewed, { stage: "staging" }), []);
});

test("a prod environment without protection rules has nothing to bypass and passes", () => {
  assert.deepEqual(violations(p.prodEnvironmentNoAdminBypass, ENVIRONMENT, environment, { stack: "prod" }), []);
});

test("an Actions secret that is deleteBeforeReplace passes", () => {
  assert.deepEqual(violations(p.secretDeleteBeforeReplace, SECRET, secret, { deleteBeforeReplace: true }), []);
});

test("an Actions secret without deleteBeforeReplace is a violation", () => {
  const found = violations(p.secretDeleteBeforeReplace, SECRET, secret);
  assert.equal(found.length, 1);
  assert.match(found[0], /deleteBeforeReplace/);
});

test("a prod default-branch ruleset with an approval and status checks passes", () => {
  assert.deepEqual(violations(p.prodDefaultBranchRuleset, RULESET, ruleset(fullRules), { stack: "prod" }), []);
});

test("a prod default-branch ruleset without required status checks is a violation", () => {
  const found = violations(p.prodDefaultBranchRuleset, RULESET, ruleset({ pullRequest: { requiredApprovingReviewCount: 1 } }), { stack: "prod" });
  assert.equal(found.length, 1);
  assert.match(found[0], /requiredStatusChecks/);
});

test("a prod default-branch ruleset with zero approvals is a violation", () => {
  const found = violations(p.prodDefaultBranchRuleset, RULESET, ruleset({ ...fullRules, pullRequest: { requiredApprovingReviewCount: 0 } }), { stack: "prod" });
  assert.equal(found.length, 1);
  assert.match(found[0], /requiredApprovingReviewCount/);
});

test("a prod default-branch ruleset that only evaluates is a violation", () => {
  assert.equal(violations(p.prodDefaultBranchRuleset, RULESET, { ...ruleset(fullRules), enforcement: "evaluate" }, { stack: "prod" }).length, 1);
});

test("a ruleset for other branches is not held to the default-branch rules", () => {
  assert.deepEqual(violations(p.prodDefaultBranchRuleset, RULESET, ruleset({ deletion: true }, ["refs/heads/release/*"]), { stack: "prod" }), []);
});

test("outside prod a weak default-branch ruleset is reported by the advisory policy, not the mandatory one", () => {
  const weak = ruleset({ deletion: true });
  assert.deepEqual(violations(p.prodDefaultBranchRuleset, RULESET, weak, { stage: "dev" }), []);
  assert.equal(violations(p.nonProdDefaultBranchRuleset, RULESET, weak, { stage: "dev" }).length, 2);
  assert.equal(p.nonProdDefaultBranchRuleset.enforcementLevel, "advisory");
});

test("the advisory ruleset policy passes a complete default-branch ruleset", () => {
  assert.deepEqual(violations(p.nonProdDefaultBranchRuleset, RULESET, ruleset(fullRules), { stack: "dev" }), []);
});

// ---------------------------------------------------------------------------------------------
// Lifecycle

test("a protected prod registry passes", () => {
  assert.deepEqual(violations(p.prodStatefulProtected, REGISTRY, registry, { stack: "prod", protect: true }), []);
});

test("an unprotected prod bucket is a violation", () => {
  const found = violations(p.prodStatefulProtected, BUCKET, bucket, { stack: "prod" });
  assert.equal(found.length, 1);
  assert.match(found[0], /protect/);
});

test("an unprotected namespace passes outside prod", () => {
  assert.deepEqual(violations(p.prodStatefulProtected, NAMESPACE, namespace("shop"), { stage: "dev" }), []);
});

test("the configured stage decides over the stack name", () => {
  assert.equal(violations(p.prodStatefulProtected, BUCKET, bucket, { stack: "eu-west", stage: "prod" }).length, 1);
  assert.deepEqual(violations(p.prodStatefulProtected, BUCKET, bucket, { stack: "prod", stage: "dev" }), []);
});

// ---------------------------------------------------------------------------------------------
// The pack and the offline check

test("policy names are unique", () => {
  const names = p.policies.map((policy) => policy.name);
  assert.deepEqual([...new Set(names)], names);
});

const compliantProd = (): CheckedResource[] => [
  planned(REGISTRY, registry, { stack: "prod", protect: true, name: "acr" }),
  planned(ROLE_ASSIGNMENT, roleAssignment, { stack: "prod", name: "push" }),
  planned(NAMESPACE, namespace("shop"), { stack: "prod", protect: true, name: "ns" }),
  planned(QUOTA, quota("shop"), { stack: "prod", name: "quota" }),
  planned(LIMITS, limits("shop"), { stack: "prod", name: "limits" }),
  planned(SECRET, secret, { stack: "prod", deleteBeforeReplace: true, name: "npm" }),
  planned(RULESET, ruleset(fullRules), { stack: "prod", name: "main" }),
];

test("checkResources reports nothing for compliant prod resources", () => {
  assert.deepEqual(checkResources(compliantProd(), "prod"), []);
});

test("checkResources reports each violation with its policy, resource and enforcement, mandatory first", () => {
  const resources = compliantProd();
  const secretUrn = resources[5].urn;
  resources[5] = { ...resources[5], deleteBeforeReplace: false };
  resources.push(planned(RULESET, ruleset({ deletion: true }), { stack: "dev", name: "weak" }));
  const found = checkResources(resources, "staging");
  assert.deepEqual(
    found.map((v) => [v.enforcement, v.policy, v.urn]),
    [
      ["mandatory", "github-secret-delete-before-replace", secretUrn],
      ["advisory", "github-default-branch-ruleset-advisory", resources[7].urn],
      ["advisory", "github-default-branch-ruleset-advisory", resources[7].urn],
    ],
  );
});

test("checkResources applies the given stage, not the stack name in the URNs", () => {
  const resources = compliantProd().map((r) => ({ ...r, protect: false }));
  assert.deepEqual(checkResources(resources, "dev"), []);
  assert.equal(checkResources(resources, "prod").filter((v) => v.policy === "prod-stateful-resources-protected").length, 2);
});

test("checkResources turns an input known only after apply into an advisory, as a preview does", () => {
  const assignment = planned(ROLE_ASSIGNMENT, { ...roleAssignment, scope: "[unknown]" }, { name: "push" });
  const found = checkResources([assignment], "dev");
  assert.deepEqual(found, [{ policy: "azure-role-assignment-resource-scope", urn: assignment.urn, message: "not checked: .scope is only known after apply", enforcement: "advisory" }]);
});

test("checkResources decides on a grant's member when its role is known only after apply", () => {
  const grant = (member: string) => planned("gcp:projects/iAMMember:IAMMember", { project: "acme", role: "[unknown]", member }, { name: member });
  const found = checkResources([grant("serviceAccount:ci@acme.iam.gserviceaccount.com"), grant("allUsers")], "dev");
  assert.deepEqual(
    found.map((v) => [v.enforcement, v.policy, v.urn]),
    [["mandatory", "gcp-iam-no-public-members", grant("allUsers").urn]],
  );
});

test("checkResources cannot decide the CDN exception for a bucket grant whose role is known only after apply", () => {
  const grant = planned(BUCKET_MEMBER, { ...cdnRead, role: "[unknown]" });
  assert.deepEqual(
    checkResources([grant], "dev").map((v) => [v.enforcement, v.message]),
    [["advisory", "not checked: .role is only known after apply"]],
  );
});

test("formatViolations writes one line per violation naming enforcement, policy and resource", () => {
  const secretResource = planned(SECRET, secret, { stack: "prod", name: "shop-secret-NPM_TOKEN" });
  const lines = formatViolations(checkResources([secretResource], "prod"));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^mandatory github-secret-delete-before-replace github:index\/actionsSecret:ActionsSecret::shop-secret-NPM_TOKEN: deleteBeforeReplace is not set/);
});

// ---------------------------------------------------------------------------------------------
// The pipeline stack (policy config pipelineStack: true)

function pipelineViolations(policy: ResourceValidationPolicy, type: string, inputs: object, pipelineStack: boolean): string[] {
  const found: string[] = [];
  const validate = policy.validateResource;
  if (typeof validate === "function") validate(resourceValidationArgs(planned(type, inputs), { stage: "prod", pipelineStack }), (m) => found.push(m));
  return found;
}

test("only the pipeline stack may grant on a resource group, and never on a subscription", () => {
  const onGroup = { principalType: "ServicePrincipal", scope: "/subscriptions/s/resourceGroups/acme-release-dev" };
  assert.equal(pipelineViolations(p.roleAssignmentResourceScope, ROLE_ASSIGNMENT, onGroup, false).length, 1);
  assert.deepEqual(pipelineViolations(p.roleAssignmentResourceScope, ROLE_ASSIGNMENT, onGroup, true), []);
  assert.equal(pipelineViolations(p.roleAssignmentResourceScope, ROLE_ASSIGNMENT, { ...onGroup, scope: "/subscriptions/s" }, true).length, 1);
});

test("only the pipeline stack's read environments may accept any ref", () => {
  const read = { repository: "release-infra", environment: "pulumi-dev-read" };
  assert.equal(pipelineViolations(p.environmentCustomBranchPolicy, ENVIRONMENT, read, false).length, 1);
  assert.deepEqual(pipelineViolations(p.environmentCustomBranchPolicy, ENVIRONMENT, read, true), []);
  assert.equal(pipelineViolations(p.environmentCustomBranchPolicy, ENVIRONMENT, { ...read, environment: "pulumi-dev" }, true).length, 1);
});
