import assert from "node:assert/strict";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { EnvironmentConfig, RepositoryConfig, RulesetConfig } from "../config/load";
import { RepositoryGovernance, type RepositoryGovernanceArgs } from "../components/repositoryGovernance";
import { placeholderNumber } from "../scripts/mocks";
import { build, named, ofType, valueOf, type Built } from "./harness";

const ENV = "github:index/repositoryEnvironment:RepositoryEnvironment";
const POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy";
const ENV_SECRET = "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret";
const ENV_VARIABLE = "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable";
const SECRET = "github:index/actionsSecret:ActionsSecret";
const VARIABLE = "github:index/actionsVariable:ActionsVariable";
const RULESET = "github:index/repositoryRuleset:RepositoryRuleset";
const WORKFLOW_PERMISSIONS = "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions";

const SLACK = "https://hooks.slack.example/T000/B000/plaintext-slack-value";
const NPM = "npm_plaintextNpmTokenValue0123456789";

function environment(name: string, overrides: Partial<EnvironmentConfig> = {}): EnvironmentConfig {
  return { name, preventSelfReview: true, deployFrom: { branches: ["main"], tags: [] }, secrets: [], variables: {}, ...overrides };
}

function ruleset(name: string, overrides: Partial<RulesetConfig>): RulesetConfig {
  return {
    name,
    requiredChecks: [],
    dismissStaleReviews: true,
    requireCodeOwnerReview: false,
    requireLinearHistory: false,
    restrictCreation: false,
    ...overrides,
  };
}

function repository(overrides: Partial<RepositoryConfig> = {}): RepositoryConfig {
  return {
    name: "shop",
    visibility: "public",
    plan: "team",
    environments: [
      environment("production", {
        reviewers: { teams: ["release-managers"], users: ["octocat"] },
        waitMinutes: 5,
        deployFrom: { branches: ["main", "release/*"], tags: ["v*"] },
        secrets: ["SLACK_WEBHOOK"],
        variables: { HEALTH_CHECK_RETRIES: "5" },
      }),
      environment("staging"),
    ],
    rulesets: [
      ruleset("protect-main", {
        branches: ["~DEFAULT_BRANCH", "release/*"],
        requiredApprovals: 2,
        requiredChecks: ["lint", "test"],
        requireCodeOwnerReview: true,
        requireLinearHistory: true,
      }),
      ruleset("release-tags", { tags: ["v*"], restrictCreation: true }),
    ],
    secrets: ["NPM_TOKEN"],
    variables: { NODE_VERSION: "22" },
    trustedPublishing: [],
    actionsDefaults: true,
    ...overrides,
  };
}

function args(overrides: Partial<RepositoryGovernanceArgs> = {}): RepositoryGovernanceArgs {
  return {
    owner: "acme",
    repository: repository(),
    stage: "prod",
    secrets: { SLACK_WEBHOOK: pulumi.secret(SLACK), NPM_TOKEN: pulumi.secret(NPM) },
    wiredVariables: {},
    ...overrides,
  };
}

const govern = (a: RepositoryGovernanceArgs = args(), stack = "prod") =>
  build(() => new RepositoryGovernance("shop", a), { stack, teamRepositories: [a.repository.name] });

test("environment reviewers are the numeric ids of the configured team slugs and user logins", async () => {
  const { resources } = await govern();
  const env = named(resources, ENV, "shop-env-production-environment");
  assert.deepEqual(env.plain.reviewers, [
    { teams: [placeholderNumber("team", "release-managers")], users: [placeholderNumber("user", "octocat")] },
  ]);
  assert.equal(env.plain.preventSelfReview, true);
  assert.equal(env.plain.waitTimer, 5);
});

test("a reviewer team without access to the repository fails the build, and the environment is not registered without it", async () => {
  const { resources, errors } = await build(() => new RepositoryGovernance("shop", args()), {
    stack: "prod",
    preview: true,
    teamRepositories: ["storefront"],
    expectErrors: true,
  });
  const message =
    "team release-managers has no access to acme/shop: GitHub would silently drop it as a required reviewer of environment production; give the team at least read access to the repository";
  assert.ok(errors.length > 0);
  assert.ok(errors.every((e) => e.includes(message)), errors.join("\n"));
  assert.deepEqual(ofType(resources, ENV).map((r) => r.name), ["shop-env-staging-environment"]);
});

