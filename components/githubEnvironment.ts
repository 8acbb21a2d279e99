import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";
import type { EnvironmentConfig, RepositoryConfig, Stage } from "../config/load";
import { protectionRulesAvailable } from "../config/schema";
import { keptWhenAdopted, type Adoption } from "./adoption";
import type { GithubLookups } from "./githubLookups";
import { aliasesFrom, childOf, type Location } from "./locations";

/** Type tokens of what this component registers, for its locations. */
export const ENVIRONMENT_TYPES = {
  component: "release-infra:github:Environment",
  environment: "github:index/repositoryEnvironment:RepositoryEnvironment",
  policy: "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
} as const;

export interface GithubEnvironmentArgs {
  /** The organisation or user that owns the repository (github:owner), for messages. */
  owner: string;
  /** The repository (of the provider's owner) the environment belongs to; its plan and visibility gate the protection rules. */
  repository: Pick<RepositoryConfig, "name" | "visibility" | "plan">;
  /** The environment name as GitHub shows it. */
  environment: string;
  /** Required reviewers as team slugs and user logins; resolved to the numeric ids the API takes. */
  reviewers?: EnvironmentConfig["reviewers"];
  /** Reviewers may not approve their own deployments (the provider always sends the setting; it only matters with reviewers). */
  preventSelfReview: boolean;
  /** Minutes a deployment waits before it proceeds. */
  waitMinutes?: number;
  /** Branch and tag name patterns allowed to deploy, nothing else can; or "any ref" (no deployment policy: pull-request runs, whose ref is `refs/pull/<n>/merge`), for an environment its reviewers guard. */
  deployFrom: EnvironmentConfig["deployFrom"] | "any ref";
  /** prod environments cannot be bypassed by repository admins. */
  stage: Stage;
  /** The stack's shared lookups of team and user ids and of which teams can access the repository. */
  lookups: GithubLookups;
  /** Where this component was registered under earlier names, so existing stacks keep the environment and its policies. */
  previously?: Location[];
  /** The environment exists already: it is imported (the plan's import file), not created. */
  adopt?: boolean;
}

/**
 * A GitHub environment restricted to explicit branches and tags (custom deployment policies,
 * never "protected branches", which lets every branch deploy while no branch is protected),
 * with required reviewers resolved from slugs and logins.
 *
 * GitHub compares environment names case-insensitively and has no rename: a change of case in the
 * config is not sent (`ignoreChanges`), since replacing the resource would create the "new"
 * environment (an upsert of the same one) and then delete it with its secrets.
 */
export class GithubEnvironment extends pulumi.ComponentResource {
  /** The environment name; resolves once the environment and all its deployment policies exist. */
  public readonly environment: pulumi.Output<string>;
  /** The environment itself when it is adopted. */
  public readonly adoptions: Adoption[] = [];
  /** The GitHub environment resource, for the take-over check (GitHub creates environments with PUT: an existing one would be taken over silently). */
  public readonly repositoryEnvironment: github.RepositoryEnvironment;
  /** Its deployment policies by `branch:<pattern>` / `tag:<pattern>`, for the take-over check of an adopted environment. */
  public readonly deploymentPolicies = new Map<string, github.RepositoryEnvironmentDeploymentPolicy>();

