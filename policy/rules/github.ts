/** GitHub: environments, secrets, rulesets. */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { globToRegExp, inPipelineStack, stageConfigSchema, stageOfArgs, field, isRecord, strings, onTypes, oneOf, T, type Stage } from "./common";

const DEPLOYMENT_POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy";

export const environmentCustomBranchPolicy: ResourceValidationPolicy = {
  name: "github-environment-custom-branch-policy",
  description:
    "Every environment restricts deployments to named branches and tags (custom branch policies), not to 'protected branches'; only the pipeline stack's preview environments (pulumi-<stack>-preview: read-only identities, pull-request refs) accept any ref, and only with required reviewers that admins cannot bypass.",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateResource: onTypes(oneOf(T.environment), (props, args, reportViolation) => {
    const policy = props.deploymentBranchPolicy;
    const reviewed = Array.isArray(props.reviewers) && props.reviewers.length > 0 && props.canAdminsBypass === false;
    if (policy === undefined && reviewed && inPipelineStack(args) && typeof props.environment === "string" && /^pulumi-.+-preview$/.test(props.environment)) return;
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

/** Bypass actors that can do no more than they already can: they may edit the ruleset itself. */
function onlyAdminsBypass(props: Record<string, unknown>): boolean {
  const actors = props.bypassActors;
  if (actors === undefined || actors === null) return true;
  if (!Array.isArray(actors)) return false;
  return actors.every((a) => isRecord(a) && ((a.actorType === "RepositoryRole" && a.actorId === 5) || a.actorType === "OrganizationAdmin"));
}

/**
 * Whether an active ruleset of the repository covers `ref` (`refs/heads/NAME` or `refs/tags/NAME`,
 * NAME being a deployment policy's pattern): its includes name exactly that ref or `~ALL`, no
 * exclude matches it, and it has no bypass actor below admin. `~DEFAULT_BRANCH` covers nothing
 * here: it follows the repository's default-branch setting, which is not a planned resource and
 * can change without this stack.
 */
function includesRef(props: Record<string, unknown>, target: "branch" | "tag", ref: string): boolean {
  if (props.target !== target || props.enforcement !== "active" || !onlyAdminsBypass(props)) return false;
  const includes = strings(field(props, "conditions", "refName", "includes"));
  const excludes = strings(field(props, "conditions", "refName", "excludes"));
  if (!includes.includes(ref) && !includes.includes("~ALL")) return false;
  return !excludes.some((exclude) => exclude === ref || exclude === "~ALL" || globToRegExp(exclude).test(ref));
}

/** A branch ruleset lets changes in only through a pull request that someone other than the last pusher approved. */
function requiresReviewedPullRequest(props: Record<string, unknown>): boolean {
  const approvals = field(props, "rules", "pullRequest", "requiredApprovingReviewCount");
  const lastPush = field(props, "rules", "pullRequest", "requireLastPushApproval");
  const dismissStale = field(props, "rules", "pullRequest", "dismissStaleReviewsOnPush");
  return typeof approvals === "number" && approvals >= 1 && (lastPush === true || dismissStale === true);
}

/** A tag ruleset lets nobody below admin create or move matching tags. */
function restrictsTagCreation(props: Record<string, unknown>): boolean {
  return field(props, "rules", "creation") === true && field(props, "rules", "update") === true;
}

function hasReviewers(environment: PolicyResource | undefined): boolean {
  const reviewers = environment?.props.reviewers;
  const nonEmpty = (list: unknown) => Array.isArray(list) && list.length > 0;
  return Array.isArray(reviewers) && reviewers.some((r) => isRecord(r) && (nonEmpty(r.teams) || nonEmpty(r.users)));
}

const key = (repository: unknown, environment?: unknown) => `${String(repository).toLowerCase()}\u0000${environment === undefined ? "" : String(environment).toLowerCase()}`;

/**
 * Publishing environments whose registry holds every publish until a maintainer approves it: npm
 * staged publishing (https://docs.npmjs.com/staged-publishing), which the config turns on.
 */
function approvedOnRegistry(resources: readonly PolicyResource[]): Set<string> {
  return new Set(resources.filter((r) => r.type === T.trustedPublishing && r.props.stagedPublishing === true).map((r) => key(r.props.repository, r.props.environment)));
}

/**
 * Every deployment policy of an environment without required reviewers whose ref is not covered
 * by a ruleset of the same repository in the planned resources, as [deployment policy URN, message].
 * In prod no tag ruleset covers a tag: the one that restricts creating tags lets repository admins
 * create them (its bypass, or nobody could tag a release), so one admin could tag an unreviewed
 * commit and deploy; only reviewers or a registry's own approval step cover tags there.
 */
export function uncoveredDeployRefs(resources: readonly PolicyResource[], stage: Stage): [string, string][] {
  const environments = new Map(resources.filter((r) => r.type === T.environment).map((r) => [key(r.props.repository, r.props.environment), r]));
  const rulesets = resources.filter((r) => r.type === T.ruleset);
  const approved = approvedOnRegistry(resources);
  const found: [string, string][] = [];
  for (const policy of resources.filter((r) => r.type === DEPLOYMENT_POLICY)) {
    const { repository, environment, branchPattern, tagPattern } = policy.props;
    // An environment this stack does not create counts as one without reviewers.
    if (hasReviewers(environments.get(key(repository, environment)))) continue;
    const sameRepository = rulesets.filter((rs) => key(rs.props.repository) === key(repository));
    const where = `environment ${String(environment)} of ${String(repository)} has no required reviewers`;
    const unseen =
      "Rulesets of another stack, of the organisation or made by hand are not planned resources and this policy cannot see them; if one covers the ref, disable the policy for this stack (--policy-pack-config) and say why in the change.";
    if (typeof branchPattern === "string") {
      const ref = `refs/heads/${branchPattern}`;
      if (sameRepository.some((rs) => includesRef(rs.props, "branch", ref) && requiresReviewedPullRequest(rs.props))) continue;
      found.push([
        policy.urn,
        `${where} and deploys from branch ${branchPattern}, but no active branch ruleset of ${String(repository)} covers ${ref} with a pull request that needs an approving review: anyone with write access can push to ${branchPattern} and deploy. ` +
          `Add a ruleset with branches: [${branchPattern}] and requiredApprovals of 1 or more (a ~DEFAULT_BRANCH ruleset does not count: it follows the default-branch setting, which can change without this stack), or give the environment reviewers. ${unseen}`,
      ]);
    } else if (typeof tagPattern === "string" && stage === "prod") {
      if (approved.has(key(repository, environment))) continue;
      found.push([
        policy.urn,
        `${where} and deploys from tags ${tagPattern} in prod: a tag ruleset that restricts creating refs/tags/${tagPattern} still lets repository admins create such tags (its bypass), so one admin can tag an unreviewed commit and deploy. ` +
          `Give the environment reviewers, or, for npm trusted publishing, set stagedPublishing: true on its entries so that npm holds each version until a maintainer approves it.`,
      ]);
    } else if (typeof tagPattern === "string") {
      const ref = `refs/tags/${tagPattern}`;
      if (sameRepository.some((rs) => includesRef(rs.props, "tag", ref) && restrictsTagCreation(rs.props))) continue;
      found.push([
        policy.urn,
        `${where} and deploys from tags ${tagPattern}, but no active tag ruleset of ${String(repository)} restricts creating and moving ${ref}: anyone with write access can push a matching tag and deploy. ` +
          `Add a ruleset with tags: [${tagPattern}] and restrictCreation: true, or give the environment reviewers. ${unseen}`,
      ]);
    }
  }
  return found;
}

function deployRefsPolicy(name: string, enforcementLevel: "mandatory" | "advisory", appliesIn: (stage: Stage) => boolean): StackValidationPolicy {
  return {
    name,
    description: `Every branch an environment without required reviewers deploys from is covered by a ruleset that requires a reviewed pull request, and every tag pattern by one that restricts creating matching tags; in prod, where such a ruleset's admin bypass does not count, a tag-deploying environment needs reviewers or npm staged publishing (${enforcementLevel} ${enforcementLevel === "mandatory" ? "in prod" : "outside prod"}).`,
    enforcementLevel,
    configSchema: stageConfigSchema,
    validateStack: (args, reportViolation) => {
      const stage = stageOfArgs(args);
      if (!appliesIn(stage)) return;
      for (const [urn, message] of uncoveredDeployRefs(args.resources, stage)) reportViolation(message, urn);
    },
  };
}

export const prodDeployRefsProtected = deployRefsPolicy("github-deploy-refs-protected", "mandatory", (stage) => stage === "prod");
export const nonProdDeployRefsProtected = deployRefsPolicy("github-deploy-refs-protected-advisory", "advisory", (stage) => stage !== "prod");

export const requiredChecksBound: ResourceValidationPolicy = {
  name: "github-required-checks-bound",
  description: "Required status checks of rulesets name the app that must report them (integrationId), so a commit status cannot fake them.",
  enforcementLevel: "advisory",
  validateResource: onTypes(oneOf(T.ruleset), (props, _args, reportViolation) => {
    const checks = field(props, "rules", "requiredStatusChecks", "requiredChecks");
    for (const check of Array.isArray(checks) ? checks : []) {
      if (isRecord(check) && typeof check.integrationId !== "number") {
        reportViolation(
          `required check ${JSON.stringify(check.context)} has no integrationId: a commit status with that context, which anyone with write access (or any App with statuses: write) can POST, satisfies it. Bind it to the app that runs it, e.g. GitHub Actions (15368).`,
        );
      }
    }
  }),
};