test("a reviewer team's access to the repository is matched regardless of case, as GitHub matches repository names", async () => {
  const { resources } = await build(() => new RepositoryGovernance("shop", args()), {
    stack: "prod",
    calls: {
      "github:index/getTeam:getTeam": () => ({ id: "4242", slug: "release-managers", repositoriesDetaileds: [{ repoId: 1, repoName: "Shop", roleName: "pull" }] }),
    },
  });
  const env = named(resources, ENV, "shop-env-production-environment");
  assert.deepEqual(env.plain.reviewers, [{ teams: [4242], users: [placeholderNumber("user", "octocat")] }]);
});

test("environments without reviewers or wait timer send no reviewer fields", async () => {
  const { resources } = await govern();
  const env = named(resources, ENV, "shop-env-staging-environment");
  for (const key of ["reviewers", "preventSelfReview", "waitTimer"]) assert.equal(key in env.plain, false, key);
});

test("environments deploy only from custom policies, never from 'protected branches'", async () => {
  const { resources } = await govern();
  for (const env of ofType(resources, ENV)) {
    assert.deepEqual(env.plain.deploymentBranchPolicy, { customBranchPolicies: true, protectedBranches: false }, env.name);
  }
});

test("each deploy-from branch and tag pattern is its own deployment policy that depends on the environment", async () => {
  const { resources } = await govern();
  const env = named(resources, ENV, "shop-env-production-environment");
  const policies = ofType(resources, POLICY).filter((p) => p.plain.environment === "production");
  assert.deepEqual(
    policies.map((p) => [p.name, p.plain.branchPattern ?? null, p.plain.tagPattern ?? null]).sort(),
    [
      ["shop-env-production-branch-main", "main", null],
      ["shop-env-production-branch-release/*", "release/*", null],
      ["shop-env-production-tag-v*", null, "v*"],
    ],
  );
  for (const p of policies) assert.ok(p.dependsOn.includes(env.urn), p.name);
});

test("admins cannot bypass prod environments", async () => {
  const { resources } = await govern();
  for (const env of ofType(resources, ENV)) assert.equal(env.plain.canAdminsBypass, false, env.name);
});

test("outside prod the admin bypass is left at GitHub's default", async () => {
  const { resources } = await govern(args({ stage: "dev" }), "dev");
  for (const env of ofType(resources, ENV)) assert.equal("canAdminsBypass" in env.plain, false, env.name);
});

test("the admin bypass is not sent where the plan has no protection rules (private repository on Team)", async () => {
  const privateRepo = repository({ visibility: "private", environments: [environment("production")] });
  const { resources } = await govern(args({ repository: privateRepo }));
  assert.equal("canAdminsBypass" in named(resources, ENV, "shop-env-production-environment").plain, false);
});

/** Every place a secret value could leak into the plan: registered inputs as the plan prints them. */
function planText(resources: Built[]): string {
  return JSON.stringify(resources.map((r) => r.plain));
}

test("secret values appear nowhere in plain text in the registered inputs", async () => {
  const { resources } = await govern();
  const text = planText(resources);
  assert.equal(text.includes(SLACK), false);
  assert.equal(text.includes(NPM), false);
  const envSecret = named(resources, ENV_SECRET, "shop-env-production-secret-SLACK_WEBHOOK");
  const repoSecret = named(resources, SECRET, "shop-secret-NPM_TOKEN");
  for (const s of [envSecret, repoSecret]) {
    assert.equal(s.plain.value, "[secret]", s.name);
    assert.equal("plaintextValue" in s.plain, false, s.name);
  }
  assert.equal(envSecret.plain.secretName, "SLACK_WEBHOOK");
  assert.equal(repoSecret.plain.secretName, "NPM_TOKEN");
});

