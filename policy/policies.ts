/**
 * The security rules release-infra promises, as CrossGuard policies. They match resources by
 * provider type token and read input properties by name, so they hold for any code that
 * registers these resources, not only for our components. Type-only imports: loading this file
 * does not start the policy server, so the offline plan (policy/check.ts) and tests can use it.
 */
import type {
  PolicyConfigSchema,
  PolicyResource,
  ReportViolation,
  ResourceValidation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from "@pulumi/policy";

export const STAGES = ["dev", "staging", "prod"] as const;
export type Stage = (typeof STAGES)[number];

/** Policy config of the stage-dependent policies (`--policy-pack-config`). */
export interface StageConfig {
  stage?: Stage;
}

const stageConfigSchema: PolicyConfigSchema = {
  properties: {
    stage: {
      type: "string",
      enum: [...STAGES],
      description: "The stack's release-infra:stage; default: the stack name when it is dev, staging or prod, else prod",
    },
  },
};

function isStage(value: unknown): value is Stage {
  return STAGES.some((s) => s === value);
}

/**
 * The stage a resource is deployed in: the policy config's `stage`, else the stack name from the
 * URN (`urn:pulumi:<stack>::…`). A stack whose name is not a stage and has no configured stage
 * is treated as prod, so a missing setting never weakens the rules.
 */
export function stageOf(urn: string, config: StageConfig): Stage {
  if (isStage(config.stage)) return config.stage;
  const stack = /^urn:pulumi:([^:]+)::/.exec(urn)?.[1];
  return isStage(stack) ? stack : "prod";
}

function stageOfArgs(args: ResourceValidationArgs): Stage {
  return stageOf(args.urn, args.getConfig<StageConfig>());
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A nested input, or undefined when any step along the path is absent. */
function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

type Check = (props: Record<string, unknown>, args: ResourceValidationArgs, reportViolation: ReportViolation) => void;

/** A resource validation that runs `check` only on resources whose type token matches. */
function onTypes(matches: (type: string) => boolean, check: Check): ResourceValidation {
  return (args, reportViolation) => {
    if (matches(args.type)) check(args.props, args, reportViolation);
  };
}

const oneOf =
  (...types: string[]) =>
  (type: string) =>
    types.includes(type);

const T = {
  registry: "azure-native:containerregistry:Registry",
  roleAssignment: "azure-native:authorization:RoleAssignment",
  federatedCredential: "azure-native:managedidentity:FederatedIdentityCredential",
  wifProvider: "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
  namespace: "kubernetes:core/v1:Namespace",
  resourceQuota: "kubernetes:core/v1:ResourceQuota",
  limitRange: "kubernetes:core/v1:LimitRange",
  bucket: "gcp:storage/bucket:Bucket",
  bucketIamMember: "gcp:storage/bucketIAMMember:BucketIAMMember",
  bucketIamBinding: "gcp:storage/bucketIAMBinding:BucketIAMBinding",
  environment: "github:index/repositoryEnvironment:RepositoryEnvironment",
  actionsSecret: "github:index/actionsSecret:ActionsSecret",
  organizationSecret: "github:index/actionsOrganizationSecret:ActionsOrganizationSecret",
  ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
} as const;

// ---------------------------------------------------------------------------------------------
// Azure

export const registryNoSharedCredentials: ResourceValidationPolicy = {
  name: "acr-no-admin-user-or-anonymous-pull",
  description: "Container registries have the admin user and anonymous pull disabled.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.registry), (props, _args, reportViolation) => {
    if (props.adminUserEnabled === true) {
      reportViolation("adminUserEnabled is true: the admin user is a shared, long-lived password; CI pushes with its OIDC identity (AcrPush). Set adminUserEnabled: false.");
    }
    if (props.anonymousPullEnabled === true) {
      reportViolation("anonymousPullEnabled is true: anyone on the internet could pull every image. Set anonymousPullEnabled: false; clusters pull with AcrPull.");
    }
  }),
};

const RESOURCE_SCOPE = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+/i;

