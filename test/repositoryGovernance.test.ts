import assert from "node:assert/strict";
import { test } from "node:test";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { EnvironmentConfig, RepositoryConfig, RulesetConfig, TrustedPublishingConfig } from "../config/load";
import { GithubLookups } from "../components/githubLookups";
import { governanceName, RepositoryGovernance, type RepositoryGovernanceArgs } from "../components/repositoryGovernance";
import { placeholderNumber, type CallOverride } from "../scripts/mocks";
import { build, engineUrns, named, ofType, valueOf, type Built } from "./harness";

const ENV = "github:index/repositoryEnvironment:RepositoryEnvironment";
const POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy";
const ENV_SECRET = "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret";
const ENV_VARIABLE = "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable";
const SECRET = "github:index/actionsSecret:ActionsSecret";
const VARIABLE = "github:index/actionsVariable:ActionsVariable";
const RULESET = "github:index/repositoryRuleset:RepositoryRuleset";
const WORKFLOW_PERMISSIONS = "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions";
const GET_TEAM = "github:index/getTeam:getTeam";
const GET_REPOSITORY_TEAMS = "github:index/getRepositoryTeams:getRepositoryTeams";

const SLACK = "https://hooks.slack.example/T000/B000/plaintext-slack-value";
const NPM = "npm_plaintextNpmTokenValue0123456789";

function environment(name: string, overrides: Partial<EnvironmentConfig> = {}): EnvironmentConfig {
  return { name, preventSelfReview: true, deployFrom: { branches: ["main"], tags: [] }, secrets: [], variables: {}, notSecret: [], adopt: false, adoptVariables: [], ...overrides };
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

const check = (context: string, app: RulesetConfig["requiredChecks"][number]["app"] = "github-actions") => ({ context, app });

function publishing(registry: TrustedPublishingConfig["registry"], pkg: string, env: string, overrides: Partial<TrustedPublishingConfig> = {}): TrustedPublishingConfig {
  return { registry, package: pkg, workflow: "release.yml", environment: env, deployFrom: { branches: ["main"], tags: [] }, reusableWorkflow: false, stagedPublishing: false, adopt: false, ...overrides };
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
        requiredChecks: [check("lint"), check("test")],
        requireCodeOwnerReview: true,
        requireLinearHistory: true,
      }),
      ruleset("release-tags", { tags: ["v*"], restrictCreation: true }),
    ],
    secrets: ["NPM_TOKEN"],
    variables: { NODE_VERSION: "22" },
    notSecret: [],
    adoptVariables: [],
    retiredSecrets: [],
    trustedPublishing: [],
    actionsDefaults: true,
    ...overrides,
  };
}

/** Arguments for one build: the lookups cache outputs of one mock session, so each build gets its own. */
function args(overrides: Partial<RepositoryGovernanceArgs> = {}): RepositoryGovernanceArgs {
  return {
    owner: "acme",
    repository: repository(),
    stage: "prod",
    secrets: { SLACK_WEBHOOK: pulumi.secret(SLACK), NPM_TOKEN: pulumi.secret(NPM) },
    wiredVariables: {},
    lookups: new GithubLookups("acme"),
    ...overrides,
  };
}

/** Every reviewer team of the repository has access to it. */
const teamsOf = (repo: RepositoryConfig) => ({
  [repo.name.toLowerCase()]: { teams: [...repo.environments, ...repo.trustedPublishing].flatMap((e) => e.reviewers?.teams ?? []) },
});

const govern = (a: RepositoryGovernanceArgs = args(), stack = "prod") =>
  build(() => new RepositoryGovernance(governanceName(a.repository.name), a), { stack, repositories: teamsOf(a.repository) });

test("environment reviewers are the numeric ids of the configured team slugs and user logins", async () => {
  const { resources } = await govern();
  const env = named(resources, ENV, "repo-shop-env-production-environment");
  assert.deepEqual(env.plain.reviewers, [
    { teams: [placeholderNumber("team", "release-managers")], users: [placeholderNumber("user", "octocat")] },
  ]);
  assert.equal(env.plain.preventSelfReview, true);
  assert.equal(env.plain.waitTimer, 5);
});

test("a reviewer team without access to the repository fails the build, and the environment is not registered without it", async () => {
  const { resources, errors } = await build(() => new RepositoryGovernance("repo-shop", args()), {
    stack: "prod",
    preview: true,
    repositories: { storefront: { teams: ["release-managers"] } },
    expectErrors: true,
  });
  const message =
    "team release-managers has no access to acme/shop: GitHub would silently drop it as a required reviewer of environment production; give the team at least read access to the repository";
  assert.ok(errors.length > 0);
  assert.ok(errors.every((e) => e.includes(message)), errors.join("\n"));
  assert.deepEqual(ofType(resources, ENV).map((r) => r.name), ["repo-shop-env-staging-environment"]);
});

test("a reviewer team's access is read from the repository's team list, matching slugs regardless of case", async () => {
  const { resources } = await build(() => new RepositoryGovernance("repo-shop", args()), {
    stack: "prod",
    calls: {
      [GET_TEAM]: () => ({ id: "4242", slug: "release-managers" }),
      [GET_REPOSITORY_TEAMS]: () => ({ id: "shop", name: "shop", fullName: "acme/shop", teams: [{ slug: "Release-Managers", name: "Release managers", permission: "pull" }] }),
    },
  });
  const env = named(resources, ENV, "repo-shop-env-production-environment");
  assert.deepEqual(env.plain.reviewers, [{ teams: [4242], users: [placeholderNumber("user", "octocat")] }]);
});