test("secret values are kept secret even when the caller passes a plain output", async () => {
  const { resources } = await govern(args({ secrets: { SLACK_WEBHOOK: pulumi.output(SLACK), NPM_TOKEN: pulumi.output(NPM) } }));
  assert.equal(planText(resources).includes(SLACK), false);
  assert.equal(planText(resources).includes(NPM), false);
});

test("the component's outputs carry no secret value", async () => {
  const { result } = await govern();
  const outputs = JSON.stringify([result.repository, await valueOf(result.environments), await valueOf(result.rulesets)]);
  assert.equal(outputs.includes(SLACK), false);
  assert.equal(outputs.includes(NPM), false);
  assert.deepEqual(JSON.parse(outputs), ["acme/shop", ["production", "staging"], ["protect-main", "release-tags"]]);
});

test("repository secrets are replaced delete-first", async () => {
  const { resources } = await govern();
  assert.equal(named(resources, SECRET, "shop-secret-NPM_TOKEN").deleteBeforeReplace, true);
});

test("environment secrets are written only after the environment's deployment policies exist", async () => {
  const { resources } = await govern();
  const secret = named(resources, ENV_SECRET, "shop-env-production-secret-SLACK_WEBHOOK");
  const policies = ofType(resources, POLICY).filter((p) => p.plain.environment === "production");
  for (const p of policies) assert.ok(secret.dependsOn.includes(p.urn), p.name);
});

test("a secret without a value is an error naming it", async () => {
  await assert.rejects(govern(args({ secrets: { NPM_TOKEN: pulumi.secret(NPM) } })), /SLACK_WEBHOOK/);
});

test("configured variables become environment and repository variables", async () => {
  const { resources } = await govern();
  assert.deepEqual(named(resources, ENV_VARIABLE, "shop-env-production-var-HEALTH_CHECK_RETRIES").plain, {
    environment: "production",
    repository: "shop",
    value: "5",
    variableName: "HEALTH_CHECK_RETRIES",
  });
  assert.deepEqual(named(resources, VARIABLE, "shop-var-NODE_VERSION").plain, { repository: "shop", value: "22", variableName: "NODE_VERSION" });
});

test("wired variables become variables of their environment, named apart from configured ones", async () => {
  const { resources } = await govern(
    args({
      wiredVariables: {
        production: { AZURE_CLIENT_ID: pulumi.output("<client-id of shop-production>"), K8S_NAMESPACE: "shop" },
        staging: { AZURE_CLIENT_ID: "<client-id of shop-staging>" },
      },
    }),
  );
  const wired = ofType(resources, ENV_VARIABLE).filter((v) => v.name.includes("-wired-"));
  assert.deepEqual(
    wired.map((v) => [v.name, v.plain.environment, v.plain.variableName, v.plain.value]).sort(),
    [
      ["shop-env-production-wired-AZURE_CLIENT_ID", "production", "AZURE_CLIENT_ID", "<client-id of shop-production>"],
      ["shop-env-production-wired-K8S_NAMESPACE", "production", "K8S_NAMESPACE", "shop"],
      ["shop-env-staging-wired-AZURE_CLIENT_ID", "staging", "AZURE_CLIENT_ID", "<client-id of shop-staging>"],
    ],
  );
});

test("wired variables for an environment the repository does not declare are an error", async () => {
  await assert.rejects(govern(args({ wiredVariables: { qa: { AZURE_CLIENT_ID: "x" } } })), /qa/);
});

test("a variable both configured and wired is an error", async () => {
  const repo = repository({ environments: [environment("production", { variables: { K8S_NAMESPACE: "shop" } })] });
  await assert.rejects(govern(args({ repository: repo, wiredVariables: { production: { K8S_NAMESPACE: "shop" } } })), /K8S_NAMESPACE/);
});

test("ruleset ref patterns become full ref names; ~DEFAULT_BRANCH stays as it is", async () => {
  const { resources } = await govern();
  assert.deepEqual(named(resources, RULESET, "shop-ruleset-protect-main").plain.conditions, {
    refName: { excludes: [], includes: ["~DEFAULT_BRANCH", "refs/heads/release/*"] },
  });
  assert.deepEqual(named(resources, RULESET, "shop-ruleset-release-tags").plain.conditions, {
    refName: { excludes: [], includes: ["refs/tags/v*"] },
  });
});