export const roleAssignmentResourceScope: ResourceValidationPolicy = {
  name: "azure-role-assignment-resource-scope",
  description: "Role assignments are scoped to a single resource, never a subscription, resource group or management group.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.roleAssignment), (props, _args, reportViolation) => {
    const scope = props.scope;
    if (typeof scope !== "string" || !RESOURCE_SCOPE.test(scope)) {
      reportViolation(
        `scope ${JSON.stringify(scope)} is not a single resource: a grant at subscription or resource-group scope reaches every resource in it. Scope the assignment to the resource id (e.g. the registry's id).`,
      );
    }
  }),
};

export const roleAssignmentPrincipalType: ResourceValidationPolicy = {
  name: "azure-role-assignment-principal-type",
  description: "Role assignments name principalType ServicePrincipal: this program grants roles only to managed identities.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.roleAssignment), (props, _args, reportViolation) => {
    if (props.principalType !== "ServicePrincipal") {
      reportViolation(
        `principalType is ${JSON.stringify(props.principalType)}: azure-native defaults it to "User", which Azure rejects for a managed identity (and without it a new identity's grant can fail while Entra ID replicates). Set principalType: "ServicePrincipal".`,
      );
    }
  }),
};

const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";
const AZURE_AUDIENCE = "api://AzureADTokenExchange";
// Classic `repo:OWNER/REPO:environment:ENV` or GitHub's immutable `repo:OWNER@ID/REPO@ID:environment:ENV`.
const ENVIRONMENT_SUBJECT = /^repo:[A-Za-z0-9-]+(@\d+)?\/[A-Za-z0-9._-]+(@\d+)?:environment:[^:*]+$/;

export const federatedCredentialGithubEnvironment: ResourceValidationPolicy = {
  name: "azure-federated-credential-github-environment",
  description: "Federated identity credentials trust only GitHub's issuer, Azure's token-exchange audience and one repository environment.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.federatedCredential), (props, _args, reportViolation) => {
    if (props.issuer !== GITHUB_ISSUER) {
      reportViolation(`issuer is ${JSON.stringify(props.issuer)}; CI identities trust only ${GITHUB_ISSUER}.`);
    }
    const audiences = props.audiences;
    if (!Array.isArray(audiences) || audiences.length !== 1 || audiences[0] !== AZURE_AUDIENCE) {
      reportViolation(`audiences is ${JSON.stringify(audiences)}; it must be exactly ["${AZURE_AUDIENCE}"].`);
    }
    const subject = props.subject;
    if (typeof subject !== "string" || !ENVIRONMENT_SUBJECT.test(subject)) {
      reportViolation(
        `subject ${JSON.stringify(subject)} is not repo:OWNER/REPO:environment:ENV: branch (ref:) and pull_request subjects let any workflow run on that ref act as the identity, bypassing the environment's reviewers and branch policies.`,
      );
    }
  }),
};

// ---------------------------------------------------------------------------------------------
// GCP identity

export const wifProviderPinsRepository: ResourceValidationPolicy = {
  name: "gcp-wif-provider-pins-github-repository",
  description: "Workload Identity providers accept only GitHub's issuer and have an attribute condition on the repository.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.wifProvider), (props, _args, reportViolation) => {
    const issuer = field(props, "oidc", "issuerUri");
    if (issuer !== GITHUB_ISSUER) {
      reportViolation(`oidc.issuerUri is ${JSON.stringify(issuer)}; CI identities trust only ${GITHUB_ISSUER}.`);
    }
    const condition = props.attributeCondition;
    if (typeof condition !== "string" || !condition.includes("assertion.repository")) {
      reportViolation(
        "attributeCondition does not test assertion.repository: without it every GitHub repository in the world can exchange tokens with this pool. Pin the repository (and owner id).",
      );
    }
  }),
};

// ---------------------------------------------------------------------------------------------
// Kubernetes

const PSA_MODES = ["enforce", "audit", "warn"] as const;
const PSA_LEVELS = ["privileged", "baseline", "restricted"];