test("environments without reviewers or wait timer send no reviewer fields", async () => {
  const { resources } = await govern();
  const env = named(resources, ENV, "repo-shop-env-staging-environment");
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
  const env = named(resources, ENV, "repo-shop-env-production-environment");
  const policies = ofType(resources, POLICY).filter((p) => p.plain.environment === "production");
  assert.deepEqual(
    policies.map((p) => [p.name, p.plain.branchPattern ?? null, p.plain.tagPattern ?? null]).sort(),
    [
      ["repo-shop-env-production-branch-main", "main", null],
      ["repo-shop-env-production-branch-release/*", "release/*", null],
      ["repo-shop-env-production-tag-v*", null, "v*"],
    ],
  );
  for (const p of policies) assert.ok(p.dependsOn.includes(env.urn), p.name);
});

test("admins cannot bypass prod environments", async () => {
  const { resources } = await govern();
  for (const env of ofType(resources, ENV)) assert.equal(env.plain.canAdminsBypass, false, env.name);
});

test("outside prod the admin bypass is GitHub's default, sent explicitly as the provider always sends it", async () => {
  const { resources } = await govern(args({ stage: "dev" }), "dev");
  for (const env of ofType(resources, ENV)) assert.equal(env.plain.canAdminsBypass, true, env.name);
});

test("where the plan has no protection rules (private repository on Team) there is nothing to lock: GitHub's default is sent", async () => {
  const privateRepo = repository({ visibility: "private", environments: [environment("production")] });
  const { resources } = await govern(args({ repository: privateRepo }));
  assert.equal(named(resources, ENV, "repo-shop-env-production-environment").plain.canAdminsBypass, true);
});

test("an adopted environment keeps the reviewers, wait timer and admin lock its stack file does not state; stated ones are sent", async () => {
  const repo = repository({
    environments: [environment("staging", { adopt: true }), environment("production", { adopt: true, reviewers: { teams: ["release-managers"], users: [] }, waitMinutes: 5 })],
  });
  const { resources } = await govern(args({ repository: repo, stage: "dev" }), "dev");
  const staging = named(resources, ENV, "repo-shop-env-staging-environment");
  assert.deepEqual([...staging.ignoreChanges].sort(), ["canAdminsBypass", "environment", "preventSelfReview", "repository", "reviewers", "waitTimer"]);
  const production = named(resources, ENV, "repo-shop-env-production-environment");
  assert.deepEqual([...production.ignoreChanges].sort(), ["canAdminsBypass", "environment", "repository"]);
  assert.equal(production.plain.waitTimer, 5);
  // A created environment gets the defaults: only the name is never sent again.
  const created = await govern(args({ stage: "dev" }), "dev");
  assert.deepEqual([...named(created.resources, ENV, "repo-shop-env-staging-environment").ignoreChanges].sort(), ["environment", "repository"]);
});

test("in prod an adopted environment's admin lock is sent: the policy requires it wherever protection rules exist", async () => {
  const repo = repository({ environments: [environment("production", { adopt: true, reviewers: { teams: ["release-managers"], users: [] } })] });
  const { resources } = await govern(args({ repository: repo }));
  const production = named(resources, ENV, "repo-shop-env-production-environment");
  assert.equal(production.plain.canAdminsBypass, false);
  assert.deepEqual([...production.ignoreChanges].sort(), ["environment", "repository", "waitTimer"]);
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
  const envSecret = named(resources, ENV_SECRET, "repo-shop-env-production-secret-slack_webhook");
  const repoSecret = named(resources, SECRET, "repo-shop-secret-npm_token");
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
  assert.equal(named(resources, SECRET, "repo-shop-secret-npm_token").deleteBeforeReplace, true);
});

test("environment secrets are written only after the environment's deployment policies exist", async () => {
  const { resources } = await govern();
  const secret = named(resources, ENV_SECRET, "repo-shop-env-production-secret-slack_webhook");
  const policies = ofType(resources, POLICY).filter((p) => p.plain.environment === "production");
  for (const p of policies) assert.ok(secret.dependsOn.includes(p.urn), p.name);
});

test("a secret without a value is an error naming it", async () => {
  await assert.rejects(govern(args({ secrets: { NPM_TOKEN: pulumi.secret(NPM) } })), /SLACK_WEBHOOK/);
});

test("configured variables become environment and repository variables", async () => {
  const { resources } = await govern();
  assert.deepEqual(named(resources, ENV_VARIABLE, "repo-shop-env-production-var-health_check_retries").plain, {
    environment: "production",
    repository: "shop",
    value: "5",
    variableName: "HEALTH_CHECK_RETRIES",
  });
  assert.deepEqual(named(resources, VARIABLE, "repo-shop-var-node_version").plain, { repository: "shop", value: "22", variableName: "NODE_VERSION" });
});

