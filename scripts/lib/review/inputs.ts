/** Reading planned resources: typed access to their plain-JSON inputs, type tokens, flattening. */
import type { WireValue } from "../../mocks";
import type { PlannedResource } from "../planStack";

export const UNKNOWN = "[unknown]";

/** The value at `path` of an input object, or undefined. */
export function field(value: unknown, ...path: string[]): unknown {
  let at: unknown = value;
  for (const key of path) {
    if (at === null || typeof at !== "object" || Array.isArray(at)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** A known string input; undefined when absent or only known after apply. */
export function str(value: unknown, ...path: string[]): string | undefined {
  const v = field(value, ...path);
  return typeof v === "string" && v !== UNKNOWN ? v : undefined;
}

export function list(value: unknown, ...path: string[]): unknown[] {
  const v = field(value, ...path);
  return Array.isArray(v) ? v : [];
}

export const strings = (value: unknown, ...path: string[]): string[] =>
  list(value, ...path).filter((v): v is string => typeof v === "string");

/** `ActionsEnvironmentVariable` of `github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable`. */
export const shortType = (type: string): string => type.split(":").pop() ?? type;

export const ofType = (resources: readonly PlannedResource[], ...types: string[]) => resources.filter((r) => types.includes(r.type));

/** Inputs flattened to `a.b[0].c` paths with JSON-encoded leaves (arrays of scalars stay one leaf). */
export function flattenInputs(value: WireValue, prefix = "", out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0 && prefix) out.set(prefix, "{}");
    for (const key of keys) flattenInputs(value[key], prefix ? `${prefix}.${key}` : key, out);
  } else if (Array.isArray(value) && value.some((v) => v !== null && typeof v === "object")) {
    value.forEach((v, i) => flattenInputs(v, `${prefix}[${i}]`, out));
  } else {
    out.set(prefix, typeof value === "string" ? value : JSON.stringify(value));
  }
  return out;
}

/** Resource types the access map and the diff read. */
export const T = {
  stack: "pulumi:pulumi:Stack",
  roleAssignment: "azure-native:authorization:RoleAssignment",
  roleDefinition: "azure-native:authorization:RoleDefinition",
  resourceGroup: "azure-native:resources:ResourceGroup",
  registry: "azure-native:containerregistry:Registry",
  uami: "azure-native:managedidentity:UserAssignedIdentity",
  federatedCredential: "azure-native:managedidentity:FederatedIdentityCredential",
  serviceAccount: "gcp:serviceaccount/account:Account",
  serviceAccountMember: "gcp:serviceaccount/iAMMember:IAMMember",
  bucket: "gcp:storage/bucket:Bucket",
  bucketMember: "gcp:storage/bucketIAMMember:BucketIAMMember",
  projectMember: "gcp:projects/iAMMember:IAMMember",
  customRole: "gcp:projects/iAMCustomRole:IAMCustomRole",
  certificate: "gcp:compute/managedSslCertificate:ManagedSslCertificate",
  environment: "github:index/repositoryEnvironment:RepositoryEnvironment",
  deploymentPolicy: "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
  environmentSecret: "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
  environmentVariable: "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
  repositorySecret: "github:index/actionsSecret:ActionsSecret",
  repositoryVariable: "github:index/actionsVariable:ActionsVariable",
  ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
  actionsDefaults: "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions",
} as const;
