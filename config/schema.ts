import { z } from "zod";
import { keyPath } from "./errors";
import { isQuantity, quantityValue } from "./quantity";

/**
 * The stack config (`Pulumi.<stack>.yaml`), keyed exactly as the file is: `release-infra:azure`,
 * `github:owner`, ... This schema is the single source of the config's shape and rules; the types
 * below are inferred from it, and `stack-config.schema.json` is generated from it.
 */

/** Environment variables release-infra sets on every environment with `access` (docs/configuration.md, wired variables). */
export const WIRED_VARIABLES = [
  "AZURE_CLIENT_ID",
  "AZURE_TENANT_ID",
  "AZURE_SUBSCRIPTION_ID",
  "REGISTRY_LOGIN_SERVER",
  "AKS_CLUSTER_NAME",
  "AKS_RESOURCE_GROUP",
  "K8S_NAMESPACE",
  "GCP_WORKLOAD_IDENTITY_PROVIDER",
  "GCP_SERVICE_ACCOUNT",
  "CDN_BUCKET",
  "CDN_URL_MAP",
  "CDN_BASE_URL",
] as const;

/** Keys of another namespace (provider settings) the program reads; all others are the providers' own. */
export const PROVIDER_KEYS = ["azure-native:location", "gcp:project", "github:owner"] as const;

// ---------------------------------------------------------------------------------------------
// Helpers

/** A strict object: unknown keys are errors, and the error remembers which keys were allowed. */
function strict<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== "unrecognized_keys") return undefined;
      Object.assign(issue, { allowed });
      return `unknown key`;
    },
  });
}

function pattern(regex: RegExp, rule: string) {
  return z.string().regex(regex, { message: rule });
}