test("branch rulesets enforce the configured reviews and checks, forbid force push and deletion, and cannot be bypassed", async () => {
  const { resources } = await govern();
  const rs = named(resources, RULESET, "shop-ruleset-protect-main");
  assert.equal(rs.plain.target, "branch");
  assert.equal(rs.plain.enforcement, "active");
  assert.equal(rs.plain.name, "protect-main");
  assert.deepEqual(rs.plain.rules, {
    deletion: true,
    nonFastForward: true,
    requiredLinearHistory: true,
    pullRequest: {
      requiredApprovingReviewCount: 2,
      dismissStaleReviewsOnPush: true,
      requireCodeOwnerReview: true,
      requireLastPushApproval: true,
    },
    requiredStatusChecks: { requiredChecks: [{ context: "lint" }, { context: "test" }], strictRequiredStatusChecksPolicy: true },
  });
  assert.equal("bypassActors" in rs.plain, false);
});

test("a branch ruleset without approvals or checks still forbids force push and deletion", async () => {
  const repo = repository({ rulesets: [ruleset("no-force-push", { branches: ["main"] })] });
  const { resources } = await govern(args({ repository: repo }));
  assert.deepEqual(named(resources, RULESET, "shop-ruleset-no-force-push").plain.rules, { deletion: true, nonFastForward: true });
});

test("release tags can only be created by repository admins and never moved or deleted by anyone else", async () => {
  const { resources } = await govern();
  const rs = named(resources, RULESET, "shop-ruleset-release-tags");
  assert.equal(rs.plain.target, "tag");
  assert.deepEqual(rs.plain.rules, { creation: true, deletion: true, nonFastForward: true, update: true });
  assert.deepEqual(rs.plain.bypassActors, [{ actorId: 5, actorType: "RepositoryRole", bypassMode: "always" }]);
});

test("a tag ruleset without creation restriction protects tags from everyone and has no bypass", async () => {
  const repo = repository({ rulesets: [ruleset("tags", { tags: ["v*"] })] });
  const { resources } = await govern(args({ repository: repo }));
  const rs = named(resources, RULESET, "shop-ruleset-tags");
  assert.deepEqual(rs.plain.rules, { deletion: true, nonFastForward: true, update: true });
  assert.equal("bypassActors" in rs.plain, false);
});

test("the workflow token is read-only and workflows cannot approve pull requests", async () => {
  const { resources } = await govern();
  assert.deepEqual(named(resources, WORKFLOW_PERMISSIONS, "shop-actions-defaults").plain, {
    canApprovePullRequestReviews: false,
    defaultWorkflowPermissions: "read",
    repository: "shop",
  });
});

test("Actions defaults are left alone when another stack owns them", async () => {
  const { resources } = await govern(args({ repository: repository({ actionsDefaults: false }) }));
  assert.equal(ofType(resources, WORKFLOW_PERMISSIONS).length, 0);
});

test("reordering environments, rulesets and patterns keeps every child's name", async () => {
  const repo = repository();
  const reordered: RepositoryConfig = {
    ...repo,
    environments: [...repo.environments].reverse().map((e) => ({ ...e, deployFrom: { branches: [...e.deployFrom.branches].reverse(), tags: e.deployFrom.tags } })),
    rulesets: [...repo.rulesets].reverse(),
  };
  const first = await govern(args({ repository: repo }));
  const second = await govern(args({ repository: reordered }));
  const names = (r: Built[]) => r.map((x) => x.urn).sort();
  assert.deepEqual(names(second.resources), names(first.resources));
  assert.ok(first.resources.length > 10);
});

test("in a preview, secrets and variables name their environment, so the offline plan shows where they go", async () => {
  const { resources } = await build(() => new RepositoryGovernance("shop", args()), { stack: "prod", preview: true, teamRepositories: ["shop"] });
  assert.equal(named(resources, ENV_SECRET, "shop-env-production-secret-SLACK_WEBHOOK").plain.environment, "production");
  assert.equal(named(resources, ENV_VARIABLE, "shop-env-production-var-HEALTH_CHECK_RETRIES").plain.environment, "production");
});
