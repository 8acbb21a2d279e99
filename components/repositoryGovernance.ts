import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";
import type { RepositoryConfig, RulesetConfig, Stage } from "../config/load";
import type { WIRED_VARIABLES } from "../config/schema";
import { GithubEnvironment } from "./githubEnvironment";

/** A variable release-infra wires into an environment from the cloud components (docs/configuration.md, wired variables). */
export type WiredVariable = (typeof WIRED_VARIABLES)[number];

/** GitHub's role id of the built-in repository admin role, as ruleset bypass actors name it. */
export const REPOSITORY_ADMIN_ROLE_ID = 5;

export interface RepositoryGovernanceArgs {
  /** The organisation or user that owns the repository (github:owner; the provider's owner). */
  owner: string;
  /** The repository's config: environments, secrets, variables, rulesets, Actions defaults. */
  repository: RepositoryConfig;
  /** prod environments cannot be bypassed by admins. */
  stage: Stage;
  /** Secret values by name (release-infra:secrets); every secret the repository names must be here. */
  secrets: Record<string, pulumi.Output<string>>;
  /** Per environment name: the variables wired from the cloud components (client ids, registry, namespace, CDN). */
  wiredVariables: Record<string, Partial<Record<WiredVariable, pulumi.Input<string>>>>;
}

/** The ref-name condition GitHub expects: full ref names, or `~DEFAULT_BRANCH` / `~ALL` as they are. */
export function rulesetRef(target: "branch" | "tag", pattern: string): string {
  if (pattern.startsWith("~") || pattern.startsWith("refs/")) return pattern;
  return `${target === "branch" ? "refs/heads" : "refs/tags"}/${pattern}`;
}

/**
 * Who may do what on one repository: its environments (reviewers, deployment policies), their
 * secrets and variables (configured and wired), repository secrets and variables, branch and tag
 * rulesets, and the Actions defaults (read-only workflow token, workflows cannot approve PRs).
 */
export class RepositoryGovernance extends pulumi.ComponentResource {
  /** `owner/name` of the governed repository. */
  public readonly repository: string;
  /** Names of the managed environments; resolves once each exists with its deployment policies. */
  public readonly environments: pulumi.Output<string[]>;
  /** Names of the managed rulesets; resolves once all exist. */
  public readonly rulesets: pulumi.Output<string[]>;

  constructor(name: string, args: RepositoryGovernanceArgs, opts?: pulumi.ComponentResourceOptions) {
    // Before anything is registered, so a wiring mistake leaves no half-built component behind.
    checkArgs(name, args);
    super("release-infra:github:RepositoryGovernance", name, {}, opts);
    const repo = args.repository;
    const repository = repo.name;
    // pulumi.secret again in case a caller passes a plain output.
    const secretValue = (secretName: string) => pulumi.secret(args.secrets[secretName]);

    const environments = repo.environments.map((env) => {
      const prefix = `${name}-env-${env.name}`;
      const environment = new GithubEnvironment(
        prefix,
        {
          owner: args.owner,
          repository: repo,
          environment: env.name,
          reviewers: env.reviewers,
          preventSelfReview: env.preventSelfReview,
          waitMinutes: env.waitMinutes,
          deployFrom: env.deployFrom,
          stage: args.stage,
        },
        { parent: this },
      );
      // Using the environment output makes secrets wait until its deployment policies exist.
      for (const secretName of env.secrets) {
        new github.ActionsEnvironmentSecret(
          `${prefix}-secret-${secretName}`,
          { repository, environment: environment.environment, secretName, value: secretValue(secretName) },
          { parent: this },
        );
      }
      const variable = (kind: "var" | "wired", variableName: string, value: pulumi.Input<string>) =>
        new github.ActionsEnvironmentVariable(
          `${prefix}-${kind}-${variableName}`,
          { repository, environment: environment.environment, variableName, value },
          { parent: this },
        );
      for (const [variableName, value] of Object.entries(env.variables)) variable("var", variableName, value);
      for (const [variableName, value] of Object.entries(args.wiredVariables[env.name] ?? {})) {
        if (value !== undefined) variable("wired", variableName, value);
      }
      return environment.environment;
    });

    for (const secretName of repo.secrets) {
      new github.ActionsSecret(
        `${name}-secret-${secretName}`,
        { repository, secretName, value: secretValue(secretName) },
        // The bridge does not replace this one delete-first; create-then-delete would remove the new secret.
        { parent: this, deleteBeforeReplace: true },
      );
    }
    for (const [variableName, value] of Object.entries(repo.variables)) {
      new github.ActionsVariable(`${name}-var-${variableName}`, { repository, variableName, value }, { parent: this });
    }

    const rulesets = repo.rulesets.map(
      (rs) => new github.RepositoryRuleset(`${name}-ruleset-${rs.name}`, { repository, ...rulesetArgs(rs) }, { parent: this }),
    );

    if (repo.actionsDefaults) {
      new github.WorkflowRepositoryPermissions(
        `${name}-actions-defaults`,
        { repository, defaultWorkflowPermissions: "read", canApprovePullRequestReviews: false },
        { parent: this },
      );
    }

    this.repository = `${args.owner}/${repository}`;
    this.environments = pulumi.all(environments);
    this.rulesets = pulumi.all(rulesets.map((r) => r.name));
    this.registerOutputs({
      repository: this.repository,
      environments: this.environments,
      rulesets: this.rulesets,
    });
  }
}