/** Adds an issue for every value that occurs more than once (case-insensitively when asked). */
function uniqueBy<T>(
  ctx: z.core.$RefinementCtx,
  items: readonly T[],
  key: (item: T) => string,
  path: (index: number) => PropertyKey[],
  what: string,
  caseInsensitive = false,
) {
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    const raw = key(item);
    const k = caseInsensitive ? raw.toLowerCase() : raw;
    const first = seen.get(k);
    if (first === undefined) {
      seen.set(k, index);
    } else {
      ctx.addIssue({
        code: "custom",
        path: path(index),
        message: `duplicate ${what} "${raw}" (already at index ${first}); ${what}s must be unique${caseInsensitive ? " (case-insensitive)" : ""}`,
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Names that clouds restrict

/** https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules (Microsoft.Resources) */
const resourceGroupName = pattern(
  /^[-\w.()]{0,89}[-\w()]$/,
  "must be 1-90 letters, digits, '_', '-', '.', '(' or ')' and must not end with '.'",
);

/** ACR: 5-50 alphanumerics; lower case because the login server is lower case. */
const registryName = pattern(/^[a-z0-9]{5,50}$/, "must be 5-50 lowercase letters or digits (no hyphens)");

/** DNS-1123 label; `kube-` is reserved for Kubernetes system namespaces. */
const namespaceName = pattern(
  /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
  "must be a DNS-1123 label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit",
)
  .refine((n) => !n.startsWith("kube-"), { message: `must not start with "kube-" (reserved for Kubernetes system namespaces)` })
  .refine((n) => n !== "default", { message: `must not be "default" (shared by every workload; give the environment its own namespace)` });

/** AKS cluster names: 1-63 letters, digits, '_' and '-', starting and ending with a letter or digit. */
const clusterName = pattern(
  /^[a-zA-Z0-9]([-_a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/,
  "must be 1-63 letters, digits, '-' or '_', starting and ending with a letter or digit",
);

/** https://cloud.google.com/storage/docs/buckets#naming */
const bucketName = z.string().superRefine((name, ctx) => {
  const fail = (message: string) => ctx.addIssue({ code: "custom", message });
  if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name)) {
    fail("must use only lowercase letters, digits, '-', '_' and '.', and start and end with a letter or digit");
    return;
  }
  const parts = name.split(".");
  if (parts.length === 1 ? name.length < 3 || name.length > 63 : name.length > 222 || parts.some((p) => p.length < 1 || p.length > 63)) {
    fail("must be 3-63 characters (up to 222 with dots, each dot-separated part at most 63)");
  }
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) fail("must not look like an IP address");
  if (name.startsWith("goog")) fail(`must not start with "goog" (reserved by Google)`);
  if (/g[o0]{2}g[l1]e/.test(name)) fail(`must not contain "google" or a close misspelling`);
});

/** GitHub repository names. */
const repositoryName = pattern(/^[A-Za-z0-9._-]{1,100}$/, "must be 1-100 letters, digits, '.', '_' or '-'");

/** GitHub environment names: at most 255 characters; we also keep them URL- and URN-friendly. */
const environmentName = pattern(
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/,
  "must be 1-255 letters, digits, '.', '_' or '-', starting with a letter or digit",
);

/** https://docs.github.com/actions/security-guides/using-secrets-in-github-actions#naming-your-secrets */
const actionsName = (what: string) =>
  pattern(/^[A-Za-z_][A-Za-z0-9_]*$/, `${what} names must be letters, digits or '_' and must not start with a digit`).refine(
    (n) => !n.toUpperCase().startsWith("GITHUB_"),
    { message: `${what} names must not start with "GITHUB_" (reserved by GitHub)` },
  );

const teamSlug = pattern(/^[a-z0-9][a-z0-9._-]*$/, "must be a team slug (lowercase letters, digits, '.', '_', '-')");
const userLogin = pattern(
  /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/,
  "must be a GitHub login (1-39 letters, digits or single hyphens)",
);

/** GCP label keys and values, also valid as Azure tags. https://cloud.google.com/compute/docs/labeling-resources */
const labelKey = pattern(/^[a-z][a-z0-9_-]{0,62}$/, "must be a GCP label key: 1-63 lowercase letters, digits, '_' or '-', starting with a letter");
const labelValue = pattern(/^[a-z0-9_-]{0,63}$/, "must be a GCP label value: at most 63 lowercase letters, digits, '_' or '-'");

/** Five-field cron as ACR task timer triggers take it. */
const cron = z.string().superRefine((c, ctx) => {
  const fields = c.trim().split(/\s+/);
  if (fields.length !== 5) {
    ctx.addIssue({ code: "custom", message: `must be a five-field cron expression ("minute hour day-of-month month day-of-week"), e.g. "0 3 * * *"` });
  } else if (!fields.every((f) => /^[\d*,/-]+$|^[A-Za-z]{3}$/.test(f))) {
    ctx.addIssue({ code: "custom", message: "each cron field may only use digits, '*', ',', '-', '/' or a three-letter name" });
  }
});

const quantity = pattern(/^\S+$/, "must be a Kubernetes quantity").refine(isQuantity, {
  message: `must be a Kubernetes quantity such as "500m", "2", "512Mi" or "16Gi"`,
});

/** Cloud CDN TTLs are 0..31,622,400 s (one leap year). https://cloud.google.com/cdn/docs/using-ttl-overrides */
const CDN_MAX_TTL = 31_622_400;
const maxAge = z.number().int().min(0).max(CDN_MAX_TTL);

/** URL-map / cache-invalidation path patterns: start with '/', no '?' or '#', '*' only as a final '/*'. */
const urlPathPattern = pattern(
  /^\/[^?#*]*(\/\*)?$/,
  `must be a URL-map path pattern: start with "/", no "?" or "#", and "*" only as a final "/*" (e.g. "/v1/*")`,
);

const hostname = pattern(
  /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
  "must be a lowercase fully qualified domain name such as cdn.example.com",
);
const httpsOrigin = pattern(
  /^https:\/\/([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(:\d{1,5})?$/,
  `must be an https origin without a path, e.g. "https://app.example.com"`,
);

const refPattern = pattern(/^\S+$/, "must be a non-empty branch or tag pattern without spaces");

/**
 * Whether GitHub offers environment protection rules (required reviewers, wait timers, admin
 * bypass) on a repository: Free, Pro and Team only on public ones
 * (https://docs.github.com/actions/reference/workflows-and-actions/deployments-and-environments).
 */
export function protectionRulesAvailable(repository: { visibility: string; plan: string }): boolean {
  return repository.visibility === "public" || repository.plan === "enterprise";
}

// ---------------------------------------------------------------------------------------------
// Sections

const reviewers = strict({
  /** Team slugs of github:owner. */
  teams: z.array(teamSlug).default([]),
  /** User logins. */
  users: z.array(userLogin).default([]),
}).refine((r) => r.teams.length + r.users.length <= 6, {
  message: "GitHub allows at most 6 required reviewers (teams and users together)",
});

const deployFrom = strict({
  /** Branch name patterns allowed to deploy (custom deployment branch policies). */
  branches: z.array(refPattern).default([]),
  /** Tag name patterns allowed to deploy. */
  tags: z.array(refPattern).default([]),
}).refine((d) => d.branches.length + d.tags.length > 0, {
  message: "must list at least one branch or tag: an environment without deployment policies lets any ref deploy",
});

const access = strict({
  /** What the environment's CI identity may do on the stack's registry. */
  registry: z.enum(["pull", "push", "promote"]).optional(),
  /** Namespaces the CI identity may deploy to (Azure RBAC scoped to the namespace). */
  namespaces: z.array(strict({ cluster: clusterName, namespace: namespaceName })).default([]),
  /** Publish rights on the CDN bucket and cache invalidation on its URL map. */
  cdn: z.enum(["publish"]).optional(),
});

const environment = strict({
  name: environmentName,
  reviewers: reviewers.optional(),
  preventSelfReview: z.boolean().default(true),
  /** Minutes to wait before a deployment proceeds, 0-43200 (30 days). */
  waitMinutes: z.number().int().min(0).max(43200).optional(),
  deployFrom,
  /** Names of environment secrets; values come from release-infra:secrets. */
  secrets: z.array(actionsName("secret")).default([]),
  variables: z.record(actionsName("variable"), z.string()).default({}),
  access: access.optional(),
});

const ruleset = strict({
  name: pattern(/^\S(.{0,98}\S)?$/, "must be 1-100 characters without leading or trailing spaces"),
  /** Branch patterns (`main`, `release/*`, `~DEFAULT_BRANCH`, `~ALL`). */
  branches: z.array(refPattern).optional(),
  /** Tag patterns (`v*`). */
  tags: z.array(refPattern).optional(),
  requiredApprovals: z.number().int().min(0).max(10).optional(),
  requiredChecks: z.array(z.string().min(1)).default([]),
  dismissStaleReviews: z.boolean().default(true),
  requireCodeOwnerReview: z.boolean().default(false),
  requireLinearHistory: z.boolean().default(false),
  /** Only repository admins may create matching tags (the ruleset's one bypass actor); on branches nobody may. */
  restrictCreation: z.boolean().default(false),
}).superRefine((r, ctx) => {
  const kinds = Number(r.branches !== undefined) + Number(r.tags !== undefined);
  if (kinds !== 1) {
    ctx.addIssue({ code: "custom", message: "must set exactly one of branches or tags (a ruleset targets one kind of ref)" });
    return;
  }
  if ((r.branches ?? r.tags ?? []).length === 0) {
    ctx.addIssue({ code: "custom", path: [r.branches ? "branches" : "tags"], message: "must list at least one pattern" });
  }
  if (r.tags && (r.requiredApprovals !== undefined || r.requiredChecks.length > 0)) {
    ctx.addIssue({
      code: "custom",
      path: ["tags"],
      message: "tag rulesets cannot require approvals or status checks (those apply to pull requests into branches)",
    });
  }
});

/** A workflow file name, as registries match it (`release.yml`), not a path. */
const workflowFile = z.string().superRefine((w, ctx) => {
  if (w.includes("/")) {
    ctx.addIssue({
      code: "custom",
      message: `must be the workflow file name only (e.g. "release.yml"), not a path: registries match the file name in .github/workflows`,
    });
  } else if (!/^[A-Za-z0-9._-]+\.ya?ml$/.test(w)) {
    ctx.addIssue({ code: "custom", message: `must be a workflow file name ending in .yml or .yaml` });
  }
});

const trustedPublishing = strict({
  registry: z.enum(["pypi", "npm", "nuget"]),
  /** The package (project) name on the registry. */
  package: z.string().min(1),
  workflow: workflowFile,
  /** The dedicated GitHub environment the publishing job runs in; entries of one job (a monorepo's packages) share it. */
  environment: environmentName,
  deployFrom,
  reviewers: reviewers.optional(),
  waitMinutes: z.number().int().min(0).max(43200).optional(),
  /** True when the workflow above is a reusable workflow called by another (PyPI rejects those). */
  reusableWorkflow: z.boolean().default(false),
});

type TrustedPublishingEntry = z.output<typeof trustedPublishing>;

/** What trusted-publishing entries sharing an environment must agree on: the environment is made once, from the first. */
const SHARED_PUBLISHING_KEYS = ["environment", "registry", "workflow", "deployFrom", "reviewers", "waitMinutes"] as const;

/** A key's value as it shapes the environment: order-free lists, no reviewers and no wait timer alike however written. */
function sharedValue(entry: TrustedPublishingEntry, key: (typeof SHARED_PUBLISHING_KEYS)[number]): string {
  const sorted = (list: readonly string[]) => [...new Set(list)].sort();
  switch (key) {
    case "deployFrom":
      return JSON.stringify({ branches: sorted(entry.deployFrom.branches), tags: sorted(entry.deployFrom.tags) });
    case "reviewers": {
      const r = entry.reviewers;
      return r && r.teams.length + r.users.length > 0 ? JSON.stringify({ teams: sorted(r.teams), users: sorted(r.users) }) : "";
    }
    case "waitMinutes":
      return entry.waitMinutes ? String(entry.waitMinutes) : "";
    default:
      return entry[key];
  }
}

/**
 * The first key in which a trusted-publishing entry differs from another that names the same
 * environment (case-insensitively), so one environment cannot serve both; undefined when it can.
 */
export function sharedEnvironmentConflict(entry: TrustedPublishingEntry, other: TrustedPublishingEntry): (typeof SHARED_PUBLISHING_KEYS)[number] | undefined {
  return SHARED_PUBLISHING_KEYS.find((key) => sharedValue(entry, key) !== sharedValue(other, key));
}

const repository = strict({
  name: repositoryName,
  /** Numeric repository id (`gh api repos/OWNER/REPO --jq .id`): with github.ownerId, CI identities also trust GitHub's immutable subject form. */
  id: z.number().int().positive().optional(),
  visibility: z.enum(["public", "private", "internal"]),
  /** The GitHub plan of github:owner; gates reviewers, wait timers and rulesets on private repositories. */
  plan: z.enum(["free", "pro", "team", "enterprise"]),
  environments: z.array(environment).default([]),
  rulesets: z.array(ruleset).default([]),
  secrets: z.array(actionsName("secret")).default([]),
  variables: z.record(actionsName("variable"), z.string()).default({}),
  trustedPublishing: z.array(trustedPublishing).default([]),
  /** This stack owns the repository's Actions defaults (read-only workflow token, no PR approvals by workflows). */
  actionsDefaults: z.boolean().default(true),
});

const namespace = strict({
  name: namespaceName,
  podSecurity: z.enum(["privileged", "baseline", "restricted"]).default("restricted"),
  quota: strict({ cpu: quantity, memory: quantity, pods: z.number().int().min(1).max(10000) }),
  containerDefaults: strict({ cpu: quantity, memory: quantity }),
  network: z.enum(["default-deny", "allow-all"]).default("default-deny"),
}).superRefine((ns, ctx) => {
  for (const resource of ["cpu", "memory"] as const) {
    const perContainer = quantityValue(ns.containerDefaults[resource]);
    const total = quantityValue(ns.quota[resource]);
    if (perContainer !== undefined && total !== undefined && perContainer > total) {
      ctx.addIssue({
        code: "custom",
        path: ["containerDefaults", resource],
        message: `is larger than the namespace quota of ${ns.quota[resource]}: no pod with default resources could start`,
      });
    }
  }
});

const cluster = strict({
  name: clusterName,
  resourceGroup: resourceGroupName,
  /** Grant AcrPull on the stack's registry to the cluster's kubelet identity. */
  pullFromRegistry: z.boolean().default(false),
  namespaces: z.array(namespace).default([]),
});

const registry = strict({
  name: registryName,
  /** True: another stack owns the registry; this stack only grants access to it. */
  existing: z.boolean().default(false),
  /** Resource group of an existing registry (default: release-infra:azure.resourceGroup). */
  resourceGroup: resourceGroupName.optional(),
  sku: z.enum(["Basic", "Standard", "Premium"]).optional(),
  /** Days untagged manifests are kept (Premium only), 0-365. */
  untaggedRetentionDays: z.number().int().min(0).max(365).optional(),
  /** Zone redundancy (Premium only; set at creation). */
  zoneRedundant: z.boolean().optional(),
  /** Registries whose images are promoted into this one with `az acr import`. */
  importFrom: z.array(strict({ name: registryName, resourceGroup: resourceGroupName })).default([]),
  /** A scheduled ACR task that runs `acr purge` (cron in UTC). */
  purge: strict({
    schedule: cron,
    olderThanDays: z.number().int().min(0).max(3650),
    untaggedOnly: z.boolean().default(false),
    /** `acr purge --filter` value, `<repository regex>:<tag regex>`. */
    filter: pattern(/^[^\s:'"]+:[^\s'"]+$/, `must be "<repository regex>:<tag regex>" without spaces or quotes, e.g. ".*:.*"`).default(".*:.*"),
  }).optional(),
}).superRefine((r, ctx) => {
  if (r.existing) {
    for (const key of ["sku", "untaggedRetentionDays", "zoneRedundant", "purge"] as const) {
      if (r[key] !== undefined) {
        ctx.addIssue({ code: "custom", path: [key], message: `cannot be set on an existing registry (another stack owns it; set it there)` });
      }
    }
    if (r.importFrom.length > 0) {
      ctx.addIssue({ code: "custom", path: ["importFrom"], message: "cannot be set on an existing registry (another stack owns it; set it there)" });
    }
    return;
  }
  if (r.resourceGroup !== undefined) {
    ctx.addIssue({ code: "custom", path: ["resourceGroup"], message: "is only for an existing registry; a registry this stack creates lives in release-infra:azure.resourceGroup" });
  }
  if (r.sku === undefined) {
    ctx.addIssue({ code: "custom", path: ["sku"], message: "is required for a registry this stack creates: Basic, Standard or Premium" });
  } else if (r.sku !== "Premium") {
    if (r.untaggedRetentionDays !== undefined) {
      ctx.addIssue({ code: "custom", path: ["untaggedRetentionDays"], message: `requires sku Premium (this registry is ${r.sku}): ACR's retention policy is a Premium feature` });
    }
    if (r.zoneRedundant !== undefined) {
      ctx.addIssue({ code: "custom", path: ["zoneRedundant"], message: `requires sku Premium (this registry is ${r.sku}): zone redundancy is set explicitly only on Premium` });
    }
  }
  r.importFrom.forEach((source, i) => {
    if (source.name === r.name) {
      ctx.addIssue({ code: "custom", path: ["importFrom", i, "name"], message: `"${r.name}" is this registry itself; importFrom lists the registries images are promoted from` });
    }
  });
  uniqueBy(ctx, r.importFrom, (s) => s.name, (i) => ["importFrom", i, "name"], "registry");
});

const azure = strict({
  /** Resource group created and owned by this stack (registry, CI identities). */
  resourceGroup: resourceGroupName,
  registry: registry.optional(),
  clusters: z.array(cluster).default([]),
});

const cdn = strict({
  bucket: bucketName,
  /** GCS location: a multi-region (EU, US, ASIA), dual-region or region. */
  location: pattern(/^[A-Za-z0-9-]+$/, "must be a GCS location such as EU, US or europe-west1"),
  domains: z
    .array(hostname)
    .min(1, { message: "must list at least one domain for the managed certificate" })
    .max(15, { message: "a target HTTPS proxy takes at most 15 certificates (one per domain)" }),
  corsOrigins: z.array(httpsOrigin).default([]),
  /** Latest-pointer paths, cached briefly (e.g. `/v1/*`); everything else is versioned and immutable. */
  latestPaths: z.array(urlPathPattern).default([]),
  immutableMaxAgeSeconds: maxAge.default(31536000),
  latestMaxAgeSeconds: maxAge.default(3600),
}).superRefine((c, ctx) => {
  if (c.latestMaxAgeSeconds > c.immutableMaxAgeSeconds) {
    ctx.addIssue({
      code: "custom",
      path: ["latestMaxAgeSeconds"],
      message: `(${c.latestMaxAgeSeconds}) must not exceed immutableMaxAgeSeconds (${c.immutableMaxAgeSeconds}): latest pointers are the short-lived ones`,
    });
  }
  uniqueBy(ctx, c.domains, (d) => d, (i) => ["domains", i], "domain");
});

const github = strict({
  /** Numeric id of github:owner (`gh api users/OWNER --jq .id`), for GitHub's immutable OIDC subjects. */
  ownerId: z.number().int().positive().optional(),
  repositories: z.array(repository).default([]),
});

/** A config value the CLI decrypts; the offline plan sees only `{ secure: "v1:..." }`. */
const secureValue = strict({ secure: z.string().min(1) });

// ---------------------------------------------------------------------------------------------
// The stack config

export const stackConfigSchema = z
  .object({
    "azure-native:location": z.string().min(1).optional(),
    "gcp:project": pattern(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "must be a GCP project id: 6-30 lowercase letters, digits or '-'").optional(),
    "github:owner": pattern(/^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/, "must be a GitHub organisation or user login").optional(),
    /** dev | staging | prod; prod protects stateful resources. Defaults to the stack name. */
    "release-infra:stage": z.enum(["dev", "staging", "prod"]),
    /** Azure tags / GCP labels on everything taggable. */
    "release-infra:tags": z.record(labelKey, labelValue).default({}),
    "release-infra:azure": azure.optional(),
    "release-infra:cdn": cdn.optional(),
    "release-infra:github": github.optional(),
    /** Secret values by name: `pulumi config set --secret --path 'release-infra:secrets.NAME'`. */
    "release-infra:secrets": z.record(actionsName("secret"), z.union([z.string(), secureValue])).default({}),
  })
  // Runs even when some field is invalid, so one run lists every problem; it only reads the
  // sections (and repositories) that are valid on their own.
  .superRefine((c, ctx) => crossFieldRules(c, ctx), { when: () => true });

/** The value of `schema` for `value` when valid on its own, else undefined. */
function valid<S extends z.ZodType>(schema: S, value: unknown): z.output<S> | undefined {
  const result = schema.safeParse(value);
  return result.success ? result.data : undefined;
}

/** Rules that span sections: references between them, plan limits, uniqueness. */
function crossFieldRules(raw: Record<string, unknown>, ctx: z.core.$RefinementCtx) {
  const c = {
    "azure-native:location": raw["azure-native:location"],
    "gcp:project": raw["gcp:project"],
    "github:owner": raw["github:owner"],
    "release-infra:cdn": raw["release-infra:cdn"],
  };
  const azureCfg = valid(azure, raw["release-infra:azure"]);
  const rawRepos = (raw["release-infra:github"] as { repositories?: unknown } | undefined)?.repositories;
  const githubCfg =
    raw["release-infra:github"] === undefined
      ? undefined
      : { repositories: Array.isArray(rawRepos) ? rawRepos.map((r) => valid(repository, r)) : [] };
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });

  if (raw["release-infra:azure"] !== undefined && !c["azure-native:location"]) {
    issue(["azure-native:location"], "is required when release-infra:azure is set (the Azure region, e.g. westeurope)");
  }
  if (c["release-infra:cdn"] && !c["gcp:project"]) {
    issue(["gcp:project"], "is required when release-infra:cdn is set (the GCP project that holds the bucket and CDN)");
  }
  if (githubCfg && !c["github:owner"]) {
    issue(["github:owner"], "is required when release-infra:github is set (the organisation or user that owns the repositories)");
  }

  if (azureCfg) {
    // Environments refer to clusters by name, so names must be unique even across resource groups.
    uniqueBy(ctx, azureCfg.clusters, (cl) => cl.name, (i) => ["release-infra:azure", "clusters", i, "name"], "cluster");
    azureCfg.clusters.forEach((cl, i) => {
      uniqueBy(ctx, cl.namespaces, (n) => n.name, (j) => ["release-infra:azure", "clusters", i, "namespaces", j, "name"], "namespace");
      if (cl.pullFromRegistry && !azureCfg.registry) {
        issue(["release-infra:azure", "clusters", i, "pullFromRegistry"], "requires release-infra:azure.registry (there is no registry to pull from)");
      }
    });
  }

  const clustersByName = new Map((azureCfg?.clusters ?? []).map((cl) => [cl.name, cl]));
  // Each environment with access names its identities `<repo>-<env>`; "a-b"/"c" and "a"/"b-c" would collide.
  const accessKeys = (githubCfg?.repositories ?? []).flatMap((repo, r) =>
    (repo?.environments ?? []).flatMap((env, e) => (env.access ? [{ key: `${repo?.name}-${env.name}`.toLowerCase(), path: ["release-infra:github", "repositories", r, "environments", e, "name"] }] : [])),
  );
  const firstWithKey = new Map<string, PropertyKey[]>();
  for (const { key, path } of accessKeys) {
    const first = firstWithKey.get(key);
    if (first) issue(path, `gives the CI identities the same name "${key}" as ${keyPath(first)}; rename one of the environments`);
    else firstWithKey.set(key, path.slice(0, -1));
  }

  githubCfg?.repositories.forEach((repo, r) => {
    if (!repo) return;
    const repoPath = ["release-infra:github", "repositories", r];
    const ownerId = (raw["release-infra:github"] as { ownerId?: unknown } | undefined)?.ownerId;
    if (repo.id !== undefined && ownerId === undefined) {
      issue([...repoPath, "id"], "needs release-infra:github.ownerId as well: the immutable OIDC subject is repo:OWNER@OWNER_ID/REPO@REPO_ID:...");
    }
    const gated = !protectionRulesAvailable(repo);
    const gateReason = `is not available on a ${repo.visibility} repository of GitHub's ${repo.plan} plan (required reviewers and wait timers need a public repository or GitHub Enterprise); make the repository public, move to Enterprise, or remove it`;

    // Trusted-publishing entries may share an environment (a monorepo's one release job): the
    // first entry naming it creates it, later ones must agree with that entry.
    const publishingEnvironments = new Map<string, number>();
    repo.trustedPublishing.forEach((tp, i) => {
      const first = publishingEnvironments.get(tp.environment.toLowerCase());
      if (first === undefined) {
        publishingEnvironments.set(tp.environment.toLowerCase(), i);
        return;
      }
      const other = repo.trustedPublishing[first];
      const key = sharedEnvironmentConflict(tp, other);
      if (key === undefined) return;
      const shown = (entry: TrustedPublishingEntry) => (entry[key] === undefined ? "not set" : JSON.stringify(entry[key]));
      issue(
        [...repoPath, "trustedPublishing", i, key],
        `differs from trustedPublishing[${first}] (${shown(tp)} here, ${shown(other)} there), which uses the same environment "${other.environment}": ` +
          `entries sharing an environment must spell it alike and publish to the same registry from the same workflow with identical deployFrom, reviewers and waitMinutes; give this entry its own environment otherwise`,
      );
    });

    const envLike = [
      ...repo.environments.map((e, i) => ({ name: e.name, path: [...repoPath, "environments", i], reviewers: e.reviewers, waitMinutes: e.waitMinutes, sharing: false })),
      ...repo.trustedPublishing.map((t, i) => ({
        name: t.environment,
        path: [...repoPath, "trustedPublishing", i],
        reviewers: t.reviewers,
        waitMinutes: t.waitMinutes,
        sharing: publishingEnvironments.get(t.environment.toLowerCase()) !== i,
      })),
    ];
    for (const env of envLike) {
      if (!gated) continue;
      if (env.reviewers && env.reviewers.teams.length + env.reviewers.users.length > 0) issue([...env.path, "reviewers"], gateReason);
      if (env.waitMinutes) issue([...env.path, "waitMinutes"], gateReason);
    }
    const distinctEnvironments = envLike.filter((e) => !e.sharing);
    uniqueBy(
      ctx,
      distinctEnvironments,
      (e) => e.name,
      (i) => [...distinctEnvironments[i].path, distinctEnvironments[i].path.at(-2) === "trustedPublishing" ? "environment" : "name"],
      "environment name",
      true,
    );
    const packages = new Map<string, number>();
    repo.trustedPublishing.forEach((tp, i) => {
      const key = `${tp.registry}:${tp.package.toLowerCase()}`;
      const first = packages.get(key);
      if (first === undefined) packages.set(key, i);
      else issue([...repoPath, "trustedPublishing", i, "package"], `${JSON.stringify(tp.package)} is already published to ${tp.registry} by trustedPublishing[${first}]; list each package once per registry`);
    });
    uniqueBy(ctx, repo.rulesets, (rs) => rs.name, (i) => [...repoPath, "rulesets", i, "name"], "ruleset name", true);
    uniqueBy(ctx, repo.secrets, (s) => s, (i) => [...repoPath, "secrets", i], "secret", true);

    if (envLike.length > 0 && repo.visibility !== "public" && repo.plan === "free") {
      issue([...repoPath, "environments"], `environments on a ${repo.visibility} repository need GitHub Pro, Team or Enterprise (this repository's plan is free); make it public or upgrade`);
    }
    if (repo.rulesets.length > 0 && repo.visibility !== "public" && repo.plan === "free") {
      issue([...repoPath, "rulesets"], `rulesets on a ${repo.visibility} repository need GitHub Pro, Team or Enterprise (this repository's plan is free)`);
    }

    repo.trustedPublishing.forEach((tp, i) => {
      if (tp.registry === "pypi" && tp.reusableWorkflow) {
        issue([...repoPath, "trustedPublishing", i, "reusableWorkflow"], "is not accepted by PyPI: a trusted publisher must be the top-level workflow file, not a reusable workflow");
      }
    });

    repo.environments.forEach((env, e) => {
      const envPath = [...repoPath, "environments", e];
      uniqueBy(ctx, env.secrets, (s) => s, (i) => [...envPath, "secrets", i], "secret", true);
      for (const name of Object.keys(env.variables)) {
        if (env.access && (WIRED_VARIABLES as readonly string[]).includes(name.toUpperCase())) {
          issue([...envPath, "variables", name], `is set by release-infra from the environment's access (wired from the cloud components); remove it here`);
        }
      }
      const a = env.access;
      // References into an Azure section that is itself invalid are reported there, not here.
      if (!a || (raw["release-infra:azure"] !== undefined && !azureCfg)) return;
      if (a.registry && !azureCfg?.registry) {
        issue([...envPath, "access", "registry"], "requires release-infra:azure.registry (this stack declares no registry)");
      }
      if (a.registry === "promote" && azureCfg?.registry && (azureCfg.registry.existing || azureCfg.registry.importFrom.length === 0)) {
        issue([...envPath, "access", "registry"], `"promote" requires release-infra:azure.registry.importFrom on a registry this stack owns (the registries to promote from)`);
      }
      if (a.cdn && !c["release-infra:cdn"]) {
        issue([...envPath, "access", "cdn"], "requires release-infra:cdn (this stack declares no CDN)");
      }
      const subject = `repo:${String(c["github:owner"] ?? "")}/${repo.name}:environment:${env.name}`;
      if (a.cdn && Buffer.byteLength(subject) > 127) {
        issue([...envPath, "name"], `makes the OIDC subject "${subject}" longer than the 127 bytes Google's workload identity federation accepts as google.subject; use a shorter environment name`);
      }
      a.namespaces.forEach((ref, n) => {
        const cl = clustersByName.get(ref.cluster);
        if (!cl) {
          const known = [...clustersByName.keys()];
          issue([...envPath, "access", "namespaces", n, "cluster"], `"${ref.cluster}" is not a cluster of release-infra:azure.clusters (${known.length ? `declared: ${known.join(", ")}` : "none declared"})`);
        } else if (!cl.namespaces.some((ns) => ns.name === ref.namespace)) {
          const known = cl.namespaces.map((ns) => ns.name);
          issue([...envPath, "access", "namespaces", n, "namespace"], `"${ref.namespace}" is not a namespace of cluster ${ref.cluster} (${known.length ? `declared: ${known.join(", ")}` : "none declared"})`);
        }
      });
      if (!azureCfg && (a.registry || a.namespaces.length > 0)) {
        issue([...envPath, "access"], "requires release-infra:azure (the CI identity is an Azure managed identity)");
      }
    });
  });
}
