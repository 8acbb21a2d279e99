/**
 * Helpers of the policy pack's rules: the stage a resource is deployed in, reading inputs, and
 * matching resources by provider type token. Type-only imports: loading the rules does not start
 * the policy server, so the offline plan (policy/check.ts) and tests can use them.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidation,
  ResourceValidationArgs,
  StackValidationArgs,
} from "@pulumi/policy";

/** The issuer of GitHub Actions OIDC tokens, the only one CI identities may trust. */
export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";

export const STAGES = ["dev", "staging", "prod"] as const;
export type Stage = (typeof STAGES)[number];

/**
 * The pack's policy config (`--policy-pack-config`, pulumi/actions `policyPackConfigs`), the same
 * for every policy that declares it: `npm run -s stacks -- --policy-config STACK` writes it from the
 * stack file, and the offline plan passes the same values to policy/check.ts.
 */
export interface StageConfig {
  /** The stack's release-infra:stage. */
  stage?: Stage;
  /** The stack is the pipeline stack (release-infra:pipeline). */
  pipelineStack?: boolean;
}

export const stageConfigSchema: PolicyConfigSchema = {
  properties: {
    stage: {
      type: "string",
      enum: [...STAGES],
      description: "The stack's release-infra:stage; without it every stage-dependent policy applies as in prod",
    },
    pipelineStack: {
      type: "boolean",
      description: "true for the pipeline stack (release-infra:pipeline): it grants the pipelines' identities rights on resource groups, and its read environments accept any ref",
    },
  },
};

export function isStage(value: unknown): value is Stage {
  return STAGES.some((s) => s === value);
}

/**
 * The stage a resource is deployed in: the policy config's `stage`, which comes from the stack's
 * release-infra:stage offline and in the CLI alike. Without it the rules apply as in prod, so a
 * missing setting never weakens them; the stack name is never guessed from (a stack `dev-eu`
 * with stage dev is dev, one named `prod` with stage staging is staging).
 */
export function stageOf(config: StageConfig): Stage {
  return isStage(config.stage) ? config.stage : "prod";
}

export function stageOfArgs(args: Pick<ResourceValidationArgs, "getConfig"> | Pick<StackValidationArgs, "getConfig">): Stage {
  return stageOf(args.getConfig<StageConfig>());
}

/** Whether the resource belongs to the pipeline stack (policy config `pipelineStack: true`). */
export function inPipelineStack(args: ResourceValidationArgs): boolean {
  return args.getConfig<StageConfig>().pipelineStack === true;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A nested input, or undefined when any step along the path is absent. */
export function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

export type Check = (props: Record<string, unknown>, args: ResourceValidationArgs, reportViolation: ReportViolation) => void;

/** A resource validation that runs `check` only on resources whose type token matches. */
export function onTypes(matches: (type: string) => boolean, check: Check): ResourceValidation {
  return (args, reportViolation) => {
    if (matches(args.type)) check(args.props, args, reportViolation);
  };
}

export const oneOf =
  (...types: string[]) =>
  (type: string) =>
    types.includes(type);

export const T = {
  registry: "azure-native:containerregistry:Registry",
  roleAssignment: "azure-native:authorization:RoleAssignment",
  federatedCredential: "azure-native:managedidentity:FederatedIdentityCredential",
  wifProvider: "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
  namespace: "kubernetes:core/v1:Namespace",
  resourceQuota: "kubernetes:core/v1:ResourceQuota",
  limitRange: "kubernetes:core/v1:LimitRange",
  bucket: "gcp:storage/bucket:Bucket",
  globalAddress: "gcp:compute/globalAddress:GlobalAddress",
  dnsAuthorization: "gcp:certificatemanager/dnsAuthorization:DnsAuthorization",
  environment: "github:index/repositoryEnvironment:RepositoryEnvironment",
  actionsSecret: "github:index/actionsSecret:ActionsSecret",
  organizationSecret: "github:index/actionsOrganizationSecret:ActionsOrganizationSecret",
  ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
  deploymentPolicy: "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
  /** release-infra's component for the registry side of trusted publishing (components/trustedPublishing.ts). */
  trustedPublishing: "release-infra:github:TrustedPublishing",
} as const;

/**
 * A ref name pattern as GitHub's rulesets match it (fnmatch with File::FNM_PATHNAME: `*` and `?`
 * stay within one path segment, `**` crosses them), as a regular expression.
 */
export function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}
