/** GitHub: environments, secrets, rulesets. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { inPipelineStack, stageConfigSchema, stageOfArgs, field, strings, onTypes, oneOf, T, type Stage } from "./common";

export const environmentCustomBranchPolicy: ResourceValidationPolicy = {
  name: "github-environment-custom-branch-policy",
  description:
    "Every environment restricts deployments to named branches and tags (custom branch policies), not to 'protected branches'; only the pipeline stack's read environments (pulumi-<stack>-read, read-only identities) accept any ref.",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateResource: onTypes(oneOf(T.environment), (props, args, reportViolation) => {
    const policy = props.deploymentBranchPolicy;
    if (policy === undefined && inPipelineStack(args) && typeof props.environment === "string" && /^pulumi-.+-read$/.test(props.environment)) return;
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
