import type { GithubLookups } from "./githubLookups";
import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";
import type { PipelineSection, Stage } from "../config/load";
import { GithubEnvironment } from "./githubEnvironment";

export interface PipelineEnvironmentArgs {
  /** The owner of the repository (github:owner), for messages. */
  owner: string;
  /** The repository holding this program and its workflows. */
  repository: PipelineSection["repository"];
  /** `pulumi-<stack>` (deploys) or `pulumi-<stack>-read` (previews and drift checks). */
  environment: string;
  /** write: deployable from main only, with the pipeline's reviewers in prod; read: any ref, no reviewers. */
  access: "write" | "read";
  /** The deploy stack's stage: prod environments get the reviewers and no admin bypass. */
  stage: Stage;
  /** Required reviewers of prod deploys. */
  reviewers: PipelineSection["reviewers"];
  /** Reviewers may not approve their own prod deployments. */
  preventSelfReview: boolean;
  /** Variables the workflows read (`vars.NAME`), by name. */
  variables: Record<string, pulumi.Input<string>>;
  /** Secrets of the environment, by name (the GitHub App's private key). */
  secrets: Record<string, pulumi.Input<string>>;
  /** The stack's shared lookups of reviewer ids and team access (GithubLookups). */
  lookups: GithubLookups;
}

/**
 * One GitHub environment a workflow job runs in, with what the job reads from it. A deploy
 * environment is restricted to `main` (custom deployment policies) and, in prod, needs an approval
 * that admins cannot bypass. A read environment has no deployment policy, so every ref may use it:
 * pull-request runs (whose ref is `refs/pull/<n>/merge`) and branches with `/` in their names, which
 * a `*` pattern would not match (GitHub matches patterns with fnmatch, `*` not crossing `/`). Its
 * identity can only read, so no ref gains more than a preview.
 */
export class PipelineEnvironment extends pulumi.ComponentResource {
  /** The environment name; resolves once the environment, its policies, variables and secrets exist. */
  public readonly environment: pulumi.Output<string>;

  constructor(name: string, args: PipelineEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("release-infra:pipeline:Environment", name, {}, opts);
    const repository = args.repository.name;
    const environmentName =
      args.access === "write"
        ? new GithubEnvironment(
            `${name}-environment`,
            {
              owner: args.owner,
              repository: args.repository,
              environment: args.environment,
              reviewers: args.stage === "prod" ? args.reviewers : undefined,
              preventSelfReview: args.preventSelfReview,
              deployFrom: { branches: ["main"], tags: [] },
              stage: args.stage,
              lookups: args.lookups,
            },
            { parent: this },
          ).environment
        : new github.RepositoryEnvironment(`${name}-environment`, { repository, environment: args.environment }, { parent: this }).environment;

    const variables = Object.entries(args.variables).map(
      ([variableName, value]) =>
        new github.ActionsEnvironmentVariable(`${name}-var-${variableName}`, { repository, environment: environmentName, variableName, value }, { parent: this }),
    );
    const secrets = Object.entries(args.secrets).map(
      ([secretName, value]) =>
        new github.ActionsEnvironmentSecret(`${name}-secret-${secretName}`, { repository, environment: environmentName, secretName, value }, { parent: this }),
    );

    this.environment = pulumi.all([environmentName, ...variables.map((v) => v.id), ...secrets.map((s) => s.id)]).apply(([env]) => env);
    this.registerOutputs({ environment: this.environment });
  }
}
