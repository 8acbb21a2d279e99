import assert from "node:assert/strict";
import { test } from "node:test";
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import type { RoleAssignmentArgs } from "@pulumi/azure-native/authorization";
import type { RegistryArgs } from "@pulumi/azure-native/containerregistry";
import type { FederatedIdentityCredentialArgs } from "@pulumi/azure-native/managedidentity";
import type { BackendBucketArgs, SSLPolicyArgs, TargetHttpsProxyArgs } from "@pulumi/gcp/compute";
import type { WorkloadIdentityPoolProviderArgs } from "@pulumi/gcp/iam";
import type { IAMMemberArgs as ProjectIamMemberArgs } from "@pulumi/gcp/projects";
import type { IAMMemberArgs as ServiceAccountIamMemberArgs } from "@pulumi/gcp/serviceaccount";
import type { BucketArgs, BucketIAMBindingArgs, BucketIAMMemberArgs, BucketIAMPolicyArgs } from "@pulumi/gcp/storage";
import type { ActionsSecretArgs, RepositoryEnvironmentArgs, RepositoryEnvironmentDeploymentPolicyArgs, RepositoryRulesetArgs } from "@pulumi/github";
import type { LimitRangeArgs, NamespaceArgs, ResourceQuotaArgs } from "@pulumi/kubernetes/core/v1";
import type { ClusterRoleBindingArgs } from "@pulumi/kubernetes/rbac/v1";
import { checkResources, formatViolations, resourceValidationArgs, stackValidationArgs, type CheckedResource } from "../policy/check";
import * as p from "../policy/policies";
import type { Stage } from "../policy/policies";

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

