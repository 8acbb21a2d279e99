import { z } from "zod";
import { credentialName, randomToken, secretShape } from "../secretShapes";
import { actionsName, CONCEALED, isActionsName, pattern, refPattern, strict, uniqueBy } from "./common";
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
  "K8S_NAMESPACES",
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

const variables = z.record(actionsName("variable"), z.string());

const notSecret = z
  .array(actionsName("variable"))
  .default([])
  .describe(
    "Variables of this list stay plain text although their name or value looks like a credential (a false positive: say why in a comment); every other such variable is refused.",
  );

/**
 * Why a plain-text variable looks like a credential (its name says so, or its value has a
 * credential's shape or looks random), or undefined. Values are never described, only their shape.
 */
function credentialReason(name: string, value: string): string | undefined {
  const word = credentialName(name);
  if (word) return `its name says it holds a credential (${word})`;
  const shape = secretShape(value);
  if (shape) return `its value looks like ${shape} (not shown)`;
  if (randomToken(value)) return "its value looks like a random token or key (not shown)";
  return undefined;
}

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

/**
 * A deployment policy pattern. GitHub matches it against the short branch or tag name
 * (https://docs.github.com/actions/reference/workflows-and-actions/deployments-and-environments),
 * so a full ref name or a ruleset token never matches anything.
 */
const deployPattern = (kind: "branch" | "tag") =>
  refPattern.superRefine((p, ctx) => {
    const never = (fix: string) => ctx.addIssue({ code: "custom", message: `never matches: deployment policies match short ${kind} names; ${fix}` });
    const full = /^refs\/(heads|tags)\/(.+)$/.exec(p);
    if (full && (full[1] === "heads") === (kind === "branch")) never(`write ${JSON.stringify(full[2])}`);
    else if (full) never(`${JSON.stringify(p)} is a ${kind === "branch" ? "tag" : "branch"} ref: list ${JSON.stringify(full[2])} under deployFrom.${kind === "branch" ? "tags" : "branches"}`);
    else if (p.startsWith("refs/")) never(`${JSON.stringify(p)} is a full ref name`);
    else if (p.startsWith("~")) never(`${p} is a ruleset token; name the ${kind === "branch" ? "branches (e.g. main)" : "tags (e.g. v*)"} that may deploy`);
  });

const deployFrom = strict({
  branches: z.array(deployPattern("branch")).default([]).describe("Branch name patterns allowed to deploy (custom deployment branch policies), e.g. main, release/*: short names, not refs/heads/..."),
  tags: z.array(deployPattern("tag")).default([]).describe("Tag name patterns allowed to deploy, e.g. v*: short names, not refs/tags/..."),
})
  .refine((d) => d.branches.length + d.tags.length > 0, {
    message: "must list at least one branch or tag: an environment without deployment policies lets any ref deploy",
  })
  // Each pattern is one deployment policy, named after it: a pattern listed twice would be two resources of one URN.
  .superRefine((d, ctx) => {
    uniqueBy(ctx, d.branches, (p) => p, (i) => ["branches", i], "branch pattern");
    uniqueBy(ctx, d.tags, (p) => p, (i) => ["tags", i], "tag pattern");
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
    .describe("Namespaces the CI identity may deploy to (Azure RBAC scoped to each namespace); all of them are wired as the JSON list K8S_NAMESPACES, and a single one also as AKS_CLUSTER_NAME, AKS_RESOURCE_GROUP and K8S_NAMESPACE."),
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
  notSecret,
  access: access.optional(),
  adopt: z.boolean().default(false).describe("true: the environment exists already: import it; deployment policies it has that deployFrom does not list are reported by the preview."),
  adoptVariables: z
    .array(actionsName("variable"))
    .default([])
    .describe("Variables of this list (configured or wired) that exist already on GitHub: imported instead of created (GitHub rejects creating an existing one)."),
});

/**
 * The app id of GitHub Actions, the source of workflow jobs' check runs: `gh api apps/github-actions --jq .id`
 * (https://docs.github.com/rest/apps/apps#get-an-app). A required check bound to it can only be
 * satisfied by a workflow run, not by a commit status that any writer can POST.
 */
export const GITHUB_ACTIONS_APP_ID = 15368;

/** A required status check and the app whose report counts; a plain name means GitHub Actions. */
const requiredCheck = z
  .union([
    z.string().min(1),
    strict({
      context: z.string().min(1).describe("The check's name as a pull request shows it, e.g. test or build (ubuntu-latest)."),
      app: z
        .union([z.enum(["github-actions", "any"]), z.number().int().positive()])
        .default("github-actions")
        .describe(
          "Who must report the check: github-actions (app id 15368, the default), another GitHub App's numeric id (gh api apps/SLUG --jq .id), or any: any commit status of that name counts, which anyone with write access can set.",
        ),
    }),
  ])
  .transform((check) => (typeof check === "string" ? { context: check, app: "github-actions" as const } : check))
  .describe("A check name (reported by GitHub Actions) or { context, app }.");

