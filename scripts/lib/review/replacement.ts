/**
 * Which input changes replace a resource instead of updating it, for the resource types this
 * program registers, and where each rule comes from. The engine replaces a resource when its
 * provider's diff says so or when a changed input is in the resource's `replaceOnChanges`
 * (recorded in the plan). The provider rules are read from the providers' source:
 *
 * - azure-native (3.x): every parameter of the resource's URL path (resource group, name, scope)
 *   forces replacement (pulumi/pulumi-azure-native provider/pkg/provider/diff.go,
 *   calculateDetailedDiff), plus the properties of forceNewMap
 *   (provider/pkg/gen/replacement.go: RoleAssignment principalId and scope, ResourceGroup
 *   location) and create-only properties of the API spec (x-ms-mutability without "update"; a
 *   tracked resource's location is create-only by the ARM guideline RPC-Put-V1-14). The SDK in
 *   node_modules sets no replaceOnChanges for these types: only type aliases.
 * - Kubernetes (@pulumi/kubernetes 4.x): a change of metadata.name or metadata.namespace always
 *   replaces (pulumi/pulumi-kubernetes provider/pkg/provider/provider.go, Diff); the per-kind
 *   list in provider/pkg/provider/diff.go names nothing for Namespace, ResourceQuota, LimitRange or
 *   NetworkPolicy. The provider itself is replaced only when clusterIdentifier changes
 *   (@pulumi/kubernetes provider.d.ts), and with it every object on the cluster.
 * - GitHub (@pulumi/github 6.15, bridging integrations/terraform-provider-github >= v6.12.0: its
 *   environments have the computed repository_id added in that release): attributes marked
 *   ForceNew in github/resource_github_<type>.go; a changed repository forces replacement unless
 *   the new name resolves to the same repository id, i.e. a rename (diffRepository,
 *   github/util_diff.go); a deployment policy switching between branch and tag pattern is replaced
 *   (resourceGithubRepositoryEnvironmentDeploymentPolicyDiff). Rulesets and Actions permissions
 *   have no ForceNew attribute.
 * - Google Cloud (@pulumi/gcp 9.x, bridging terraform-provider-google-beta; the attributes below
 *   are the same in hashicorp/terraform-provider-google): attributes marked ForceNew in
 *   google/services/<service>/resource_<type>.go; IAM members replace on any change of role,
 *   member or condition (google/tpgiamresource/resource_iam_member.go, IamMemberBaseSchema) and
 *   of their parent (bucket, project or service_account_id in the services' iam_*.go).
 */
import type { PlannedResource } from "../planStack";

interface Rule {
  /** Input paths (top-level or dotted); a change at or below one replaces. */
  paths: string[];
  /** Where the rule comes from, short. */
  source: string;
}

const AZURE_PATH = "azure-native: a URL path parameter (provider/pkg/provider/diff.go)";
const AZURE_FORCE_NEW = "azure-native forceNewMap (provider/pkg/gen/replacement.go)";
const ARM_LOCATION = "ARM: location is create-only (x-ms-mutability read/create, RPC-Put-V1-14)";
const K8S = "Kubernetes: the object's identity (pulumi-kubernetes provider/pkg/provider/provider.go)";
const GITHUB = "ForceNew in terraform-provider-github github/resource_github_";
const GITHUB_REPOSITORY = "terraform-provider-github diffRepository (github/util_diff.go): replaced unless it is the same repository renamed";
const GOOGLE = "ForceNew in terraform-provider-google google/services/";
const GOOGLE_IAM = "ForceNew in terraform-provider-google google/tpgiamresource/resource_iam_member.go and the parent's iam_*.go";

const azure = (path: string[], extra: Rule[] = []): Rule[] => [{ paths: path, source: AZURE_PATH }, ...extra];
const github = (file: string, paths: string[]): Rule[] => [
  { paths, source: `${GITHUB}${file}.go` },
  { paths: ["repository"], source: GITHUB_REPOSITORY },
];
const google = (file: string, paths: string[]): Rule[] => [{ paths, source: `${GOOGLE}${file}.go` }];