/** A stack policy's findings for `resources` of a stack whose release-infra:stage is `stage` (none: checked as prod). */
function stackViolations(policy: StackValidationPolicy, resources: CheckedResource[], stage?: Stage): { message: string; urn?: string }[] {
  const found: { message: string; urn?: string }[] = [];
  policy.validateStack(stackValidationArgs(resources, stage ? { stage } : {}), (message, urn) => found.push({ message, urn }));
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

const registry: RegistryArgs = { resourceGroupName: "rg", registryName: "acmeprodacr", sku: { name: "Premium" }, adminUserEnabled: false, anonymousPullEnabled: false };
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
const fullRules = { pullRequest: { requiredApprovingReviewCount: 1 }, requiredStatusChecks: { requiredChecks: [{ context: "test", integrationId: 15368 }] } };

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

test("a bucket that enforces public access prevention passes", () => {
  assert.deepEqual(violations(p.bucketPublicAccessPrevention, BUCKET, { ...bucket, publicAccessPrevention: "enforced" }), []);
});

test("a bucket that inherits public access prevention is a violation", () => {
  assert.equal(violations(p.bucketPublicAccessPrevention, BUCKET, { ...bucket, publicAccessPrevention: "inherited" }).length, 1);
  assert.equal(violations(p.bucketPublicAccessPrevention, BUCKET, bucket).length, 1);
});

test("a forceDestroy bucket is a violation in prod", () => {
  assert.equal(violations(p.prodBucketNotForceDestroy, BUCKET, { ...bucket, forceDestroy: true }, { stack: "prod" }).length, 1);
});

test("a forceDestroy bucket passes outside prod", () => {
  assert.deepEqual(violations(p.prodBucketNotForceDestroy, BUCKET, { ...bucket, forceDestroy: true }, { stage: "staging" }), []);
});

test("the Cloud CDN fill agent reading a bucket passes", () => {
  const fill: BucketIAMMemberArgs = { ...cdnRead, role: "projects/acme/roles/cdnFill_acme", member: "serviceAccount:service-123@cloud-cdn-fill.iam.gserviceaccount.com" };
  assert.deepEqual(violations(p.gcpNoPublicMembers, BUCKET_MEMBER, fill), []);
});

test("allUsers objectViewer on a bucket is a violation: a CDN reads through its service agent", () => {
  const found = violations(p.gcpNoPublicMembers, BUCKET_MEMBER, cdnRead);
  assert.equal(found.length, 1);
  assert.match(found[0], /cloud-cdn-fill/);
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

const BACKEND_BUCKET = "gcp:compute/backendBucket:BackendBucket";
const HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy";
const SSL_POLICY = "gcp:compute/sSLPolicy:SSLPolicy";
const backendBucket: BackendBucketArgs = { bucketName: "acme-cdn-assets", enableCdn: true, customResponseHeaders: ["X-Content-Type-Options: nosniff"] };
const httpsProxy: TargetHttpsProxyArgs = { urlMap: "projects/acme/global/urlMaps/m", sslPolicy: "projects/acme/global/sslPolicies/tls12" };

test("a backend bucket with other custom response headers passes", () => {
  assert.deepEqual(violations(p.cdnNoCacheControlResponseHeader, BACKEND_BUCKET, backendBucket), []);
});

test("a backend bucket adding a Cache-Control response header is a violation, whatever its case", () => {
  const found = violations(p.cdnNoCacheControlResponseHeader, BACKEND_BUCKET, { ...backendBucket, customResponseHeaders: ["cache-control: public, max-age=31536000, immutable"] });
  assert.equal(found.length, 1);
  assert.match(found[0], /404/);
});

test("an HTTPS proxy with an SSL policy passes", () => {
  assert.deepEqual(violations(p.httpsProxySslPolicy, HTTPS_PROXY, httpsProxy), []);
});

test("an HTTPS proxy without an SSL policy is a violation", () => {
  assert.equal(violations(p.httpsProxySslPolicy, HTTPS_PROXY, { ...httpsProxy, sslPolicy: undefined }).length, 1);
});

test("a MODERN SSL policy with TLS 1.2 passes", () => {
  const policy: SSLPolicyArgs = { profile: "MODERN", minTlsVersion: "TLS_1_2" };
  assert.deepEqual(violations(p.sslPolicyModernTls, SSL_POLICY, policy), []);
});

test("an SSL policy with the COMPATIBLE profile or TLS 1.0 is a violation for each", () => {
  assert.equal(violations(p.sslPolicyModernTls, SSL_POLICY, { profile: "COMPATIBLE", minTlsVersion: "TLS_1_2" }).length, 1);
  assert.equal(violations(p.sslPolicyModernTls, SSL_POLICY, { profile: "RESTRICTED", minTlsVersion: "TLS_1_0" }).length, 1);
  assert.equal(violations(p.sslPolicyModernTls, SSL_POLICY, {}).length, 2);
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

test("a required check bound to the app that reports it passes", () => {
  assert.deepEqual(violations(p.requiredChecksBound, RULESET, ruleset(fullRules)), []);
});

test("a required check without an integration id, which any commit status satisfies, is an advisory finding", () => {
  const found = violations(p.requiredChecksBound, RULESET, ruleset({ requiredStatusChecks: { requiredChecks: [{ context: "test" }] } }));
  assert.equal(found.length, 1);
  assert.match(found[0], /"test" has no integrationId: a commit status with that context/);
  assert.equal(p.requiredChecksBound.enforcementLevel, "advisory");
});

// ---------------------------------------------------------------------------------------------
// The refs environments deploy from

const DEPLOYMENT_POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy";
const unreviewed = (name: string, repository = "sdk"): RepositoryEnvironmentArgs => ({ repository, environment: name, deploymentBranchPolicy: { customBranchPolicies: true, protectedBranches: false } });
const deployFrom = (environmentName: string, pattern: { branchPattern?: string; tagPattern?: string }, repository = "sdk"): RepositoryEnvironmentDeploymentPolicyArgs => ({
  repository,
  environment: environmentName,
  ...pattern,
});
const branchRuleset = (includes: string[], rules: RepositoryRulesetArgs["rules"] = { pullRequest: { requiredApprovingReviewCount: 1, requireLastPushApproval: true } }, extra: Partial<RepositoryRulesetArgs> = {}): RepositoryRulesetArgs => ({
  ...ruleset(rules, includes),
  repository: "sdk",
  ...extra,
});
const tagRuleset = (includes: string[], rules: RepositoryRulesetArgs["rules"] = { creation: true, update: true, deletion: true }): RepositoryRulesetArgs => ({
  repository: "sdk",
  name: "release-tags",
  target: "tag",
  enforcement: "active",
  conditions: { refName: { includes, excludes: [] } },
  rules,
});

/** The messages of the deploy-refs policies for one environment deploying from `pattern` next to `rulesets`. */
function deployFindings(pattern: { branchPattern?: string; tagPattern?: string }, rulesets: RepositoryRulesetArgs[], stack = "prod", environment: RepositoryEnvironmentArgs = unreviewed("npm")) {
  const resources = [
    planned(ENVIRONMENT, environment, { stack, name: "env" }),
    planned(DEPLOYMENT_POLICY, deployFrom(String(environment.environment), pattern), { stack, name: "policy" }),
    ...rulesets.map((rs, i) => planned(RULESET, rs, { stack, name: `ruleset-${i}` })),
  ];
  return checkResources(resources, stack === "prod" ? "prod" : "dev").filter((v) => v.policy.startsWith("github-deploy-refs-protected"));
}

test("a branch an unreviewed environment deploys from, with no ruleset, is a mandatory finding in prod naming the fix and what the policy cannot see", () => {
  const found = deployFindings({ branchPattern: "main" }, []);
  assert.deepEqual(found.map((v) => [v.policy, v.enforcement, v.urn.split("::").pop()]), [["github-deploy-refs-protected", "mandatory", "policy"]]);
  assert.match(found[0].message, /^environment npm of sdk has no required reviewers and deploys from branch main, but no active branch ruleset of sdk covers refs\/heads\/main/);
  assert.match(found[0].message, /anyone with write access can push to main and deploy\. Add a ruleset with branches: \[main\] and requiredApprovals of 1 or more/);
  assert.match(found[0].message, /Rulesets of another stack, of the organisation or made by hand are not planned resources/);
});

test("outside prod the same gap is an advisory finding", () => {
  assert.deepEqual(deployFindings({ branchPattern: "main" }, [], "dev").map((v) => [v.policy, v.enforcement]), [["github-deploy-refs-protected-advisory", "advisory"]]);
});

test("a branch ruleset naming the branch exactly, requiring an approved pull request, covers it", () => {
  assert.deepEqual(deployFindings({ branchPattern: "main" }, [branchRuleset(["refs/heads/main"])]), []);
  assert.deepEqual(deployFindings({ branchPattern: "release/*" }, [branchRuleset(["refs/heads/release/*"])]), []);
});

test("~ALL covers every branch, and repositories are compared case-insensitively", () => {
  assert.deepEqual(deployFindings({ branchPattern: "main" }, [{ ...branchRuleset(["~ALL"]), repository: "SDK" }]), []);
});

test("~DEFAULT_BRANCH does not cover a named branch: the default branch can change without this stack", () => {
  assert.equal(deployFindings({ branchPattern: "main" }, [branchRuleset(["~DEFAULT_BRANCH"])]).length, 1);
});

test("a ruleset that covers another pattern, another repository, or only evaluates, does not cover the branch", () => {
  assert.equal(deployFindings({ branchPattern: "release/*" }, [branchRuleset(["refs/heads/release/1.x"])]).length, 1);
  assert.equal(deployFindings({ branchPattern: "main" }, [{ ...branchRuleset(["refs/heads/main"]), repository: "shop" }]).length, 1);
  assert.equal(deployFindings({ branchPattern: "main" }, [{ ...branchRuleset(["refs/heads/main"]), enforcement: "evaluate" }]).length, 1);
});

test("a ruleset whose exclude matches the branch does not cover it", () => {
  const excluding = branchRuleset(["~ALL"], undefined, { conditions: { refName: { includes: ["~ALL"], excludes: ["refs/heads/ma*"] } } });
  assert.equal(deployFindings({ branchPattern: "main" }, [excluding]).length, 1);
});

test("a pull request without an approving review, or whose approval survives later pushes, does not cover the branch", () => {
  assert.equal(deployFindings({ branchPattern: "main" }, [branchRuleset(["refs/heads/main"], { pullRequest: { requiredApprovingReviewCount: 0, requireLastPushApproval: true } })]).length, 1);
  assert.equal(deployFindings({ branchPattern: "main" }, [branchRuleset(["refs/heads/main"], { pullRequest: { requiredApprovingReviewCount: 1, requireLastPushApproval: false, dismissStaleReviewsOnPush: false } })]).length, 1);
  assert.deepEqual(deployFindings({ branchPattern: "main" }, [branchRuleset(["refs/heads/main"], { pullRequest: { requiredApprovingReviewCount: 1, dismissStaleReviewsOnPush: true } })]), []);
});

test("a bypass actor below admin (a team, an app, the write role) breaks the cover; the admin role does not", () => {
  const bypass = (actorType: string, actorId: number) => branchRuleset(["refs/heads/main"], undefined, { bypassActors: [{ actorId, actorType, bypassMode: "always" }] });
  assert.equal(deployFindings({ branchPattern: "main" }, [bypass("Team", 42)]).length, 1);
  assert.equal(deployFindings({ branchPattern: "main" }, [bypass("Integration", 7)]).length, 1);
  assert.equal(deployFindings({ branchPattern: "main" }, [bypass("RepositoryRole", 4)]).length, 1);
  assert.deepEqual(deployFindings({ branchPattern: "main" }, [bypass("RepositoryRole", 5)]), []);
});

test("an environment with required reviewers needs no ruleset: a person approves each deployment", () => {
  assert.deepEqual(deployFindings({ branchPattern: "main" }, [], "prod", { ...unreviewed("npm"), reviewers: [{ teams: [42] }] }), []);
});

test("outside prod a tag pattern is covered only by an active tag ruleset that restricts creating and moving matching tags", () => {
  assert.deepEqual(deployFindings({ tagPattern: "v*" }, [tagRuleset(["refs/tags/v*"])], "dev"), []);
  assert.equal(deployFindings({ tagPattern: "v*" }, [tagRuleset(["refs/tags/v*"], { deletion: true, update: true })], "dev").length, 1);
  assert.equal(deployFindings({ tagPattern: "v*" }, [tagRuleset(["refs/tags/v*"], { creation: true })], "dev").length, 1);
  assert.equal(deployFindings({ tagPattern: "v*" }, [branchRuleset(["refs/heads/v*"])], "dev").length, 1);
  const [finding] = deployFindings({ tagPattern: "v*" }, [], "dev");
  assert.match(finding.message, /deploys from tags v\*, but no active tag ruleset of sdk restricts creating and moving refs\/tags\/v\*: anyone with write access can push a matching tag and deploy\. Add a ruleset with tags: \[v\*\] and restrictCreation: true/);
});

test("in prod a tag ruleset does not cover an unreviewed tag-deploying environment: its admin bypass is a mandatory finding", () => {
  const found = deployFindings({ tagPattern: "v*" }, [tagRuleset(["refs/tags/v*"])]);
  assert.deepEqual(found.map((v) => [v.policy, v.enforcement, v.urn.split("::").pop()]), [["github-deploy-refs-protected", "mandatory", "policy"]]);
  assert.match(found[0].message, /still lets repository admins create such tags \(its bypass\), so one admin can tag an unreviewed commit and deploy\. Give the environment reviewers, or, for npm trusted publishing, set stagedPublishing: true/);
});

/** The trusted-publishing component of environment npm of sdk, as components/trustedPublishing.ts registers it. */
const publishingOf = (stagedPublishing: boolean) =>
  planned("release-infra:github:TrustedPublishing", { repository: "sdk", environment: "npm", registry: "npm", stagedPublishing }, { stack: "prod", name: "publishing" });

test("in prod npm staged publishing, which holds each version for a maintainer's approval, covers an unreviewed tag-deploying environment", () => {
  const resources = (staged: boolean) => [
    planned(ENVIRONMENT, unreviewed("npm"), { stack: "prod", name: "env" }),
    planned(DEPLOYMENT_POLICY, deployFrom("npm", { tagPattern: "v*" }), { stack: "prod", name: "policy" }),
    planned(RULESET, tagRuleset(["refs/tags/v*"]), { stack: "prod", name: "ruleset" }),
    publishingOf(staged),
  ];
  const findings = (staged: boolean) => checkResources(resources(staged), "prod").filter((v) => v.policy.startsWith("github-deploy-refs-protected"));
  assert.deepEqual(findings(true), []);
  assert.equal(findings(false).length, 1);
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

test("an unprotected prod CDN address or DNS authorization is a violation: the live DNS names them", () => {
  assert.equal(violations(p.prodStatefulProtected, "gcp:compute/globalAddress:GlobalAddress", { name: "cdn-address", ipVersion: "IPV4" }, { stack: "prod" }).length, 1);
  assert.equal(violations(p.prodStatefulProtected, "gcp:certificatemanager/dnsAuthorization:DnsAuthorization", { name: "cdn-dnsauth", domain: "cdn.acme.example" }, { stack: "prod" }).length, 1);
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
  const notChecked = (policy: string, urn: string) => ({ policy, urn, message: "not checked: .scope is only known after apply", enforcement: "advisory" });
  // Stack policies that read the scope are not evaluated either, for the stack as a whole.
  assert.deepEqual(found, [
    notChecked("acr-nonprod-writes-only-own-registry", ""),
    notChecked("acr-promotion-source-protected-branches", ""),
    notChecked("azure-role-assignment-resource-scope", assignment.urn),
  ]);
});

test("checkResources decides on a grant's member when its role is known only after apply", () => {
  const grant = (member: string) => planned("gcp:projects/iAMMember:IAMMember", { project: "acme", role: "[unknown]", member }, { name: member });
  const found = checkResources([grant("serviceAccount:ci@acme.iam.gserviceaccount.com"), grant("allUsers")], "dev");
  assert.deepEqual(
    found.map((v) => [v.enforcement, v.policy, v.urn]),
    [["mandatory", "gcp-iam-no-public-members", grant("allUsers").urn]],
  );
});

test("checkResources reports an allUsers bucket grant whose role is known only after apply: no role makes it public-safe", () => {
  const grant = planned(BUCKET_MEMBER, { ...cdnRead, role: "[unknown]" });
  assert.deepEqual(
    checkResources([grant], "dev").map((v) => [v.enforcement, v.policy]),
    [["mandatory", "gcp-iam-no-public-members"]],
  );
});

test("formatViolations writes one line per violation naming enforcement, policy and resource", () => {
  const secretResource = planned(SECRET, secret, { stack: "prod", name: "shop-secret-NPM_TOKEN" });
  const lines = formatViolations(checkResources([secretResource], "prod"));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^mandatory github-secret-delete-before-replace github:index\/actionsSecret:ActionsSecret::shop-secret-NPM_TOKEN: deleteBeforeReplace is not set/);
});

// ---------------------------------------------------------------------------------------------
// Registry writers and pullers across stages

const ROLE = {
  acrPull: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
  acrPush: "8311e382-0749-4cb8-b61a-304f252e45ec",
  importer: "577a9874-89fd-4f24-9dbd-b5034d0ad23a",
  reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
};
const scopeOf = (rg: string, name: string) => `/subscriptions/sub/resourceGroups/${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`;
const grantOn = (role: string, rg: string, name: string, stack: string, resource: string, description?: string): CheckedResource =>
  planned(
    ROLE_ASSIGNMENT,
    { ...roleAssignment, roleDefinitionId: `/subscriptions/sub/providers/Microsoft.Authorization/roleDefinitions/${role}`, scope: scopeOf(rg, name), description } satisfies RoleAssignmentArgs,
    { stack, name: resource },
  );
const createdRegistry = (rg: string, name: string, stack: string) => planned(REGISTRY, { ...registry, resourceGroupName: rg, registryName: name } satisfies RegistryArgs, { stack, name: `registry-${name}` });

test("a non-prod stack pushing to a registry another stack owns (Mystira's former dev/staging on mysprodacr) is a violation", () => {
  const found = stackViolations(p.nonProdWritesOnlyOwnRegistry, [grantOn(ROLE.acrPush, "mys-release-prod", "mysprodacr", "staging", "push-dev")], "staging");
  assert.equal(found.length, 1);
  assert.match(found[0].message, /grants AcrPush on registry mysprodacr from stage staging, but this stack does not create that registry/);
  assert.equal(found[0].urn, "urn:pulumi:staging::release-infra::azure-native:authorization:RoleAssignment::push-dev");
});

test("a non-prod stack pushing to the registry it creates passes", () => {
  assert.deepEqual(stackViolations(p.nonProdWritesOnlyOwnRegistry, [createdRegistry("mys-release-staging", "mysnonprodacr", "staging"), grantOn(ROLE.acrPush, "mys-release-staging", "mysnonprodacr", "staging", "push")], "staging"), []);
});

test("a non-prod stack may pull from a registry another stack owns", () => {
  assert.deepEqual(stackViolations(p.nonProdWritesOnlyOwnRegistry, [grantOn(ROLE.acrPull, "rg", "shared", "dev", "pull")], "dev"), []);
});

test("a prod stack pulling from a registry it does not create is a violation", () => {
  const found = stackViolations(p.prodPullsOnlyOwnRegistry, [grantOn(ROLE.acrPull, "mys-release-staging", "mysnonprodacr", "prod", "kubelet")]);
  assert.equal(found.length, 1);
  assert.match(found[0].message, /grants AcrPull on registry mysnonprodacr, which this prod stack does not create/);
});

test("a prod stack pulling from its own registry and reading a promotion source with Reader passes", () => {
  const resources = [
    createdRegistry("mys-release-prod", "mysprodacr", "prod"),
    grantOn(ROLE.acrPull, "mys-release-prod", "mysprodacr", "prod", "kubelet"),
    grantOn(ROLE.importer, "mys-release-prod", "mysprodacr", "prod", "import"),
    grantOn(ROLE.reader, "mys-release-staging", "mysnonprodacr", "prod", "source"),
  ];
  assert.deepEqual(stackViolations(p.prodPullsOnlyOwnRegistry, resources), []);
  assert.deepEqual(stackViolations(p.nonProdWritesOnlyOwnRegistry, resources), []);
});

test("the configured stage decides which half of the registry rule applies", () => {
  const push = grantOn(ROLE.acrPush, "rg", "other", "ci-x", "push");
  assert.deepEqual(checkResources([push], "prod", [p.nonProdWritesOnlyOwnRegistry]), []);
  assert.equal(checkResources([push], "dev", [p.nonProdWritesOnlyOwnRegistry]).length, 1);
});

const pushedFrom = (environment: string, branchPattern: string) => planned(DEPLOYMENT_POLICY, { repository: "lumen", environment, branchPattern }, { name: `${environment}-${branchPattern}` });
const mainRuleset = (approvals: number) =>
  planned(RULESET, {
    repository: "lumen",
    name: "protect-main",
    target: "branch",
    enforcement: "active",
    conditions: { refName: { includes: ["refs/heads/main"], excludes: [] } },
    rules: { pullRequest: { requiredApprovingReviewCount: approvals } },
  } satisfies RepositoryRulesetArgs);
const promotionStack = (pushBranches: string[], approvals: number) => [
  createdRegistry("rg", "lumenstagingacr", "dev"),
  grantOn(ROLE.acrPush, "rg", "lumenstagingacr", "dev", "push", "release-infra: acrpush for ci:lumen-staging"),
  grantOn(ROLE.reader, "rg", "lumenstagingacr", "dev", "source", "release-infra: reader for ci:lumen-production"),
  ...pushBranches.map((b) => pushedFrom("staging", b)),
  mainRuleset(approvals),
];

test("a promotion source pushed by an environment that deploys from every branch is a violation", () => {
  const found = stackViolations(p.promotionSourceProtectedBranches, promotionStack(["main", "*"], 1));
  assert.equal(found.length, 1);
  assert.match(found[0].message, /environment staging of lumen pushes to registry lumenstagingacr, which is promoted from, and deploys from branch pattern "\*"/);
});

test("a promotion source pushed only from main with an approved-pull-request ruleset passes", () => {
  assert.deepEqual(stackViolations(p.promotionSourceProtectedBranches, promotionStack(["main"], 1)), []);
});

test("a ruleset with zero approvals does not protect a promotion source's push branch", () => {
  assert.equal(stackViolations(p.promotionSourceProtectedBranches, promotionStack(["main"], 0)).length, 1);
});

test("without a promotion in the stack, push branches are not judged (the other stack cannot be seen)", () => {
  const resources = promotionStack(["*"], 0).filter((r) => r.name !== "source");
  assert.deepEqual(stackViolations(p.promotionSourceProtectedBranches, resources), []);
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

test("only the pipeline stack's preview environments may accept any ref, and only behind reviewers admins cannot bypass", () => {
  const preview = { repository: "release-infra", environment: "pulumi-dev-preview", reviewers: [{ teams: [1] }], canAdminsBypass: false };
  assert.equal(pipelineViolations(p.environmentCustomBranchPolicy, ENVIRONMENT, preview, false).length, 1);
  assert.deepEqual(pipelineViolations(p.environmentCustomBranchPolicy, ENVIRONMENT, preview, true), []);
  assert.equal(pipelineViolations(p.environmentCustomBranchPolicy, ENVIRONMENT, { ...preview, canAdminsBypass: true }, true).length, 1);
  assert.equal(pipelineViolations(p.environmentCustomBranchPolicy, ENVIRONMENT, { ...preview, reviewers: [] }, true).length, 1);
  for (const environment of ["pulumi-dev-read", "pulumi-dev"]) {
    assert.equal(pipelineViolations(p.environmentCustomBranchPolicy, ENVIRONMENT, { ...preview, environment }, true).length, 1, environment);
  }
});
