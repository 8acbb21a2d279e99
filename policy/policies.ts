/**
 * The security rules release-infra promises, as CrossGuard policies. They match resources by
 * provider type token and read input properties by name, so they hold for any code that
 * registers these resources, not only for our components. Type-only imports: loading this file
 * does not start the policy server, so the offline plan (policy/check.ts) and tests can use it.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { federatedCredentialGithubEnvironment, registryNoSharedCredentials, roleAssignmentPrincipalType, roleAssignmentResourceScope } from "./rules/azure";
import { bucketUniformAccess, gcpNoPublicMembers, gcpNoWildcardPrincipalSet, prodBucketNotForceDestroy, wifProviderPinsRepository } from "./rules/gcp";
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
  wifProviderPinsRepository,
  namespacePodSecurity,
  namespaceQuotaAndLimits,
  noClusterRoleBinding,
  bucketUniformAccess,
  prodBucketNotForceDestroy,
  gcpNoPublicMembers,
  gcpNoWildcardPrincipalSet,
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