export const ruleset = strict({
  name: pattern(/^\S(.{0,98}\S)?$/, "must be 1-100 characters without leading or trailing spaces").describe("Ruleset name (unique per repository, case-insensitive)."),
  branches: z.array(refPattern).optional().describe("Branch patterns it protects (main, release/*, ~DEFAULT_BRANCH, ~ALL); set branches or tags."),
  tags: z.array(refPattern).optional().describe("Tag patterns it protects (v*); set branches or tags."),
  requiredApprovals: z.number().int().min(0).max(10).optional().describe("Pull requests need this many approving reviews (branches only)."),
  requiredChecks: z
    .array(requiredCheck)
    .default([])
    .describe(
      "Status checks that must pass before merging (branches only), each bound to the app that must report it: a name alone is a check of GitHub Actions; { context, app } names another app.",
    ),
  dismissStaleReviews: z.boolean().default(true).describe("A new push dismisses earlier approvals."),
  requireCodeOwnerReview: z.boolean().default(false).describe("Pull requests need a review from a code owner."),
  requireLinearHistory: z.boolean().default(false).describe("No merge commits."),
  restrictCreation: z.boolean().default(false).describe("Only repository admins may create matching tags; on branches nobody may create matching branches."),
  adopt: z.number().int().positive().optional().describe("Id of the existing ruleset of this name (gh api repos/OWNER/REPO/rulesets --jq '.[] | [.id, .name]'): imported instead of created."),
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
  stagedPublishing: z
    .boolean()
    .default(false)
    .describe(
      "npm only: the trusted publisher may only stage versions (npm trust --allow-stage-publish; the workflow runs npm stage publish) and a maintainer approves each with 2FA before it is published. Counts as the review of a prod environment without reviewers.",
    ),
  adopt: z.boolean().default(false).describe("true: the publishing environment exists already: import it (entries sharing an environment set it alike)."),
});

type TrustedPublishingEntry = z.output<typeof trustedPublishing>;

/** What trusted-publishing entries sharing an environment must agree on: the environment is made once, from the first. */
const SHARED_PUBLISHING_KEYS = ["environment", "registry", "workflow", "deployFrom", "reviewers", "waitMinutes", "adopt", "stagedPublishing"] as const;

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
    case "adopt":
    case "stagedPublishing":
      return String(entry[key]);
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

/** The forms of GitHub's OIDC subject a repository's CI identities can trust (docs/configuration.md, OIDC subjects). */
export const OIDC_SUBJECT_FORMS = ["name-only", "immutable", "both"] as const;

/**
 * The subject forms a repository's CI identities trust: its `oidcSubjects`, else both when the
 * ids of the immutable form are configured (as before the setting existed), else name-only.
 */
export function trustedSubjectForms(repo: { id?: number; oidcSubjects?: (typeof OIDC_SUBJECT_FORMS)[number] }, ownerId: number | undefined): ("name-only" | "immutable")[] {
  const setting = repo.oidcSubjects ?? (repo.id !== undefined && ownerId !== undefined ? "both" : "name-only");
  return setting === "both" ? ["name-only", "immutable"] : [setting];
}

/** GitHub's limits on Actions secrets and variables (https://docs.github.com/actions/reference/secrets-reference, https://docs.github.com/actions/reference/variables-reference). */
const LIMITS = { repositorySecrets: 100, environmentSecrets: 100, repositoryVariables: 500, environmentVariables: 100, valueBytes: 48 * 1024, repositoryVariableBytes: 256 * 1024 };

/** Count and size limits of one list of variables (values are plain text, so their sizes are known). */
function variableLimits(
  variables: Record<string, string>,
  max: number,
  where: string,
  path: PropertyKey[],
  issue: (path: PropertyKey[], message: string) => void,
  wired = 0,
) {
  const names = Object.keys(variables);
  // GitHub compares variable names case-insensitively: FOO and foo are one variable.
  names.forEach((name, i) => {
    const first = names.findIndex((n) => n.toLowerCase() === name.toLowerCase());
    if (first < i && isActionsName(name)) issue(path, `${name} and ${names[first]} are one variable on GitHub, which compares variable names case-insensitively; keep one`);
  });
  const count = names.length;
  if (count + wired > max) {
    issue(path, `lists ${count} variables${wired ? ` and release-infra sets up to ${wired} wired ones` : ""}; GitHub stores at most ${max} variables per ${where}`);
  }
  for (const [name, value] of Object.entries(variables)) {
    const bytes = Buffer.byteLength(value);
    if (bytes > LIMITS.valueBytes && isActionsName(name)) issue(path, `${name} is ${bytes} bytes; GitHub accepts variables of at most 48 KB (${LIMITS.valueBytes} bytes)`);
  }
}

