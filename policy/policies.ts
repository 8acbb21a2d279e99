/**
 * The security rules release-infra promises, as CrossGuard policies. They match resources by
 * provider type token and read input properties by name, so they hold for any code that
 * registers these resources, not only for our components. Type-only imports: loading this file
 * does not start the policy server, so the offline plan (policy/check.ts) and tests can use it.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
  federatedCredentialGithubEnvironment,
  nonProdWritesOnlyOwnRegistry,
  prodPullsOnlyOwnRegistry,
  promotionSourceProtectedBranches,
  registryNoSharedCredentials,
  roleAssignmentPrincipalType,
  roleAssignmentResourceScope,
} from "./rules/azure";
import {
  bucketPublicAccessPrevention,
  bucketUniformAccess,
  cdnNoCacheControlResponseHeader,
  gcpNoPublicMembers,
  gcpNoWildcardPrincipalSet,
  httpsProxySslPolicy,
  prodBucketNotForceDestroy,
  sslPolicyModernTls,
  wifProviderPinsRepository,
} from "./rules/gcp";
import {
  environmentCustomBranchPolicy,
  nonProdDefaultBranchRuleset,
  nonProdDeployRefsProtected,
  prodDefaultBranchRuleset,
  prodDeployRefsProtected,
  prodEnvironmentNoAdminBypass,
  requiredChecksBound,
  secretDeleteBeforeReplace,
} from "./rules/github";
import { namespacePodSecurity, namespaceQuotaAndLimits, noClusterRoleBinding } from "./rules/kubernetes";
import { prodStatefulProtected } from "./rules/lifecycle";

export { STAGES, stageOf, type Stage, type StageConfig } from "./rules/common";
export * from "./rules/azure";
export * from "./rules/gcp";
export * from "./rules/github";
export * from "./rules/kubernetes";
export * from "./rules/lifecycle";

/** Every policy of the pack, in the order they are reported. */
export const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
  registryNoSharedCredentials,
  roleAssignmentResourceScope,
  roleAssignmentPrincipalType,
  federatedCredentialGithubEnvironment,
  prodPullsOnlyOwnRegistry,
  nonProdWritesOnlyOwnRegistry,
  promotionSourceProtectedBranches,
  wifProviderPinsRepository,
  namespacePodSecurity,
  namespaceQuotaAndLimits,
  noClusterRoleBinding,
  bucketUniformAccess,
  bucketPublicAccessPrevention,
  prodBucketNotForceDestroy,
  gcpNoPublicMembers,
  gcpNoWildcardPrincipalSet,
  cdnNoCacheControlResponseHeader,
  httpsProxySslPolicy,
  sslPolicyModernTls,
  environmentCustomBranchPolicy,
  prodEnvironmentNoAdminBypass,
  secretDeleteBeforeReplace,
  prodDefaultBranchRuleset,
  nonProdDefaultBranchRuleset,
  requiredChecksBound,
  prodDeployRefsProtected,
  nonProdDeployRefsProtected,
  prodStatefulProtected,
];