export const namespacePodSecurity: ResourceValidationPolicy = {
  name: "k8s-namespace-pod-security",
  description: "Namespaces carry Pod Security Admission enforce, audit and warn labels; privileged only outside prod.",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateResource: onTypes(oneOf(T.namespace), (props, args, reportViolation) => {
    const labels = field(props, "metadata", "labels");
    const prod = stageOfArgs(args) === "prod";
    for (const mode of PSA_MODES) {
      const key = `pod-security.kubernetes.io/${mode}`;
      const level = field(labels, key);
      if (typeof level !== "string" || !PSA_LEVELS.includes(level)) {
        reportViolation(`label ${key} is ${level === undefined ? "missing" : JSON.stringify(level)}; set it to one of ${PSA_LEVELS.join(", ")} so Pod Security Admission applies.`);
      } else if (prod && level === "privileged") {
        reportViolation(`label ${key} is privileged in stage prod: privileged pods can take over the node. Use baseline or restricted.`);
      }
    }
  }),
};

/** Namespaces by `<provider urn>|<name>`, so same-named namespaces on two clusters stay apart. */
function namespaceKey(resource: PolicyResource, name: unknown): string {
  return `${resource.provider?.urn ?? ""}|${String(name)}`;
}

export const namespaceQuotaAndLimits: StackValidationPolicy = {
  name: "k8s-namespace-quota-and-limits",
  description: "Every namespace has a ResourceQuota and a LimitRange.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const namespacesWith = (type: string) =>
      new Set(args.resources.filter((r) => r.type === type).map((r) => namespaceKey(r, field(r.props, "metadata", "namespace"))));
    const quotas = namespacesWith(T.resourceQuota);
    const limits = namespacesWith(T.limitRange);
    for (const namespace of args.resources.filter((r) => r.type === T.namespace)) {
      const name = field(namespace.props, "metadata", "name");
      if (typeof name !== "string") {
        reportViolation("the namespace has no metadata.name, so its quota and limit range cannot be matched; name it explicitly.", namespace.urn);
        continue;
      }
      const key = namespaceKey(namespace, name);
      if (!quotas.has(key)) reportViolation(`namespace ${name} has no ResourceQuota: one workload could exhaust the cluster.`, namespace.urn);
      if (!limits.has(key)) reportViolation(`namespace ${name} has no LimitRange: containers without requests and limits escape the quota's intent.`, namespace.urn);
    }
  },
};

const CLUSTER_ROLE_BINDING = /^kubernetes:rbac\.authorization\.k8s\.io\/[^:]+:ClusterRoleBinding(Patch)?$/;

export const noClusterRoleBinding: ResourceValidationPolicy = {
  name: "k8s-no-cluster-role-binding",
  description: "No ClusterRoleBinding: access is granted per namespace with RoleBindings.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(
    (type) => CLUSTER_ROLE_BINDING.test(type),
    (_props, _args, reportViolation) => {
      reportViolation("a ClusterRoleBinding grants its role in every namespace of the cluster; bind a Role or ClusterRole with a RoleBinding in the namespace instead.");
    },
  ),
};

// ---------------------------------------------------------------------------------------------
// Storage and CDN

export const bucketUniformAccess: ResourceValidationPolicy = {
  name: "gcs-uniform-bucket-level-access",
  description: "Buckets use uniform bucket-level access: IAM only, no per-object ACLs.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.bucket), (props, _args, reportViolation) => {
    if (props.uniformBucketLevelAccess !== true) {
      reportViolation("uniformBucketLevelAccess is not true: object ACLs could make single objects public outside IAM review. Set uniformBucketLevelAccess: true.");
    }
  }),
};

export const prodBucketNotForceDestroy: ResourceValidationPolicy = {
  name: "gcs-prod-bucket-not-force-destroy",
  description: "In prod, buckets are not forceDestroy: deleting one must not silently delete every object in it.",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateResource: onTypes(oneOf(T.bucket), (props, args, reportViolation) => {
    if (stageOfArgs(args) === "prod" && props.forceDestroy === true) {
      reportViolation("forceDestroy is true in stage prod: a delete or replace would drop every published asset. Remove forceDestroy.");
    }
  }),
};

const GCP_IAM = /^gcp:[A-Za-z0-9]+\/[A-Za-z0-9]+:[A-Za-z0-9]*(IAM|Iam)(Member|Binding|Policy)$/;
const PUBLIC_MEMBERS = ["allUsers", "allAuthenticatedUsers"];