  constructor(name: string, args: GithubEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    const previously = args.previously ?? [];
    super(ENVIRONMENT_TYPES.component, name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), ...aliasesFrom(previously)] });
    const was = (type: string, suffix: string) => ({ aliases: aliasesFrom(previously.map((p) => childOf(p, type, `${p.name}${suffix}`))) });
    const { lookups } = args;

    const teams = args.reviewers?.teams ?? [];
    const users = args.reviewers?.users ?? [];
    const hasReviewers = teams.length + users.length > 0;
    // GitHub silently drops a reviewer team without access to the repository, so the environment
    // would deploy unapproved: fail the preview instead. Granting access is the team owner's call.
    const access =
      teams.length > 0
        ? lookups.teamsWithAccess(args.repository.name).apply((withAccess) => {
            for (const slug of teams) {
              if (!withAccess.has(slug.toLowerCase())) {
                throw new Error(
                  `team ${slug} has no access to ${args.owner}/${args.repository.name}: GitHub would silently drop it as a required reviewer of environment ${args.environment}; give the team at least read access to the repository`,
                );
              }
            }
            return true;
          })
        : pulumi.output(true);
    const teamIds = teams.map((slug) => pulumi.all([lookups.teamId(slug), access]).apply(([id]) => id));
    const reviewers = hasReviewers
      ? [
          {
            teams: teamIds,
            // User reviewers must be collaborators of the repository too (or GitHub drops them the same way); not checked.
            users: users.map((login) => lookups.userId(login)),
          },
        ]
      : undefined;
    // Outside prod admins may push an urgent deployment through. The provider always sends
    // can_admins_bypass, defaulting to true (resource_github_repository_environment.go,
    // createUpdateEnvironmentData), so it is sent explicitly; without protection rules there is
    // nothing to bypass and GitHub's default stays.
    const lockAdmins = args.stage === "prod" && protectionRulesAvailable(args.repository);

    const environment = new github.RepositoryEnvironment(
      `${name}-environment`,
      {
        repository: args.repository.name,
        environment: args.environment,
        reviewers,
        preventSelfReview: hasReviewers ? args.preventSelfReview : undefined,
        waitTimer: args.waitMinutes ? args.waitMinutes : undefined,
        canAdminsBypass: !lockAdmins,
        deploymentBranchPolicy: args.deployFrom === "any ref" ? undefined : { protectedBranches: false, customBranchPolicies: true },
      },
      {
        parent: this,
        // An adopted environment keeps the protection the stack file does not state: dropping a live
        // environment's reviewers, wait timer or admin lock is never a default.
        ignoreChanges: [
          "repository",
          "environment",
          ...keptWhenAdopted(args.adopt === true, {
            reviewers,
            preventSelfReview: hasReviewers ? args.preventSelfReview : undefined,
            waitTimer: args.waitMinutes || undefined,
            canAdminsBypass: lockAdmins ? false : undefined,
          }),
        ],
        ...was(ENVIRONMENT_TYPES.environment, "-environment"),
      },
    );
    this.repositoryEnvironment = environment;
    // The provider's import id: `<repository>:<environment>` (names cannot contain ':').
    if (args.adopt) this.adoptions.push({ resource: environment, importId: `${args.repository.name}:${args.environment}` });

    // Dependents take the name through the reviewer check too: when it fails the environment is never
    // registered, and they fail with the check instead of waiting forever (as they would under mocks).
    const environmentName = pulumi.all([environment.environment, access]).apply(([env]) => env);

    // The policy endpoint answers 404 until the environment has custom policies enabled.
    const policy = (kind: "branch" | "tag", pattern: string) =>
      new github.RepositoryEnvironmentDeploymentPolicy(
        `${name}-${kind}-${pattern}`,
        {
          repository: args.repository.name,
          environment: environmentName,
          ...(kind === "branch" ? { branchPattern: pattern } : { tagPattern: pattern }),
        },
        { parent: this, dependsOn: [environment], ignoreChanges: ["repository", "environment"], ...was(ENVIRONMENT_TYPES.policy, `-${kind}-${pattern}`) },
      );
    const deployFrom = args.deployFrom === "any ref" ? { branches: [], tags: [] } : args.deployFrom;
    for (const p of deployFrom.branches) this.deploymentPolicies.set(`branch:${p}`, policy("branch", p));
    for (const p of deployFrom.tags) this.deploymentPolicies.set(`tag:${p}`, policy("tag", p));
    const policies = [...this.deploymentPolicies.values()];

    this.environment = pulumi.all([environmentName, ...policies.map((p) => p.environment)]).apply(([env]) => env);
    this.registerOutputs({ environment: this.environment });
  }
}