/**
 * Variables that look like credentials are refused, unless `notSecret` lists them: GitHub stores
 * and shows variables in plain text, and the plan prints them in the tree and the review comment.
 */
function credentialRules(
  variables: Record<string, string>,
  optOut: readonly string[],
  path: PropertyKey[],
  issue: (path: PropertyKey[], message: string, params?: typeof CONCEALED) => void,
) {
  const names = Object.keys(variables);
  optOut.forEach((name, i) => {
    if (!names.some((v) => v.toUpperCase() === name.toUpperCase())) {
      issue([...path.slice(0, -1), "notSecret", i], `is not one of the variables beside it (declared: ${names.filter(isActionsName).join(", ") || "none"}); list only variables that look like credentials and are not`);
    }
  });
  const allowed = new Set(optOut.map((n) => n.toUpperCase()));
  for (const [name, value] of Object.entries(variables)) {
    // A key that is no name is reported (concealed) by the schema.
    if (!isActionsName(name) || allowed.has(name.toUpperCase())) continue;
    const reason = credentialReason(name, value);
    if (!reason) continue;
    issue(
      [...path, name],
      `${reason}: variables are stored and shown in plain text (in the plan, the review comment and the repository's settings); ` +
        `list ${name} under secrets instead and set the value with pulumi config set --secret --path 'release-infra:secrets.${name}', or, if it is no credential, list it under notSecret`,
      CONCEALED,
    );
  }
}