interface Grant {
  member: string;
  /** Read only when the member matters: a role can be known only after apply (a custom role). */
  role: () => unknown;
}

/** The (role, member) pairs a GCP IAM member, binding or policy resource grants. */
function gcpGrants(type: string, props: Record<string, unknown>): Grant[] | string {
  const role = () => props.role;
  if (type.endsWith("Member")) return typeof props.member === "string" ? [{ member: props.member, role }] : [];
  if (type.endsWith("Binding")) return strings(props.members).map((member) => ({ member, role }));
  let policy: unknown;
  try {
    policy = typeof props.policyData === "string" ? JSON.parse(props.policyData) : undefined;
  } catch {
    return "policyData is not JSON, so its members cannot be checked.";
  }
  const bindings = field(policy, "bindings");
  return (Array.isArray(bindings) ? bindings : []).flatMap((b) => strings(field(b, "members")).map((member) => ({ member, role: () => field(b, "role") })));
}

/** Policies over every GCP IAM grant; an unparseable policy is reported by each. */
function onGcpGrants(check: (grant: Grant, type: string, reportViolation: ReportViolation) => void): ResourceValidation {
  return onTypes(
    (type) => GCP_IAM.test(type),
    (props, args, reportViolation) => {
      const grants = gcpGrants(args.type, props);
      if (typeof grants === "string") reportViolation(grants);
      else for (const grant of grants) check(grant, args.type, reportViolation);
    },
  );
}

/** The one public grant the CDN needs: the backend bucket reads objects anonymously. */
function isCdnPublicRead(grant: Grant, type: string): boolean {
  return (type === T.bucketIamMember || type === T.bucketIamBinding) && grant.member === "allUsers" && grant.role() === "roles/storage.objectViewer";
}

export const gcpNoPublicMembers: ResourceValidationPolicy = {
  name: "gcp-iam-no-public-members",
  description: "No IAM grant to allUsers or allAuthenticatedUsers, except allUsers roles/storage.objectViewer on a bucket (the CDN's read path).",
  enforcementLevel: "mandatory",
  validateResource: onGcpGrants((grant, type, reportViolation) => {
    if (PUBLIC_MEMBERS.includes(grant.member) && !isCdnPublicRead(grant, type)) {
      reportViolation(
        `grants a role to ${grant.member}: that is anyone on the internet. The only public grant allowed is allUsers with roles/storage.objectViewer on a bucket (BucketIAMMember or BucketIAMBinding), which a CDN backend bucket needs.`,
      );
    }
  }),
};

export const gcpNoWildcardPrincipalSet: ResourceValidationPolicy = {
  name: "gcp-iam-no-wildcard-principal-set",
  description: "No IAM grant to a principalSet containing a wildcard (every identity of a pool).",
  enforcementLevel: "mandatory",
  validateResource: onGcpGrants((grant, _type, reportViolation) => {
    if (grant.member.startsWith("principalSet://") && grant.member.includes("*")) {
      reportViolation(
        `grants a role to ${grant.member}: a wildcard principal set admits every identity of the pool. Grant to principalSet://…/attribute.repository/OWNER/REPO instead.`,
      );
    }
  }),
};

// ---------------------------------------------------------------------------------------------
// GitHub

export const environmentCustomBranchPolicy: ResourceValidationPolicy = {
  name: "github-environment-custom-branch-policy",
  description: "Every environment restricts deployments to named branches and tags (custom branch policies), not to 'protected branches'.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.environment), (props, _args, reportViolation) => {
    const policy = props.deploymentBranchPolicy;
    if (field(policy, "customBranchPolicies") !== true || field(policy, "protectedBranches") !== false) {
      reportViolation(
        `deploymentBranchPolicy is ${JSON.stringify(policy)}: without custom branch policies any branch (or any protected branch) can deploy. Set { customBranchPolicies: true, protectedBranches: false } and name the branches and tags.`,
      );
    }
  }),
};