test("wired variables become variables of their environment, named like configured ones so a variable can switch between them in place", async () => {
  const { resources } = await govern(
    args({
      wiredVariables: {
        production: { AZURE_CLIENT_ID: pulumi.output("<client-id of shop-production>"), K8S_NAMESPACE: "shop" },
        staging: { AZURE_CLIENT_ID: "<client-id of shop-staging>" },
      },
    }),
  );
  const wired = ofType(resources, ENV_VARIABLE).filter((v) => v.plain.variableName !== "HEALTH_CHECK_RETRIES");
  assert.deepEqual(
    wired.map((v) => [v.name, v.plain.environment, v.plain.variableName, v.plain.value]).sort(),
    [
      ["repo-shop-env-production-var-azure_client_id", "production", "AZURE_CLIENT_ID", "<client-id of shop-production>"],
      ["repo-shop-env-production-var-k8s_namespace", "production", "K8S_NAMESPACE", "shop"],
      ["repo-shop-env-staging-var-azure_client_id", "staging", "AZURE_CLIENT_ID", "<client-id of shop-staging>"],
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
  assert.deepEqual(named(resources, RULESET, "repo-shop-ruleset-protect-main").plain.conditions, {
    refName: { excludes: [], includes: ["~DEFAULT_BRANCH", "refs/heads/release/*"] },
  });
  assert.deepEqual(named(resources, RULESET, "repo-shop-ruleset-release-tags").plain.conditions, {
    refName: { excludes: [], includes: ["refs/tags/v*"] },
  });
});

test("branch rulesets enforce the configured reviews and checks, forbid force push and deletion, and cannot be bypassed", async () => {
  const { resources } = await govern();
  const rs = named(resources, RULESET, "repo-shop-ruleset-protect-main");
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
    requiredStatusChecks: { requiredChecks: [{ context: "lint", integrationId: 15368 }, { context: "test", integrationId: 15368 }], strictRequiredStatusChecksPolicy: true },
  });
  assert.equal("bypassActors" in rs.plain, false);
});

test("a branch ruleset without approvals or checks still forbids force push and deletion", async () => {
  const repo = repository({ rulesets: [ruleset("no-force-push", { branches: ["main"] })] });
  const { resources } = await govern(args({ repository: repo }));
  assert.deepEqual(named(resources, RULESET, "repo-shop-ruleset-no-force-push").plain.rules, { deletion: true, nonFastForward: true });
});

test("release tags can only be created by repository admins and never moved or deleted by anyone else", async () => {
  const { resources } = await govern();
  const rs = named(resources, RULESET, "repo-shop-ruleset-release-tags");
  assert.equal(rs.plain.target, "tag");
  assert.deepEqual(rs.plain.rules, { creation: true, deletion: true, nonFastForward: true, update: true });
  assert.deepEqual(rs.plain.bypassActors, [{ actorId: 5, actorType: "RepositoryRole", bypassMode: "always" }]);
});

test("a tag ruleset without creation restriction protects tags from everyone and has no bypass", async () => {
  const repo = repository({ rulesets: [ruleset("tags", { tags: ["v*"] })] });
  const { resources } = await govern(args({ repository: repo }));
  const rs = named(resources, RULESET, "repo-shop-ruleset-tags");
  assert.deepEqual(rs.plain.rules, { deletion: true, nonFastForward: true, update: true });
  assert.equal("bypassActors" in rs.plain, false);
});

