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
} from "@pulumi/policy";

/** The issuer of GitHub Actions OIDC tokens, the only one CI identities may trust. */
export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";

export const STAGES = ["dev", "staging", "prod"] as const;
export type Stage = (typeof STAGES)[number];

/** Policy config of the stage-dependent policies (`--policy-pack-config`). */
export interface StageConfig {
  stage?: Stage;
}

export const stageConfigSchema: PolicyConfigSchema = {
  properties: {
    stage: {
      type: "string",
      enum: [...STAGES],
      description: "The stack's release-infra:stage; default: the stack name when it is dev, staging or prod, else prod",
    },
  },
};

export function isStage(value: unknown): value is Stage {
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

export function stageOfArgs(args: ResourceValidationArgs): Stage {
  return stageOf(args.urn, args.getConfig<StageConfig>());
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
  environment: "github:index/repositoryEnvironment:RepositoryEnvironment",
  actionsSecret: "github:index/actionsSecret:ActionsSecret",
  organizationSecret: "github:index/actionsOrganizationSecret:ActionsOrganizationSecret",
  ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
  deploymentPolicy: "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
} as const;

