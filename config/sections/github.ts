import { z } from "zod";
import { secretShape } from "../secretShapes";
import { actionsName, pattern, refPattern, strict, uniqueBy } from "./common";
import { clusterName, namespaceName } from "./azure";

/** `release-infra:github`: repositories with their environments, secrets, variables, rulesets and trusted publishing. */

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

/** GitHub repository names. */
export const repositoryName = pattern(/^[A-Za-z0-9._-]{1,100}$/, "must be 1-100 letters, digits, '.', '_' or '-'");

/** GitHub environment names: at most 255 characters; we also keep them URL- and URN-friendly. */
export const environmentName = pattern(
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/,
  "must be 1-255 letters, digits, '.', '_' or '-', starting with a letter or digit",
);

const teamSlug = pattern(/^[a-z0-9][a-z0-9._-]*$/, "must be a team slug (lowercase letters, digits, '.', '_', '-')");
const userLogin = pattern(
  /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/,
  "must be a GitHub login (1-39 letters, digits or single hyphens)",
);

/** A plain-text variable value: anything but a secret, which would be readable by everyone who can read the repository's settings. */
const variableValue = z.string().superRefine((value, ctx) => {
  const shape = secretShape(value);
  if (shape) {
    ctx.addIssue({
      code: "custom",
      message: `looks like ${shape} (not shown): variables are stored and shown in plain text; list the name under secrets instead and set the value with pulumi config set --secret --path 'release-infra:secrets.NAME'`,
    });
  }
});
const variables = z.record(actionsName("variable"), variableValue);

/**
 * Whether GitHub offers environment protection rules (required reviewers, wait timers, admin
 * bypass) on a repository: Free, Pro and Team only on public ones
 * (https://docs.github.com/actions/reference/workflows-and-actions/deployments-and-environments).
 */
export function protectionRulesAvailable(repository: { visibility: string; plan: string }): boolean {
  return repository.visibility === "public" || repository.plan === "enterprise";
}

export const reviewers = strict({
  teams: z.array(teamSlug).default([]).describe("Team slugs of github:owner; each team needs at least read access to the repository."),
  users: z.array(userLogin).default([]).describe("User logins; each must be a collaborator of the repository."),
})
  .refine((r) => r.teams.length + r.users.length <= 6, { message: "GitHub allows at most 6 required reviewers (teams and users together)" })
  .describe("Required reviewers: one of them must approve each deployment (public repositories, or GitHub Enterprise).");

const deployFrom = strict({
  branches: z.array(refPattern).default([]).describe("Branch name patterns allowed to deploy (custom deployment branch policies), e.g. main, release/*."),
  tags: z.array(refPattern).default([]).describe("Tag name patterns allowed to deploy, e.g. v*."),
})
  .refine((d) => d.branches.length + d.tags.length > 0, {
    message: "must list at least one branch or tag: an environment without deployment policies lets any ref deploy",
  })
  .describe("The only refs whose workflow runs may use the environment.");

const access = strict({
  registry: z.enum(["pull", "push", "promote"]).optional().describe("On the stack's registry: pull (AcrPull), push (AcrPush) or promote (import from importFrom registries)."),
  namespaces: z
    .array(
      strict({
        cluster: clusterName.describe("A cluster of release-infra:azure.clusters."),
        namespace: namespaceName.describe("A namespace of that cluster."),
      }),
    )
    .default([])
    .describe("Namespaces the CI identity may deploy to (Azure RBAC scoped to each namespace); the first is wired as K8S_NAMESPACE."),
  cdn: z.enum(["publish"]).optional().describe("publish: upload to the CDN bucket and invalidate its cache."),
}).describe("What this environment's CI identity may do; release-infra creates the identity and wires its ids into the environment's variables.");

const environment = strict({
  name: environmentName.describe("GitHub environment name (compared case-insensitively by GitHub)."),
  reviewers: reviewers.optional(),
  preventSelfReview: z.boolean().default(true).describe("Reviewers may not approve deployments they triggered."),
  waitMinutes: z.number().int().min(0).max(43200).optional().describe("Minutes a deployment waits before it proceeds, 0-43200 (public repositories, or GitHub Enterprise)."),
  deployFrom,
  secrets: z.array(actionsName("secret")).default([]).describe("Names of environment secrets; values come from release-infra:secrets."),
  variables: variables.default({}).describe("Environment variables (plain text, never secrets)."),
  access: access.optional(),
});