/** Replacement rules per type token. */
export const REPLACEMENT_RULES: Readonly<Record<string, Rule[]>> = {
  "azure-native:resources:ResourceGroup": azure(["resourceGroupName"], [{ paths: ["location"], source: AZURE_FORCE_NEW }]),
  "azure-native:containerregistry:Registry": azure(["resourceGroupName", "registryName"], [{ paths: ["location"], source: ARM_LOCATION }]),
  "azure-native:containerregistry:Task": azure(["resourceGroupName", "registryName", "taskName"], [{ paths: ["location"], source: ARM_LOCATION }]),
  "azure-native:managedidentity:UserAssignedIdentity": azure(["resourceGroupName", "resourceName"], [{ paths: ["location"], source: ARM_LOCATION }]),
  "azure-native:managedidentity:FederatedIdentityCredential": azure(["resourceGroupName", "resourceName", "federatedIdentityCredentialResourceName"]),
  "azure-native:authorization:RoleAssignment": azure(["scope", "roleAssignmentName"], [{ paths: ["principalId", "scope"], source: AZURE_FORCE_NEW }]),
  "azure-native:authorization:RoleDefinition": azure(["scope", "roleDefinitionId"]),
  "pulumi:providers:kubernetes": [{ paths: ["clusterIdentifier"], source: "the Kubernetes provider is replaced when clusterIdentifier changes, and every object on it with it (@pulumi/kubernetes provider.d.ts)" }],
  "github:index/repositoryEnvironment:RepositoryEnvironment": github("repository_environment", ["environment"]),
  "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy": github("repository_environment_deployment_policy", ["environment"]),
  "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable": github("actions_environment_variable", ["environment", "variableName"]),
  "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret": github("actions_environment_secret", ["environment", "secretName"]),
  "github:index/actionsSecret:ActionsSecret": github("actions_secret", ["secretName"]),
  "github:index/actionsVariable:ActionsVariable": github("actions_variable", ["variableName"]),
  "github:index/repositoryRuleset:RepositoryRuleset": [],
  "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions": [],
  "gcp:storage/bucket:Bucket": google("storage/resource_storage_bucket", ["name", "project", "location", "customPlacementConfig", "enableObjectRetention", "hierarchicalNamespace"]),
  "gcp:storage/bucketIAMMember:BucketIAMMember": [{ paths: ["bucket", "role", "member", "condition"], source: GOOGLE_IAM }],
  "gcp:projects/iAMMember:IAMMember": [{ paths: ["project", "role", "member", "condition"], source: GOOGLE_IAM }],
  "gcp:serviceaccount/iAMMember:IAMMember": [{ paths: ["serviceAccountId", "role", "member", "condition"], source: GOOGLE_IAM }],
  "gcp:projects/iAMCustomRole:IAMCustomRole": google("resourcemanager/resource_google_project_iam_custom_role", ["project", "roleId"]),
  "gcp:serviceaccount/account:Account": google("resourcemanager/resource_google_service_account", ["project", "accountId"]),
  "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": google("iambeta/resource_iam_workload_identity_pool", ["project", "workloadIdentityPoolId"]),
  "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": google("iambeta/resource_iam_workload_identity_pool_provider", [
    "project",
    "workloadIdentityPoolId",
    "workloadIdentityPoolProviderId",
  ]),
  "gcp:compute/backendBucket:BackendBucket": google("compute/resource_compute_backend_bucket", ["name", "project", "params"]),
  "gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey": google("compute/resource_compute_backend_bucket_signed_url_key", ["name", "project", "backendBucket", "keyValue"]),
  "gcp:compute/sSLPolicy:SSLPolicy": google("compute/resource_compute_ssl_policy", ["name", "project", "description"]),
  "gcp:certificatemanager/dnsAuthorization:DnsAuthorization": google("certificatemanager/resource_certificate_manager_dns_authorization", ["name", "project", "location", "domain", "type"]),
  "gcp:certificatemanager/certificate:Certificate": google("certificatemanager/resource_certificate_manager_certificate", ["name", "project", "location", "scope", "managed", "selfManaged"]),
  "gcp:certificatemanager/certificateMap:CertificateMap": google("certificatemanager/resource_certificate_manager_certificate_map", ["name", "project"]),
  "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry": google("certificatemanager/resource_certificate_manager_certificate_map_entry", ["name", "project", "map", "hostname", "matcher"]),
  "gcp:compute/uRLMap:URLMap": google("compute/resource_compute_url_map", ["name", "project"]),
  "gcp:compute/targetHttpsProxy:TargetHttpsProxy": google("compute/resource_compute_target_https_proxy", ["name", "project", "description", "httpKeepAliveTimeoutSec", "proxyBind", "tlsEarlyData"]),
  "gcp:compute/targetHttpProxy:TargetHttpProxy": google("compute/resource_compute_target_http_proxy", ["name", "project", "description", "httpKeepAliveTimeoutSec", "proxyBind"]),
  "gcp:compute/globalAddress:GlobalAddress": google("compute/resource_compute_global_address", ["name", "project", "address", "addressType", "description", "ipVersion", "network", "prefixLength", "purpose"]),
  "gcp:compute/globalForwardingRule:GlobalForwardingRule": google("compute/resource_compute_global_forwarding_rule", [
    "name",
    "project",
    "description",
    "ipAddress",
    "ipProtocol",
    "ipVersion",
    "metadataFilters",
    "network",
    "networkTier",
    "noAutomateDnsZone",
    "portRange",
    "serviceDirectoryRegistrations",
    "sourceIpRanges",
    "subnetwork",
  ]),
  "gcp:compute/managedSslCertificate:ManagedSslCertificate": google("compute/resource_compute_managed_ssl_certificate", ["name", "project", "description", "managed", "type"]),
};