test("the workflow token is read-only and workflows cannot approve pull requests", async () => {
  const { resources } = await govern();
  assert.deepEqual(named(resources, WORKFLOW_PERMISSIONS, "repo-shop-actions-defaults").plain, {
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
  const { resources } = await build(() => new RepositoryGovernance("repo-shop", args()), { stack: "prod", preview: true, repositories: teamsOf(repository()) });
  assert.equal(named(resources, ENV_SECRET, "repo-shop-env-production-secret-slack_webhook").plain.environment, "production");
  assert.equal(named(resources, ENV_VARIABLE, "repo-shop-env-production-var-health_check_retries").plain.environment, "production");
});

// ---------------------------------------------------------------------------------------------
// Required checks bound to their source

test("a required check named alone must be reported by GitHub Actions (app 15368), not by any commit status", async () => {
  const repo = repository({ rulesets: [ruleset("main", { branches: ["main"], requiredApprovals: 1, requiredChecks: [check("test")] })] });
  const { resources } = await govern(args({ repository: repo }));
  const rules = named(resources, RULESET, "repo-shop-ruleset-main").plain.rules as { requiredStatusChecks: unknown };
  assert.deepEqual(rules.requiredStatusChecks, { requiredChecks: [{ context: "test", integrationId: 15368 }], strictRequiredStatusChecksPolicy: true });
});

test("a required check of another app is bound to that app's id, and app any sends no integration id", async () => {
  const repo = repository({ rulesets: [ruleset("main", { branches: ["main"], requiredApprovals: 1, requiredChecks: [check("codecov/project", 254), check("jenkins", "any")] })] });
  const { resources } = await govern(args({ repository: repo }));
  const rules = named(resources, RULESET, "repo-shop-ruleset-main").plain.rules as { requiredStatusChecks: { requiredChecks: unknown } };
  assert.deepEqual(rules.requiredStatusChecks.requiredChecks, [{ context: "codecov/project", integrationId: 254 }, { context: "jenkins" }]);
});

// ---------------------------------------------------------------------------------------------
// API budget

test("300 environments sharing one reviewer team make one team lookup and one team-access lookup per repository", async () => {
  const repos = ["shop", "loader", "sdk"].map((name) =>
    repository({
      name,
      environments: Array.from({ length: 100 }, (_, i) => environment(`env-${i}`, { reviewers: { teams: ["release-managers"], users: [] } })),
      rulesets: [],
      secrets: [],
    }),
  );
  const { invokes, resources } = await build(
    () => {
      const lookups = new GithubLookups("acme");
      for (const repo of repos) new RepositoryGovernance(governanceName(repo.name), args({ repository: repo, lookups, secrets: {} }));
    },
    { stack: "prod", repositories: Object.assign({}, ...repos.map(teamsOf)) },
  );
  assert.equal(ofType(resources, ENV).length, 300);
  const teamLookups = invokes.filter((i) => i.token === GET_TEAM);
  assert.deepEqual(teamLookups.map((i) => i.inputs), [{ slug: "release-managers", summaryOnly: true }]);
  assert.deepEqual(invokes.filter((i) => i.token === GET_REPOSITORY_TEAMS).map((i) => i.inputs.name).sort(), ["loader", "sdk", "shop"]);
});

// ---------------------------------------------------------------------------------------------
// Names from identity

/** The engine's URN of every registration, sorted. */
const urnsOf = (resources: Built[]) => [...engineUrns(resources).values()].sort();

test("a change of case in repository, environment, secret, variable and ruleset names keeps every URN", async () => {
  const lower = repository();
  const upper: RepositoryConfig = {
    ...lower,
    name: "Shop",
    environments: lower.environments.map((e) => ({
      ...e,
      name: e.name === "production" ? "Production" : "STAGING",
      secrets: e.secrets.map((s) => s.toLowerCase()),
      variables: Object.fromEntries(Object.entries(e.variables).map(([k, v]) => [k.toLowerCase(), v])),
    })),
    rulesets: lower.rulesets.map((rs) => ({ ...rs, name: rs.name.toUpperCase() })),
    secrets: ["npm_token"],
    variables: { node_version: "22" },
  };
  const secrets = { SLACK_WEBHOOK: pulumi.secret(SLACK), NPM_TOKEN: pulumi.secret(NPM), slack_webhook: pulumi.secret(SLACK), npm_token: pulumi.secret(NPM) };
  const before = await govern(args({ repository: lower, secrets }));
  const after = await govern(args({ repository: upper, secrets }));
  assert.deepEqual(urnsOf(after.resources), urnsOf(before.resources));
  assert.equal(named(after.resources, ENV, "repo-shop-env-production-environment").plain.environment, "Production");
});

test("moving an environment between environments and trustedPublishing keeps the URNs of the environment and its policies", async () => {
  const deployFrom = { branches: ["main"], tags: ["v*"] };
  const asEnvironment = repository({ environments: [environment("npm", { deployFrom })], rulesets: [], secrets: [], variables: {} });
  const asPublishing = repository({ environments: [], trustedPublishing: [publishing("npm", "@acme/widgets", "npm", { deployFrom })], rulesets: [], secrets: [], variables: {} });
  const gates = (resources: Built[]) => {
    const urns = engineUrns(resources);
    return resources.filter((r) => r.type === ENV || r.type === POLICY || r.type === "release-infra:github:Environment").map((r) => urns.get(r)).sort();
  };
  const before = await govern(args({ repository: asEnvironment }));
  const after = await govern(args({ repository: asPublishing }));
  assert.equal(gates(before.resources).length, 4);
  assert.deepEqual(gates(after.resources), gates(before.resources));
});

test("a variable that becomes wired keeps its URN, so it is updated in place and never POSTed anew beside the old one", async () => {
  const configured = repository({ environments: [environment("production", { variables: { K8S_NAMESPACE: "shop" } })] });
  const wired = repository({ environments: [environment("production")] });
  const urn = async (a: RepositoryGovernanceArgs) => {
    const { resources } = await govern(a);
    const variable = ofType(resources, ENV_VARIABLE).find((v) => v.plain.variableName === "K8S_NAMESPACE");
    assert.ok(variable);
    return engineUrns(resources).get(variable);
  };
  assert.equal(await urn(args({ repository: wired, wiredVariables: { production: { K8S_NAMESPACE: "shop" } } })), await urn(args({ repository: configured })));
});

test("existing stacks keep their state: every URN registered under the names used before is an alias of its successor", async () => {
  // URNs as the engine forms them for this repository under the names of commit 4aecea9, where
  // the index named the governance repo-<name> and each publishing environment publishing-<repo>-<env>.
  const before: string[] = JSON.parse(readFileSync(path.join(__dirname, "fixtures", "urns", "governance-before-identity-names.json"), "utf8"));
  const repo = repository({
    name: "Shop",
    environments: [
      environment("Production", {
        reviewers: { teams: ["release-managers"], users: ["octocat"] },
        waitMinutes: 5,
        deployFrom: { branches: ["main", "release/*"], tags: ["v*"] },
        secrets: ["SLACK_WEBHOOK"],
        variables: { HEALTH_CHECK_RETRIES: "5" },
      }),
      environment("staging", { variables: { Log_Level: "debug" } }),
    ],
    rulesets: [
      ruleset("Protect-Main", { branches: ["~DEFAULT_BRANCH", "release/*"], requiredApprovals: 1, requiredChecks: [check("test")] }),
      ruleset("release-tags", { tags: ["v*"], restrictCreation: true }),
    ],
    trustedPublishing: [
      publishing("npm", "@acme/core", "NPM"),
      publishing("npm", "@acme/react", "NPM"),
      publishing("pypi", "acme-sdk", "PyPI", { deployFrom: { branches: [], tags: ["v*"] } }),
    ],
  });
  const { resources } = await govern(args({ repository: repo, wiredVariables: { staging: { AZURE_CLIENT_ID: "c" }, Production: { K8S_NAMESPACE: "shop" } } }));
  const urns = engineUrns(resources);
  const successor = new Map<string, string>();
  for (const r of resources) {
    for (const urn of [urns.get(r) ?? "", ...r.aliases]) {
      assert.ok(!successor.has(urn), `${urn} is claimed by ${successor.get(urn)} and ${r.name}`);
      successor.set(urn, r.name);
    }
  }
  assert.deepEqual(before.filter((urn) => !successor.has(urn)), []);
  assert.equal(before.length, 27);
});

test("names GitHub compares case-insensitively are kept out of updates, so a change of case never replaces (deletes) an object", async () => {
  const { resources } = await govern(args({ wiredVariables: { staging: { AZURE_CLIENT_ID: "c" } } }));
  const ignored = (type: string) => [...new Set(ofType(resources, type).map((r) => r.ignoreChanges.sort().join(",")))];
  assert.deepEqual(ignored(ENV), ["environment,repository"]);
  assert.deepEqual(ignored(POLICY), ["environment,repository"]);
  assert.deepEqual(ignored(ENV_SECRET), ["environment,repository,secretName"]);
  assert.deepEqual(ignored(ENV_VARIABLE), ["environment,repository,variableName"]);
  assert.deepEqual(ignored(SECRET), ["repository,secretName"]);
  assert.deepEqual(ignored(VARIABLE), ["repository,variableName"]);
  assert.deepEqual(ignored(RULESET), ["repository"]);
  assert.deepEqual(ignored(WORKFLOW_PERMISSIONS), ["repository"]);
});

test("a secret larger than GitHub's 48 KB fails the preview, naming it but not its value", async () => {
  const big = `x${"A".repeat(48 * 1024)}`;
  const { errors } = await build(() => new RepositoryGovernance("repo-shop", args({ secrets: { SLACK_WEBHOOK: pulumi.secret(SLACK), NPM_TOKEN: pulumi.secret(big) } })), {
    stack: "prod",
    repositories: teamsOf(repository()),
    expectErrors: true,
  });
  assert.ok(errors.some((e) => e.includes("secret NPM_TOKEN of acme/shop is 49153 bytes; GitHub accepts secrets of at most 48 KB (49152 bytes)")), errors.join("\n"));
  assert.ok(errors.every((e) => !e.includes("AAAA")));
});

// ---------------------------------------------------------------------------------------------
// Trusted publishing

test("a trusted-publishing environment is an environment of the repository, and its publishers wait for GitHub's spelling of the repository", async () => {
  const repo = repository({ environments: [], rulesets: [], secrets: [], variables: {}, trustedPublishing: [publishing("npm", "@acme/widgets", "npm")] });
  const { resources, result, invokes } = await govern(args({ repository: repo }));
  assert.deepEqual(ofType(resources, ENV).map((e) => [e.name, e.parent && resources.find((p) => p.urn === e.parent)?.type]), [
    ["repo-shop-env-npm-environment", "release-infra:github:Environment"],
  ]);
  const publishers = await valueOf(result.trustedPublishers);
  assert.deepEqual(publishers.map((p) => [p.package, p.owner, p.repository, p.environment]), [["@acme/widgets", "acme", "shop", "npm"]]);
  assert.deepEqual(invokes.filter((i) => i.token === "github:index/getRepository:getRepository").map((i) => i.inputs), [{ fullName: "acme/shop" }]);
});

test("publishers fail the preview when GitHub spells the repository differently (npm compares names case-sensitively)", async () => {
  const repo = repository({ environments: [], rulesets: [], secrets: [], variables: {}, trustedPublishing: [publishing("npm", "@acme/widgets", "npm")] });
  let resolved = false;
  const { errors } = await build(
    () =>
      new RepositoryGovernance("repo-shop", args({ repository: repo })).trustedPublishers.apply((p) => {
        resolved = true;
        return p;
      }),
    {
      stack: "prod",
      expectErrors: true,
      calls: { "github:index/getRepository:getRepository": () => ({ id: "Shop", fullName: "acme/Shop", name: "Shop", repoId: 7 }) },
    },
  );
  assert.ok(errors.some((e) => e.includes("GitHub spells acme/shop as acme/Shop: Entra ID, npm and Google compare owner and repository names case-sensitively")), errors.join("\n"));
  assert.equal(resolved, false);
});

// ---------------------------------------------------------------------------------------------
// Objects that exist already (adoption)

const GET_ENVIRONMENTS = "github:index/getRepositoryEnvironments:getRepositoryEnvironments";
const GET_VARIABLES = "github:index/getActionsVariables:getActionsVariables";
const GET_ENV_VARIABLES = "github:index/getActionsEnvironmentVariables:getActionsEnvironmentVariables";
const GET_SECRETS = "github:index/getActionsSecrets:getActionsSecrets";
const GET_REST_API = "github:index/getRestApi:getRestApi";
const GET_ENV_SECRETS = "github:index/getActionsEnvironmentSecrets:getActionsEnvironmentSecrets";
// These tests run the stack "prod".
const IMPORT_STEPS = "npm run plan -- --stack prod --import-file prod-import.json, then pulumi import --file prod-import.json --stack prod --generate-code=false (docs/migration.md)";

/** GitHub answers as if these objects existed on acme/shop. */
function existing(live: {
  environments?: string[];
  variables?: string[];
  environmentVariables?: string[];
  secrets?: string[];
  environmentSecrets?: string[];
  rulesets?: { id: number; name: string }[];
  policies?: { id: number; name: string; type: string }[];
}) {
  const rest: CallOverride = (a) => {
    const endpoint = String(a.endpoint);
    const body = endpoint.includes("/deployment-branch-policies") ? { total_count: (live.policies ?? []).length, branch_policies: live.policies ?? [] } : (live.rulesets ?? []);
    return { id: endpoint, endpoint, code: 200, status: "200 OK", headers: "{}", body: JSON.stringify(body) };
  };
  return {
    [GET_ENVIRONMENTS]: () => ({ id: "shop", repository: "shop", environments: (live.environments ?? []).map((name) => ({ name, nodeId: `node-${name}` })) }),
    [GET_VARIABLES]: () => ({ id: "shop", name: "shop", fullName: "acme/shop", variables: (live.variables ?? []).map((name) => ({ name, value: "x", createdAt: "", updatedAt: "" })) }),
    [GET_ENV_VARIABLES]: (a: Record<string, unknown>) => ({ id: "shop", name: "shop", fullName: "acme/shop", environment: a.environment, variables: (live.environmentVariables ?? []).map((name) => ({ name, value: "x", createdAt: "", updatedAt: "" })) }),
    [GET_SECRETS]: () => ({ id: "shop", name: "shop", fullName: "acme/shop", secrets: (live.secrets ?? []).map((name) => ({ name, createdAt: "", updatedAt: "" })) }),
    [GET_REST_API]: rest,
    [GET_ENV_SECRETS]: (a: Record<string, unknown>) => ({ id: "shop", name: "shop", fullName: "acme/shop", environment: a.environment, secrets: (live.environmentSecrets ?? []).map((name) => ({ name, createdAt: "", updatedAt: "" })) }),
  };
}

/** The governance's take-over problems in a preview of a stack whose last update managed `managedBefore`. */
async function takeOver(repo: RepositoryConfig, calls: Record<string, CallOverride>, options: { inState?: string[]; managedBefore?: string[] } = {}) {
  const { result, warnings } = await build(() => new RepositoryGovernance("repo-shop", args({ repository: repo, managedBefore: options.managedBefore ?? [] })), {
    stack: "prod",
    preview: true,
    repositories: teamsOf(repo),
    calls,
    inState: options.inState,
  });
  return { problems: await valueOf(result.takeOverProblems), warnings };
}

test("in a preview, an existing environment the config does not adopt is reported with the key that adopts it", async () => {
  const { problems } = await takeOver(repository(), existing({ environments: ["Production"] }));
  assert.deepEqual(problems, [
    `GitHub environment acme/shop:production exists already and this stack does not manage it: set release-infra:github.repositories[shop].environments[production].adopt: true and import it (${IMPORT_STEPS}), or rename it in the config`,
  ]);
});

test("an existing environment in the stack's state is the stack's own and not reported", async () => {
  const { problems } = await takeOver(repository(), existing({ environments: ["production"] }), { inState: ["repo-shop-env-production-environment"] });
  assert.deepEqual(problems, []);
});

test("an existing environment the last update managed is not reported, as when it is replaced under the same name", async () => {
  const { problems } = await takeOver(repository(), existing({ environments: ["production"] }), { managedBefore: ["GitHub environment acme/shop:production"] });
  assert.deepEqual(problems, []);
});

test("an adopted environment that is not imported yet is reported with the import steps, since the update would take it over", async () => {
  const repo = repository({ environments: [environment("production", { adopt: true }), environment("staging")] });
  const { problems } = await takeOver(repo, existing({ environments: ["production"] }));
  assert.deepEqual(problems, [`GitHub environment acme/shop:production is adopted but not in this stack's state, so the update would create it again: import it first (${IMPORT_STEPS}); if it is imported, the config forces its replacement: pulumi preview --diff names the input`]);
});

test("an existing trusted-publishing environment is reported with its trustedPublishing adopt key", async () => {
  const repo = repository({ environments: [], rulesets: [], variables: {}, secrets: [], trustedPublishing: [publishing("pypi", "event-forge", "pypi")] });
  const { problems } = await takeOver(repo, existing({ environments: ["pypi"] }));
  assert.equal(problems.length, 1);
  assert.match(problems[0], /^GitHub environment acme\/shop:pypi exists already .* set release-infra:github\.repositories\[shop\]\.trustedPublishing\[event-forge\]\.adopt: true /);
});

test("an existing repository variable is reported naming adoptVariables, compared case-insensitively", async () => {
  const { problems } = await takeOver(repository(), existing({ variables: ["node_version"] }));
  assert.deepEqual(problems, [
    `GitHub repository variable NODE_VERSION of acme/shop exists already and this stack does not manage it: set release-infra:github.repositories[shop].adoptVariables: [NODE_VERSION] and import it (${IMPORT_STEPS}), or rename it in the config`,
  ]);
});

test("an existing ruleset of the same name is reported with the command that lists ruleset ids", async () => {
  const { problems } = await takeOver(repository(), existing({ rulesets: [{ id: 41, name: "Protect-Main" }] }));
  assert.deepEqual(problems, [
    `GitHub ruleset protect-main of acme/shop exists already and this stack does not manage it: set release-infra:github.repositories[shop].rulesets[protect-main].adopt: <its id> (gh api repos/acme/shop/rulesets --jq '.[] | [.id, .name]') and import it (${IMPORT_STEPS}), or rename it in the config`,
  ]);
});

test("an adopted ruleset is found by its id, whatever it is called on GitHub", async () => {
  const repo = repository({ rulesets: [ruleset("protect-main", { branches: ["~DEFAULT_BRANCH"], adopt: 41 })] });
  const { problems } = await takeOver(repo, existing({ rulesets: [{ id: 41, name: "main branch (old)" }] }));
  assert.deepEqual(problems, [`GitHub ruleset protect-main of acme/shop is adopted but not in this stack's state, so the update would create it again: import it first (${IMPORT_STEPS}); if it is imported, the config forces its replacement: pulumi preview --diff names the input`]);
});

test("a variable of an adopted environment that exists is reported unless adoptVariables lists it", async () => {
  const production = (adoptVariables: string[]) => environment("production", { adopt: true, variables: { HEALTH_CHECK_RETRIES: "5", REGION: "eu" }, adoptVariables });
  const live = existing({ environments: ["production"], environmentVariables: ["HEALTH_CHECK_RETRIES", "REGION"] });
  const state = ["repo-shop-env-production-environment", "repo-shop-env-production-var-region"];
  const { problems } = await takeOver(repository({ environments: [production(["REGION"])] }), live, { inState: state });
  assert.deepEqual(problems, [
    `variable HEALTH_CHECK_RETRIES of the adopted GitHub environment acme/shop:production exists already and this stack does not manage it: set release-infra:github.repositories[shop].environments[production].adoptVariables: [HEALTH_CHECK_RETRIES] and import it (${IMPORT_STEPS}), or rename it in the config`,
  ]);
});

test("outside a preview nothing is checked or read: pulumi up previews first, and the update runs only if that passed", async () => {
  const { result, invokes } = await build(() => new RepositoryGovernance("repo-shop", args({ managedBefore: [] })), {
    stack: "prod",
    repositories: teamsOf(repository()),
    calls: existing({ environments: ["production"], variables: ["NODE_VERSION"] }),
  });
  assert.deepEqual(await valueOf(result.takeOverProblems), []);
  assert.deepEqual(invokes.map((i) => i.token).filter((t) => [GET_ENVIRONMENTS, GET_VARIABLES, GET_SECRETS, GET_REST_API].includes(t)), []);
});

const handMadePolicy = (where: string) =>
  `${where} has the branch policy *, which deployFrom does not list: it lets those refs deploy. List it under release-infra:github.repositories[shop].environments[production].deployFrom.branches to keep it, or delete it: ` +
  `gh api -X DELETE repos/acme/shop/environments/production/deployment-branch-policies/9`;

test("a deployment policy added by hand to an environment the stack manages fails the preview with the fix", async () => {
  const repo = repository({ environments: [environment("production", { deployFrom: { branches: ["main"], tags: [] } })] });
  const live = existing({ environments: ["production"], policies: [{ id: 8, name: "main", type: "branch" }, { id: 9, name: "*", type: "branch" }] });
  const { problems } = await takeOver(repo, live, { inState: ["repo-shop-env-production-environment", "repo-shop-env-production-branch-main"] });
  assert.deepEqual(problems, [handMadePolicy("GitHub environment acme/shop:production")]);
});

test("an adopted environment's policy that deployFrom does not list fails the preview with the same fix", async () => {
  const repo = repository({ environments: [environment("production", { adopt: true, deployFrom: { branches: ["main"], tags: [] } })] });
  const live = existing({ environments: ["production"], policies: [{ id: 8, name: "main", type: "branch" }, { id: 9, name: "*", type: "branch" }] });
  const { problems } = await takeOver(repo, live, { inState: ["repo-shop-env-production-environment", "repo-shop-env-production-branch-main"] });
  assert.deepEqual(problems, [handMadePolicy("the adopted GitHub environment acme/shop:production")]);
});

test("an existing environment without custom policies (GitHub answers their list with 404) has none to report", async () => {
  const repo = repository({ environments: [environment("production")] });
  const notFound: CallOverride = (a) => ({ id: String(a.endpoint), endpoint: a.endpoint, code: 404, status: "404 Not Found", headers: "{}", body: JSON.stringify({ message: "Not Found" }) });
  const { problems } = await takeOver(repo, { ...existing({ environments: ["production"] }), [GET_REST_API]: notFound }, { inState: ["repo-shop-env-production-environment"] });
  assert.deepEqual(problems, []);
});

test("a policy the last update managed and deployFrom no longer lists is not reported: the update deletes it", async () => {
  const repo = repository({ environments: [environment("production", { deployFrom: { branches: ["main"], tags: [] } })] });
  const live = existing({ environments: ["production"], policies: [{ id: 8, name: "main", type: "branch" }, { id: 9, name: "*", type: "branch" }] });
  const { problems } = await takeOver(repo, live, {
    inState: ["repo-shop-env-production-environment", "repo-shop-env-production-branch-main"],
    managedBefore: ["GitHub deployment policy acme/shop:production:branch:*"],
  });
  assert.deepEqual(problems, []);
});

test("the declared secrets an adopted environment has already are listed: the update overwrites their values", async () => {
  const repo = repository({ environments: [environment("production", { adopt: true, secrets: ["SLACK_WEBHOOK"] })] });
  const live = existing({ environments: ["production"], environmentSecrets: ["SLACK_WEBHOOK"] });
  const { problems, warnings } = await takeOver(repo, live, { inState: ["repo-shop-env-production-environment"] });
  assert.deepEqual(problems, []);
  assert.deepEqual(warnings.filter((w) => w.includes("overwrites")), [
    "the adopted GitHub environment acme/shop:production has the secrets SLACK_WEBHOOK already: the update overwrites their values with those of release-infra:secrets",
  ]);
});

test("an environment secret nobody declared fails the preview with gh secret delete, a leftover token of an adopted environment too", async () => {
  const repo = repository({
    environments: [environment("production", { secrets: ["SLACK_WEBHOOK"] })],
    trustedPublishing: [publishing("pypi", "event-forge", "pypi", { adopt: true })],
  });
  const live = existing({ environments: ["production", "pypi"], environmentSecrets: ["SLACK_WEBHOOK", "PYPI_API_TOKEN"] });
  const { problems } = await takeOver(repo, live, { inState: ["repo-shop-env-production-environment", "repo-shop-env-pypi-environment"] });
  assert.deepEqual(problems, [
    "GitHub environment acme/shop:production has the secret PYPI_API_TOKEN, which the config does not declare: every job in the environment can read it. List it under release-infra:github.repositories[shop].environments[production].secrets (its value under release-infra:secrets) to manage it, or delete it: gh secret delete PYPI_API_TOKEN --env production --repo acme/shop",
    "the adopted GitHub environment acme/shop:pypi has the secret SLACK_WEBHOOK, which the config does not declare: every job in the environment can read it. Its publishing job logs in by OIDC and needs no secret; delete it: gh secret delete SLACK_WEBHOOK --env pypi --repo acme/shop",
    "the adopted GitHub environment acme/shop:pypi has the secret PYPI_API_TOKEN, which the config does not declare: every job in the environment can read it. Its publishing job logs in by OIDC and needs no secret; delete it: gh secret delete PYPI_API_TOKEN --env pypi --repo acme/shop",
  ]);
});

test("an adopted environment's policy that deployFrom lists fails the preview with its import under the environment (GitHub answers its create with 303)", async () => {
  const repo = repository({ environments: [environment("production", { adopt: true, deployFrom: { branches: ["main"], tags: ["v*"] } })] });
  const live = existing({ environments: ["production"], policies: [{ id: 10, name: "main", type: "branch" }, { id: 11, name: "v*", type: "tag" }] });
  const { problems } = await takeOver(repo, live, { inState: ["repo-shop-env-production-environment"] });
  // Under mocks a URN carries only the parent's type; the engine's has the whole chain.
  const parent = "urn:pulumi:prod::release-infra::release-infra:github:RepositoryGovernance$release-infra:github:Environment::repo-shop-env-production";
  const type = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy";
  assert.deepEqual(problems, [
    `the branch policy main of the adopted GitHub environment acme/shop:production exists already and this stack does not manage it: import it under its environment first: pulumi import ${type} 'repo-shop-env-production-branch-main' shop:production:10 --parent 'environment=${parent}' --stack prod --generate-code=false --yes`,
    `the tag policy v* of the adopted GitHub environment acme/shop:production exists already and this stack does not manage it: import it under its environment first: pulumi import ${type} 'repo-shop-env-production-tag-v*' shop:production:11 --parent 'environment=${parent}' --stack prod --generate-code=false --yes`,
  ]);
  const imported = await takeOver(repo, live, { inState: ["repo-shop-env-production-environment", "repo-shop-env-production-branch-main", "repo-shop-env-production-tag-v*"] });
  assert.deepEqual(imported.problems, []);
});

test("a retired repository secret that still exists is reported with the gh secret delete command", async () => {
  const repo = repository({ retiredSecrets: ["AZURE_CREDENTIALS"] });
  const { warnings } = await takeOver(repo, existing({ secrets: ["AZURE_CREDENTIALS", "NPM_TOKEN"] }));
  assert.deepEqual(warnings.filter((w) => w.includes("repository secret")), [
    "repository secret AZURE_CREDENTIALS of acme/shop is listed under retiredSecrets and still exists: every workflow on every branch can read it; delete it: gh secret delete AZURE_CREDENTIALS --repo acme/shop",
  ]);
});

test("a repository secret with the name of an environment secret is reported: jobs outside the environment still read it", async () => {
  const { warnings } = await takeOver(repository(), existing({ secrets: ["SLACK_WEBHOOK"] }));
  assert.deepEqual(warnings.filter((w) => w.includes("repository secret")), [
    "repository secret SLACK_WEBHOOK of acme/shop has the name of an environment secret: jobs outside that environment still read the repository one; delete it once the environment secret is set: gh secret delete SLACK_WEBHOOK --repo acme/shop",
  ]);
});

test("an adopted environment and variable carry their import ids", async () => {
  const repo = repository({ environments: [environment("production", { adopt: true, variables: { REGION: "eu" }, adoptVariables: ["REGION"] })], adoptVariables: ["NODE_VERSION"] });
  const { result } = await govern(args({ repository: repo }));
  const adopted = await Promise.all(result.adoptions.map(async (a) => [(await valueOf(a.resource.urn)).split("::").pop(), await valueOf(pulumi.output(a.importId))]));
  assert.deepEqual(adopted.sort(), [
    ["repo-shop-env-production-environment", "shop:production"],
    ["repo-shop-env-production-var-region", "shop:production:REGION"],
    ["repo-shop-var-node_version", "shop:NODE_VERSION"],
  ]);
});