const ruleset = strict({
  name: pattern(/^\S(.{0,98}\S)?$/, "must be 1-100 characters without leading or trailing spaces").describe("Ruleset name (unique per repository, case-insensitive)."),
  branches: z.array(refPattern).optional().describe("Branch patterns it protects (main, release/*, ~DEFAULT_BRANCH, ~ALL); set branches or tags."),
  tags: z.array(refPattern).optional().describe("Tag patterns it protects (v*); set branches or tags."),
  requiredApprovals: z.number().int().min(0).max(10).optional().describe("Pull requests need this many approving reviews (branches only)."),
  requiredChecks: z.array(z.string().min(1)).default([]).describe("Status checks that must pass before merging (branches only)."),
  dismissStaleReviews: z.boolean().default(true).describe("A new push dismisses earlier approvals."),
  requireCodeOwnerReview: z.boolean().default(false).describe("Pull requests need a review from a code owner."),
  requireLinearHistory: z.boolean().default(false).describe("No merge commits."),
  restrictCreation: z.boolean().default(false).describe("Only repository admins may create matching tags; on branches nobody may create matching branches."),
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
  registry: z.enum(["pypi", "npm", "nuget"]).describe("The package registry that trusts the workflow."),
  package: z.string().min(1).describe("The package (project) name on the registry."),
  workflow: workflowFile.describe("The publishing workflow's file name in .github/workflows, e.g. release.yml."),
  environment: environmentName.describe("The dedicated GitHub environment the publishing job runs in; entries of one job (a monorepo's packages) share it."),
  deployFrom,
  reviewers: reviewers.optional(),
  waitMinutes: z.number().int().min(0).max(43200).optional().describe("Minutes a publish waits before it proceeds (public repositories, or GitHub Enterprise)."),
  reusableWorkflow: z.boolean().default(false).describe("true when the workflow above is a reusable workflow called by another (PyPI rejects those)."),
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

/** Rules within one repository: plan limits, duplicates, shared publishing environments, wired variables. */
function repositoryRules(repo: z.output<typeof repositoryShape>, ctx: z.core.$RefinementCtx) {
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });
  const gated = !protectionRulesAvailable(repo);
  const gateReason = `is not available on a ${repo.visibility} repository of GitHub's ${repo.plan} plan (required reviewers and wait timers need a public repository or GitHub Enterprise); make the repository public, move to Enterprise, or remove it`;

  // Entries may share an environment (a monorepo's one release job): the first entry naming it
  // creates it, later ones must agree with that entry.
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
      ["trustedPublishing", i, key],
      `differs from the ${other.registry} package ${other.package} (${shown(tp)} here, ${shown(other)} there), which uses the same environment "${other.environment}": ` +
        `entries sharing an environment must spell it alike and publish to the same registry from the same workflow with identical deployFrom, reviewers and waitMinutes; give this entry its own environment otherwise`,
    );
  });

  const envLike = [
    ...repo.environments.map((e, i) => ({ name: e.name, path: ["environments", i], reviewers: e.reviewers, waitMinutes: e.waitMinutes, sharing: false })),
    ...repo.trustedPublishing.map((t, i) => ({
      name: t.environment,
      path: ["trustedPublishing", i],
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
    (i) => [...distinctEnvironments[i].path, distinctEnvironments[i].path[0] === "trustedPublishing" ? "environment" : "name"],
    "environment name",
    true,
  );
  const packages = new Set<string>();
  repo.trustedPublishing.forEach((tp, i) => {
    const key = `${tp.registry}:${tp.package.toLowerCase()}`;
    if (packages.has(key)) issue(["trustedPublishing", i, "package"], `${JSON.stringify(tp.package)} is listed twice for ${tp.registry}; list each package once per registry`);
    packages.add(key);
  });
  uniqueBy(ctx, repo.rulesets, (rs) => rs.name, (i) => ["rulesets", i, "name"], "ruleset name", true);
  uniqueBy(ctx, repo.secrets, (s) => s, (i) => ["secrets", i], "secret", true);

  if (envLike.length > 0 && repo.visibility !== "public" && repo.plan === "free") {
    issue(["environments"], `environments on a ${repo.visibility} repository need GitHub Pro, Team or Enterprise (this repository's plan is free); make it public or upgrade`);
  }
  if (repo.rulesets.length > 0 && repo.visibility !== "public" && repo.plan === "free") {
    issue(["rulesets"], `rulesets on a ${repo.visibility} repository need GitHub Pro, Team or Enterprise (this repository's plan is free)`);
  }
  repo.trustedPublishing.forEach((tp, i) => {
    if (tp.registry === "pypi" && tp.reusableWorkflow) {
      issue(["trustedPublishing", i, "reusableWorkflow"], "is not accepted by PyPI: a trusted publisher must be the top-level workflow file, not a reusable workflow");
    }
  });
  repo.environments.forEach((env, e) => {
    uniqueBy(ctx, env.secrets, (s) => s, (i) => ["environments", e, "secrets", i], "secret", true);
    for (const name of Object.keys(env.variables)) {
      if (env.access && (WIRED_VARIABLES as readonly string[]).includes(name.toUpperCase())) {
        issue(["environments", e, "variables", name], `is set by release-infra from the environment's access (wired from the cloud components); remove it here`);
      }
    }
  });
}

const repositoryShape = strict({
  name: repositoryName.describe("Repository name, without the owner."),
  id: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("Numeric repository id (gh api repos/OWNER/REPO --jq .id): with github.ownerId, CI identities also trust GitHub's immutable OIDC subject."),
  visibility: z.enum(["public", "private", "internal"]).describe("The repository's visibility; with plan it decides which protection rules exist."),
  plan: z.enum(["free", "pro", "team", "enterprise"]).describe("GitHub plan of github:owner; gates reviewers, wait timers and rulesets on private repositories."),
  environments: z.array(environment).default([]).describe("GitHub environments this stack creates and owns."),
  rulesets: z.array(ruleset).default([]).describe("Branch and tag rulesets this stack owns."),
  secrets: z.array(actionsName("secret")).default([]).describe("Names of repository secrets (readable by every workflow on every branch; prefer environment secrets)."),
  variables: variables.default({}).describe("Repository variables (plain text, never secrets)."),
  trustedPublishing: z.array(trustedPublishing).default([]).describe("Packages published by OIDC trusted publishing, each from a dedicated environment."),
  actionsDefaults: z.boolean().default(true).describe("This stack owns the repository's Actions defaults (read-only workflow token, workflows cannot approve pull requests)."),
});

export const repository = repositoryShape.superRefine(repositoryRules);

export const github = strict({
  ownerId: z.number().int().positive().optional().describe("Numeric id of github:owner (gh api users/OWNER --jq .id), for GitHub's immutable OIDC subjects."),
  repositories: z.array(repository).default([]).describe("Repositories of github:owner this stack governs."),
}).superRefine((g, ctx) => {
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });
  // Each environment with access names its identities `<repo>-<env>`; "a-b"/"c" and "a"/"b-c" would collide.
  const firstWithKey = new Map<string, string>();
  g.repositories.forEach((repo, r) => {
    if (repo.id !== undefined && g.ownerId === undefined) {
      issue(["repositories", r, "id"], "needs release-infra:github.ownerId as well: the immutable OIDC subject is repo:OWNER@OWNER_ID/REPO@REPO_ID:...");
    }
    repo.environments.forEach((env, e) => {
      if (!env.access) return;
      const key = `${repo.name}-${env.name}`.toLowerCase();
      const first = firstWithKey.get(key);
      if (first) issue(["repositories", r, "environments", e, "name"], `gives the CI identities the same name "${key}" as environment ${first}; rename one of the environments`);
      else firstWithKey.set(key, `${env.name} of repository ${repo.name}`);
    });
  });
});

export type RepositoryInput = z.output<typeof repository>;
