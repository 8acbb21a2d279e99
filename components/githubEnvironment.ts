import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";
import type { EnvironmentConfig, RepositoryConfig, Stage } from "../config/load";
import { protectionRulesAvailable } from "../config/schema";

export interface GithubEnvironmentArgs {
  /** The organisation or user that owns the repository (github:owner), for messages. */
  owner: string;
  /** The repository (of the provider's owner) the environment belongs to; its plan and visibility gate the protection rules. */
  repository: Pick<RepositoryConfig, "name" | "visibility" | "plan">;
  /** The environment name as GitHub shows it. */
  environment: string;
  /** Required reviewers as team slugs and user logins; resolved to the numeric ids the API takes. */
  reviewers?: EnvironmentConfig["reviewers"];
  /** Reviewers may not approve their own deployments (only sent with reviewers: it is a reviewer setting). */
  preventSelfReview: boolean;
  /** Minutes a deployment waits before it proceeds. */
  waitMinutes?: number;
  /** Branch and tag name patterns allowed to deploy; nothing else can. */
  deployFrom: EnvironmentConfig["deployFrom"];
  /** prod environments cannot be bypassed by repository admins. */
  stage: Stage;
}

/**
 * A GitHub environment restricted to explicit branches and tags (custom deployment policies,
 * never "protected branches", which lets every branch deploy while no branch is protected),
 * with required reviewers resolved from slugs and logins.
 */
export class GithubEnvironment extends pulumi.ComponentResource {
  /** The environment name; resolves once the environment and all its deployment policies exist. */
  public readonly environment: pulumi.Output<string>;

  constructor(name: string, args: GithubEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("release-infra:github:Environment", name, {}, opts);

    const teams = args.reviewers?.teams ?? [];
    const users = args.reviewers?.users ?? [];
    const hasReviewers = teams.length + users.length > 0;
    // GitHub silently drops a reviewer team without access to the repository, so the environment
    // would deploy unapproved: fail the preview instead. Granting access is the team owner's call.
    const teamId = (slug: string) =>
      // "immediate" lists members through GraphQL: the REST member listing leaves its page cursor
      // behind, and the repository listing that follows would skip pages for teams of >100 members.
      github.getTeamOutput({ slug, membershipType: "immediate" }, { parent: this }).apply((team) => {
        const repo = args.repository.name.toLowerCase();
        if (!team.repositoriesDetaileds.some((r) => r.repoName.toLowerCase() === repo)) {
          throw new Error(
            `team ${slug} has no access to ${args.owner}/${args.repository.name}: GitHub would silently drop it as a required reviewer of environment ${args.environment}; give the team at least read access to the repository`,
          );
        }
        return Number(team.id);
      });
    const teamIds = teams.map(teamId);
    const reviewers = hasReviewers
      ? [
          {
            teams: teamIds,
            // User reviewers must be collaborators of the repository too (or GitHub drops them the same way); not checked.
            users: users.map((username) => github.getUserOutput({ username }, { parent: this }).id.apply(Number)),
          },
        ]
      : undefined;
    // Outside prod admins may push an urgent deployment through; on plans without protection
    // rules the setting does not exist (and there is nothing to bypass), so it is not sent.
    const lockAdmins = args.stage === "prod" && protectionRulesAvailable(args.repository);

    const environment = new github.RepositoryEnvironment(
      `${name}-environment`,
      {
        repository: args.repository.name,
        environment: args.environment,
        reviewers,
        preventSelfReview: hasReviewers ? args.preventSelfReview : undefined,
        waitTimer: args.waitMinutes ? args.waitMinutes : undefined,
        canAdminsBypass: lockAdmins ? false : undefined,
        deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true },
      },
      { parent: this },
    );

    // Dependents take the name through the reviewer check too: when it fails the environment is never
    // registered, and they fail with the check instead of waiting forever (as they would under mocks).
    const environmentName = pulumi.all([environment.environment, pulumi.all(teamIds)]).apply(([env]) => env);

    // The policy endpoint answers 404 until the environment has custom policies enabled.
    const policy = (kind: "branch" | "tag", pattern: string) =>
      new github.RepositoryEnvironmentDeploymentPolicy(
        `${name}-${kind}-${pattern}`,
        {
          repository: args.repository.name,
          environment: environmentName,
          ...(kind === "branch" ? { branchPattern: pattern } : { tagPattern: pattern }),
        },
        { parent: this, dependsOn: [environment] },
      );
    const policies = [
      ...args.deployFrom.branches.map((p) => policy("branch", p)),
      ...args.deployFrom.tags.map((p) => policy("tag", p)),
    ];

    this.environment = pulumi.all([environmentName, ...policies.map((p) => p.environment)]).apply(([env]) => env);
    this.registerOutputs({ environment: this.environment });
  }
}
