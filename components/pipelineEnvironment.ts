import type { GithubLookups } from "./githubLookups";
import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";
import type { PipelineSection, Stage } from "../config/load";
import { GithubEnvironment } from "./githubEnvironment";

/** What a pipeline environment is for: `pulumi up`, the default branch's read-only checks, or pull-request previews. */
export type PipelineEnvironmentKind = "deploy" | "read" | "preview";

export interface PipelineEnvironmentArgs {
  /** The owner of the repository (github:owner), for messages. */
  owner: string;
  /** The repository holding this program and its workflows. */
  repository: PipelineSection["repository"];
  /** `pulumi-<stack>`, `pulumi-<stack>-read` or `pulumi-<stack>-preview`. */
  environment: string;
  /** deploy and read: usable from main only; preview: from any ref (pull-request runs), behind its reviewers. */
  kind: PipelineEnvironmentKind;
  /** The deploy stack's stage; an environment with reviewers gets prod's protection (no admin bypass) whatever the stage. */
  stage: Stage;
  /** Required reviewers; none: no approval. */
  reviewers?: PipelineSection["reviewers"];
  /** Reviewers may not approve a run they triggered. */
  preventSelfReview: boolean;
  /** Variables the workflows read (`vars.NAME`), by name. */
  variables: Record<string, pulumi.Input<string>>;
  /** The stack's shared lookups of reviewer ids and team access (GithubLookups). */
  lookups: GithubLookups;
}

/** The branch the pipeline's deploys and read-only checks run from. */
export const DEFAULT_BRANCH = "main";

/**
 * One GitHub environment a workflow job runs in, with what the job reads from it. Deploy and read
 * environments are restricted to `main` (custom deployment policies): a pushed branch cannot use
 * them, so unreviewed code never holds their identities or keys. With reviewers (prod, a stack that
 * manages GitHub objects, every preview) an approval is needed and admins cannot bypass it. A preview
 * environment has no deployment policy, since a pull-request run's ref is `refs/pull/<n>/merge`:
 * any ref may ask for it (a pushed branch's own workflow too), so its reviewers' approval of the
 * run, after checking its event and workflow file, is the only gate to its read rights.
 *
 * It creates no secret: the GitHub App key `GH_APP_PRIVATE_KEY` is set by the administrator
 * (pipelineStack.ts administratorSetup), since every secret in the pipeline stack's config would be
 * decrypted by its unreviewed drift reader.
 */
export class PipelineEnvironment extends pulumi.ComponentResource {
  /** The environment name; resolves once the environment, its policies and variables exist. */
  public readonly environment: pulumi.Output<string>;

  constructor(name: string, args: PipelineEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("release-infra:pipeline:Environment", name, {}, opts);
    const repository = args.repository.name;
    const reviewed = (args.reviewers?.teams.length ?? 0) + (args.reviewers?.users.length ?? 0) > 0;
    let environmentName: pulumi.Output<string>;
    if (args.kind === "read") {
      // Registered as before (a plain environment), so existing read environments are updated in place.
      const environment = new github.RepositoryEnvironment(
        `${name}-environment`,
        { repository, environment: args.environment, deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true } },
        { parent: this },
      );
      const policy = new github.RepositoryEnvironmentDeploymentPolicy(
        `${name}-branch-${DEFAULT_BRANCH}`,
        { repository, environment: environment.environment, branchPattern: DEFAULT_BRANCH },
        { parent: this, dependsOn: [environment] },
      );
      environmentName = pulumi.all([environment.environment, policy.environment]).apply(([env]) => env);
    } else {
      environmentName = new GithubEnvironment(
        `${name}-environment`,
        {
          owner: args.owner,
          repository: args.repository,
          environment: args.environment,
          reviewers: reviewed ? args.reviewers : undefined,
          preventSelfReview: args.preventSelfReview,
          deployFrom: args.kind === "preview" ? "any ref" : { branches: [DEFAULT_BRANCH], tags: [] },
          stage: reviewed ? "prod" : args.stage,
          lookups: args.lookups,
        },
        { parent: this },
      ).environment;
    }

    const variables = Object.entries(args.variables).map(
      ([variableName, value]) =>
        new github.ActionsEnvironmentVariable(`${name}-var-${variableName}`, { repository, environment: environmentName, variableName, value }, { parent: this }),
    );
    this.environment = pulumi.all([environmentName, ...variables.map((v) => v.id)]).apply(([env]) => env);
    this.registerOutputs({ environment: this.environment });
  }
}