/** Rules within one repository: plan limits, duplicates, shared publishing environments, wired variables. */
function repositoryRules(repo: z.output<typeof repositoryShape>, ctx: z.core.$RefinementCtx) {
  const issue = (path: PropertyKey[], message: string, params?: typeof CONCEALED) => ctx.addIssue({ code: "custom", path, message, params });
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
        `entries sharing an environment must spell it alike and publish to the same registry from the same workflow with identical deployFrom, reviewers, waitMinutes and stagedPublishing; give this entry its own environment otherwise`,
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
  // Only a valid name is repeated: one that breaks the rule may be a pasted secret.
  uniqueBy(ctx, repo.secrets, (s) => s, (i) => ["secrets", i], "secret", true, isActionsName);

  if (repo.visibility === "internal" && repo.plan !== "enterprise") {
    issue(["visibility"], `"internal" exists only on GitHub Enterprise (this repository's plan is ${repo.plan}): internal repositories belong to organisations of an enterprise account`);
  }
  if (repo.secrets.length > LIMITS.repositorySecrets) {
    issue(["secrets"], `lists ${repo.secrets.length} secrets; GitHub stores at most ${LIMITS.repositorySecrets} secrets per repository`);
  }
  variableLimits(repo.variables, LIMITS.repositoryVariables, "repository", ["variables"], issue);
  credentialRules(repo.variables, repo.notSecret, ["variables"], issue);
  const repositoryVariableBytes = Object.values(repo.variables).reduce((sum, value) => sum + Buffer.byteLength(value), 0);
  if (repositoryVariableBytes > LIMITS.repositoryVariableBytes) {
    issue(["variables"], `total ${repositoryVariableBytes} bytes; a workflow run receives repository and organisation variables only up to 256 KB together, the rest silently missing`);
  }
  if (envLike.length > 0 && repo.visibility !== "public" && repo.plan === "free") {
    issue(["environments"], `environments on a ${repo.visibility} repository need GitHub Pro, Team or Enterprise (this repository's plan is free); make it public or upgrade`);
  }
  if (repo.rulesets.length > 0 && repo.visibility !== "public" && repo.plan === "free") {
    issue(["rulesets"], `rulesets on a ${repo.visibility} repository need GitHub Pro, Team or Enterprise (this repository's plan is free)`);
  }
  repo.trustedPublishing.forEach((tp, i) => {
    if (tp.stagedPublishing && tp.registry !== "npm") {
      issue(["trustedPublishing", i, "stagedPublishing"], `is only for npm: ${tp.registry === "pypi" ? "PyPI" : "NuGet"} has no separate approval step for trusted publishing (npm's staged publishing is the only one); give the environment reviewers instead`);
    }
    if (tp.registry === "pypi" && tp.reusableWorkflow) {
      issue(["trustedPublishing", i, "reusableWorkflow"], "is not accepted by PyPI: a trusted publisher must be the top-level workflow file, not a reusable workflow");
    }
  });
  // Adopting a variable imports it: only one this repository (or environment) declares can be adopted.
  repo.adoptVariables.forEach((name, i) => {
    if (!Object.keys(repo.variables).some((v) => v.toUpperCase() === name.toUpperCase())) {
      issue(["adoptVariables", i], `is not one of this repository's variables (declared: ${Object.keys(repo.variables).filter(isActionsName).join(", ") || "none"}); list only variables you declare, to take them over`);
    }
  });
  repo.retiredSecrets.forEach((name, i) => {
    if (repo.secrets.some((s) => s.toUpperCase() === name.toUpperCase())) issue(["retiredSecrets", i], "is also listed under secrets; a secret is either managed here or retired");
  });
  repo.environments.forEach((env, e) => {
    const declared = [...Object.keys(env.variables), ...(env.access ? WIRED_VARIABLES : [])];
    env.adoptVariables.forEach((name, i) => {
      if (!declared.some((v) => v.toUpperCase() === name.toUpperCase())) {
        issue(["environments", e, "adoptVariables", i], `is not a variable of this environment (configured${env.access ? " or wired" : ""}: ${declared.filter(isActionsName).join(", ") || "none"})`);
      } else if (!env.adopt) {
        issue(["environments", e, "adoptVariables", i], "adopts a variable of an environment this stack creates: set adopt: true on the environment as well (a new environment has no variables)");
      }
    });
  });
  repo.environments.forEach((env, e) => {
    uniqueBy(ctx, env.secrets, (s) => s, (i) => ["environments", e, "secrets", i], "secret", true, isActionsName);
    if (env.secrets.length > LIMITS.environmentSecrets) {
      issue(["environments", e, "secrets"], `lists ${env.secrets.length} secrets; GitHub stores at most ${LIMITS.environmentSecrets} secrets per environment`);
    }
    variableLimits(env.variables, LIMITS.environmentVariables, "environment", ["environments", e, "variables"], issue, env.access ? WIRED_VARIABLES.length : 0);
    credentialRules(env.variables, env.notSecret, ["environments", e, "variables"], issue);
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
  visibility: z
    .enum(["public", "private", "internal"])
    .describe("The repository's visibility; with plan it decides which protection rules exist (internal exists only on GitHub Enterprise)."),
  plan: z.enum(["free", "pro", "team", "enterprise"]).describe("GitHub plan of github:owner; gates reviewers, wait timers and rulesets on private repositories."),
  environments: z.array(environment).default([]).describe("GitHub environments this stack creates and owns."),
  rulesets: z.array(ruleset).default([]).describe("Branch and tag rulesets this stack owns."),
  secrets: z.array(actionsName("secret")).default([]).describe("Names of repository secrets (readable by every workflow on every branch; prefer environment secrets)."),
  variables: variables.default({}).describe("Repository variables (plain text, never secrets)."),
  notSecret,
  adoptVariables: z
    .array(actionsName("variable"))
    .default([])
    .describe("Variables of this list  that exist already on GitHub: imported instead of created (GitHub rejects creating an existing one)."),
  retiredSecrets: z
    .array(actionsName("secret"))
    .default([])
    .describe("Repository secrets to delete by hand (long-lived tokens OIDC replaced): a preview reports each one that still exists, with its gh secret delete command."),
  trustedPublishing: z.array(trustedPublishing).default([]).describe("Packages published by OIDC trusted publishing, each from a dedicated environment."),
  actionsDefaults: z.boolean().default(true).describe("This stack owns the repository's Actions defaults (read-only workflow token, workflows cannot approve pull requests)."),
  oidcSubjects: z
    .enum(OIDC_SUBJECT_FORMS)
    .optional()
    .describe(
      "Which OIDC subjects the CI identities of this repository trust: name-only (repo:OWNER/REPO:environment:ENV), immutable (repo:OWNER@OWNER_ID/REPO@REPO_ID:environment:ENV; needs id and github.ownerId), or both, only while switching the repository over. Default: both when id and github.ownerId are set, else name-only.",
    ),
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
    if ((repo.oidcSubjects === "immutable" || repo.oidcSubjects === "both") && (repo.id === undefined || g.ownerId === undefined)) {
      issue(
        ["repositories", r, "oidcSubjects"],
        `"${repo.oidcSubjects}" needs the repository's id and release-infra:github.ownerId: the immutable subject is repo:OWNER@OWNER_ID/REPO@REPO_ID:...; look them up with gh api repos/OWNER/REPO --jq '.owner.id, .id'`,
      );
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