export const prodEnvironmentNoAdminBypass: ResourceValidationPolicy = {
  name: "github-prod-environment-no-admin-bypass",
  description: "In prod, environments with protection rules (reviewers or a wait timer) cannot be bypassed by repository admins.",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateResource: onTypes(oneOf(T.environment), (props, args, reportViolation) => {
    // Reviewers and wait timers only exist where the GitHub plan supports protection rules (the
    // config schema rejects them elsewhere), and admin bypass is a setting of those rules.
    const reviewers = props.reviewers;
    const protectedByRules = (Array.isArray(reviewers) && reviewers.length > 0) || (typeof props.waitTimer === "number" && props.waitTimer > 0);
    if (stageOfArgs(args) === "prod" && protectedByRules && props.canAdminsBypass !== false) {
      reportViolation("canAdminsBypass is not false in stage prod: GitHub defaults it to true, so an admin can deploy without the required review. Set canAdminsBypass: false.");
    }
  }),
};

export const secretDeleteBeforeReplace: ResourceValidationPolicy = {
  name: "github-secret-delete-before-replace",
  description: "Repository and organization Actions secrets are deleteBeforeReplace.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.actionsSecret, T.organizationSecret), (_props, args, reportViolation) => {
    if (args.opts.deleteBeforeReplace !== true) {
      reportViolation(
        "deleteBeforeReplace is not set: on replacement the provider creates the new secret and then deletes the old one of the same name, leaving no secret (pulumi/pulumi-github#250). Add { deleteBeforeReplace: true }.",
      );
    }
  }),
};

/** Violations of a ruleset that covers the default branch; none for other rulesets. */
function defaultBranchRulesetProblems(props: Record<string, unknown>): string[] {
  const includes = strings(field(props, "conditions", "refName", "includes"));
  if (props.target !== "branch" || !includes.includes("~DEFAULT_BRANCH")) return [];
  const problems: string[] = [];
  if (props.enforcement !== "active") problems.push(`enforcement is ${JSON.stringify(props.enforcement)}; only "active" protects the default branch.`);
  const approvals = field(props, "rules", "pullRequest", "requiredApprovingReviewCount");
  if (typeof approvals !== "number" || approvals < 1) {
    problems.push(`rules.pullRequest.requiredApprovingReviewCount is ${JSON.stringify(approvals)}: the default branch must require at least one approving review.`);
  }
  const checks = field(props, "rules", "requiredStatusChecks", "requiredChecks");
  if (!Array.isArray(checks) || checks.length === 0) {
    problems.push("rules.requiredStatusChecks has no required checks: the default branch must require CI to pass before merge.");
  }
  return problems;
}

function rulesetPolicy(name: string, enforcementLevel: "mandatory" | "advisory", appliesIn: (stage: Stage) => boolean): ResourceValidationPolicy {
  return {
    name,
    description: `Rulesets on the default branch require an approving review and status checks (${enforcementLevel} ${enforcementLevel === "mandatory" ? "in prod" : "outside prod"}).`,
    enforcementLevel,
    configSchema: stageConfigSchema,
    validateResource: onTypes(oneOf(T.ruleset), (props, args, reportViolation) => {
      if (!appliesIn(stageOfArgs(args))) return;
      for (const problem of defaultBranchRulesetProblems(props)) reportViolation(problem);
    }),
  };
}

export const prodDefaultBranchRuleset = rulesetPolicy("github-default-branch-ruleset", "mandatory", (stage) => stage === "prod");
export const nonProdDefaultBranchRuleset = rulesetPolicy("github-default-branch-ruleset-advisory", "advisory", (stage) => stage !== "prod");

// ---------------------------------------------------------------------------------------------
// Lifecycle

const STATEFUL = [T.registry, T.bucket, T.namespace];

export const prodStatefulProtected: ResourceValidationPolicy = {
  name: "prod-stateful-resources-protected",
  description: "In prod, registries, buckets and namespaces are protected against deletion.",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateResource: onTypes(oneOf(...STATEFUL), (_props, args, reportViolation) => {
    if (stageOfArgs(args) === "prod" && !args.opts.protect) {
      reportViolation(`${args.type} is not protected in stage prod: deleting it loses images, published assets or workloads. Add { protect: true }.`);
    }
  }),
};

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
  prodStatefulProtected,
];