const KUBERNETES: Rule = { paths: ["metadata.name", "metadata.namespace"], source: K8S };

/** Whether `changed` (a flattened input path) is `rule` or lies below it. */
function under(changed: string, rule: string): boolean {
  return changed === rule || changed.startsWith(`${rule}.`) || changed.startsWith(`${rule}[`);
}

export interface ReplaceReason {
  path: string;
  source: string;
}

/**
 * Why changing `changed` input paths replaces `resource`; empty for an in-place update.
 * `known` is false for a type this program does not use (no rules: an update is assumed).
 */
export function replacementReasons(resource: Pick<PlannedResource, "type" | "replaceOnChanges">, changed: readonly string[]): { reasons: ReplaceReason[]; known: boolean } {
  const rules = [...(REPLACEMENT_RULES[resource.type] ?? []), ...(resource.type.startsWith("kubernetes:") ? [KUBERNETES] : [])];
  const known = resource.type in REPLACEMENT_RULES || resource.type.startsWith("kubernetes:");
  const program = resource.replaceOnChanges.map((p) => p.replace(/\[\*\]/g, "").replace(/^\*$/, ""));
  const reasons: ReplaceReason[] = [];
  for (const path of changed) {
    const byRule = rules.find((rule) => rule.paths.some((p) => under(path, p)));
    if (byRule) reasons.push({ path, source: byRule.source });
    else if (program.some((p) => p === "" || under(path, p))) reasons.push({ path, source: "the resource's replaceOnChanges option" });
  }
  // Switching a deployment policy between branch and tag pattern (both change) replaces it.
  if (resource.type === "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy" && changed.includes("branchPattern") && changed.includes("tagPattern")) {
    reasons.push({ path: "branchPattern, tagPattern", source: `${GITHUB}repository_environment_deployment_policy.go (resourceGithubRepositoryEnvironmentDeploymentPolicyDiff)` });
  }
  return { reasons, known };
}