/** Wiring mistakes of the caller (index.ts); the schema has already checked the config itself. */
function checkArgs(name: string, args: RepositoryGovernanceArgs): void {
  const repo = args.repository;
  const problems: string[] = [];
  for (const secretName of [...repo.secrets, ...repo.environments.flatMap((e) => e.secrets)]) {
    if (!args.secrets[secretName]) problems.push(`no value for secret ${secretName} in args.secrets`);
  }
  const environments = new Map(repo.environments.map((e) => [e.name, e]));
  for (const [envName, wired] of Object.entries(args.wiredVariables)) {
    const env = environments.get(envName);
    if (!env) {
      problems.push(`wired variables for environment ${envName}, which ${repo.name} does not declare`);
      continue;
    }
    for (const variableName of Object.keys(wired)) {
      if (variableName in env.variables) problems.push(`${variableName} in environment ${envName} is both configured and wired`);
    }
  }
  if (problems.length > 0) throw new Error(`RepositoryGovernance ${name}: ${problems.join("; ")}`);
}

/**
 * The ruleset for one config entry. Branch rulesets have no bypass actors at all (Scorecard counts
 * any bypass as admins not included). Tag rulesets that restrict creation let repository admins
 * create (and so also move or delete) matching tags: with no bypass actor nobody could ever
 * create a release tag. Everyone else can only push tags that do not match.
 */
function rulesetArgs(rs: RulesetConfig): Omit<github.RepositoryRulesetArgs, "repository"> {
  const target = rs.branches ? "branch" : "tag";
  const includes = (rs.branches ?? rs.tags ?? []).map((p) => rulesetRef(target, p));
  const common = {
    name: rs.name,
    target,
    enforcement: "active",
    conditions: { refName: { includes, excludes: [] } },
  };
  if (target === "tag") {
    return {
      ...common,
      rules: { deletion: true, nonFastForward: true, update: true, creation: rs.restrictCreation || undefined },
      bypassActors: rs.restrictCreation
        ? [{ actorId: REPOSITORY_ADMIN_ROLE_ID, actorType: "RepositoryRole", bypassMode: "always" }]
        : undefined,
    };
  }
  const approvals = rs.requiredApprovals ?? 0;
  return {
    ...common,
    rules: {
      deletion: true,
      nonFastForward: true,
      creation: rs.restrictCreation || undefined,
      requiredLinearHistory: rs.requireLinearHistory || undefined,
      pullRequest:
        rs.requiredApprovals !== undefined || rs.requireCodeOwnerReview
          ? {
              requiredApprovingReviewCount: approvals,
              dismissStaleReviewsOnPush: rs.dismissStaleReviews,
              requireCodeOwnerReview: rs.requireCodeOwnerReview,
              // The most recent push must be approved by someone other than its pusher.
              requireLastPushApproval: approvals > 0,
            }
          : undefined,
      requiredStatusChecks:
        rs.requiredChecks.length > 0
          ? { requiredChecks: rs.requiredChecks.map((context) => ({ context })), strictRequiredStatusChecksPolicy: true }
          : undefined,
    },
  };
}
