import * as pulumi from "@pulumi/pulumi";
import type { RepositoryConfig, TrustedPublishingConfig } from "../config/load";
import { sharedEnvironmentConflict } from "../config/schema";

export interface TrustedPublishingArgs {
  /** The organisation or user that owns the repository (github:owner). */
  owner: string;
  /** The repository the publishing workflow runs in; its visibility decides the registries' caveats. */
  repository: Pick<RepositoryConfig, "name" | "visibility">;
  /**
   * The trusted-publishing entries served by one environment, one per package: the same
   * environment, registry, workflow file, deployment policies, reviewers and wait timer.
   */
  entries: TrustedPublishingConfig[];
  /** The publishing job's environment (RepositoryGovernance creates it); resolves once it and its deployment policies exist. */
  environment: pulumi.Input<string>;
  /** Checks the values wait for, e.g. that GitHub spells owner and repository as configured (registries compare them case-sensitively). */
  trustAfter?: pulumi.Input<unknown>[];
}

/** What to enter on the registry; the registry side cannot be managed by Pulumi. */
export interface TrustedPublisher {
  registry: TrustedPublishingConfig["registry"];
  /** Package (project) name on the registry. */
  package: string;
  /** Repository owner (organisation or user). */
  owner: string;
  /** Repository name, without the owner. */
  repository: string;
  /** Workflow file name in .github/workflows. */
  workflow: string;
  /** The GitHub environment the publishing job runs in. */
  environment: string;
  /** The registry page where the publisher is entered. */
  settingsUrl: string;
  /** How to configure the registry side, and its limits. */
  note: string;
}

/** PEP 503 normalisation, as PyPI spells project names in its URLs. */
function pypiProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

function registrySide(owner: string, repository: string, entry: TrustedPublishingConfig): Pick<TrustedPublisher, "settingsUrl" | "note"> {
  const values = `owner ${owner}, repository ${repository}, workflow ${entry.workflow}, environment ${entry.environment}`;
  switch (entry.registry) {
    case "pypi": {
      const settingsUrl = `https://pypi.org/manage/project/${pypiProjectName(entry.package)}/settings/publishing/`;
      return {
        settingsUrl,
        note:
          `PyPI trusted publishers cannot be configured through Pulumi (PyPI has no API for it: pypi/warehouse#14456). ` +
          `Add a GitHub publisher at ${settingsUrl} with ${values}; for a project that does not exist yet, add a pending publisher ` +
          `for project ${entry.package} at https://pypi.org/manage/account/publishing/ (it does not reserve the name).`,
      };
    }
    case "npm": {
      const settingsUrl = `https://www.npmjs.com/package/${entry.package}/access`;
      // npm's CLI documentation (docs/content/commands/npm-trust.md of npm 11.19.1): npm >= 11.15.0,
      // 2FA, an existing package, and at least one permission flag; checked with --dry-run.
      // Staged publishing (https://docs.npmjs.com/staged-publishing): a stage-only trusted publisher
      // rejects npm publish, and a maintainer approves each staged version with 2FA.
      const [allow, permission] = entry.stagedPublishing ? ["allow npm stage publish only", "--allow-stage-publish"] : ["allow npm publish", "--allow-publish"];
      const staged = entry.stagedPublishing
        ? ` The workflow runs npm stage publish; each version is published only once a maintainer approves it with 2FA (npm stage approve, or on npmjs.com).`
        : "";
      return {
        settingsUrl,
        note:
          `npm trusted publishers cannot be configured through Pulumi. At ${settingsUrl} (Trusted Publisher, GitHub Actions) enter ${values} and ${allow}, ` +
          `or run (npm >= 11.15.0, 2FA on the account, the package must already exist): ` +
          `npm trust github ${entry.package} --repository ${owner}/${repository} --file ${entry.workflow} --env ${entry.environment} ${permission}.${staged} ` +
          `npm compares these values case-sensitively, keeps one trusted publisher per package, publishes through it only from GitHub-hosted runners, and the first publish is manual.`,
      };
    }
    case "nuget": {
      const settingsUrl = "https://www.nuget.org/account/trustedpublishing";
      return {
        settingsUrl,
        note:
          `NuGet trusted publishing policies cannot be configured through Pulumi (nuget.org has a web UI only). ` +
          `At ${settingsUrl} create a GitHub Actions policy with ${values}; it applies to every package of the policy owner you choose. ` +
          `The workflow logs in with NuGet/login and the nuget.org profile name (not an API key).`,
      };
    }
  }
}

/** The entry the environment is made from; throws unless every entry can share its environment. */
export function sharedEntry(name: string, entries: readonly TrustedPublishingConfig[]): TrustedPublishingConfig {
  const [first, ...rest] = entries;
  if (!first) throw new Error(`${name}: no trusted-publishing entries`);
  for (const entry of rest) {
    const key = sharedEnvironmentConflict(entry, first);
    if (key) throw new Error(`${name}: ${entry.registry} package ${entry.package} differs from ${first.registry} package ${first.package} in ${key}, so they cannot share environment ${first.environment}`);
  }
  return first;
}

/**
 * The registry side of OIDC trusted publishing for the packages one job publishes: per package the
 * exact values to enter on the registry, which Pulumi cannot manage. The job's environment, with
 * its deployment policies and reviewers, is one of the repository's environments
 * (RepositoryGovernance), so moving an environment between the config's lists keeps it.
 */
export class TrustedPublishing extends pulumi.ComponentResource {
  /** What to enter on the registry, one per entry in order; resolves once the environment and its policies exist. */
  public readonly publishers: pulumi.Output<TrustedPublisher[]>;

  constructor(name: string, args: TrustedPublishingArgs, opts?: pulumi.ComponentResourceOptions) {
    const shared = sharedEntry(name, args.entries);
    // What the policy pack reads (github-deploy-refs-protected): whether the registry holds each publish for a maintainer's approval.
    super(
      "release-infra:github:TrustedPublishing",
      name,
      { repository: args.repository.name, environment: shared.environment, registry: shared.registry, stagedPublishing: shared.stagedPublishing },
      opts,
    );
    const { entries, owner } = args;
    const repository = args.repository.name;

    // Degraded, not broken: config errors already cover what cannot work at all.
    if (shared.registry === "npm" && args.repository.visibility !== "public") {
      pulumi.log.warn(`${name}: npm generates no provenance for packages published from a ${args.repository.visibility} repository (${owner}/${repository})`, this);
    }
    if (shared.registry === "nuget" && args.repository.visibility !== "public") {
      pulumi.log.warn(
        `${name}: a NuGet policy for the ${args.repository.visibility} repository ${owner}/${repository} stays active only 7 days until the first publish through it records the repository's ids`,
        this,
      );
    }

    this.publishers = pulumi.all([args.environment, pulumi.all(args.trustAfter ?? [])]).apply(([env]) =>
      entries.map((entry) => ({
        registry: entry.registry,
        package: entry.package,
        owner,
        repository,
        workflow: entry.workflow,
        environment: env,
        ...registrySide(owner, repository, entry),
      })),
    );
    // The policy pack's stack analysis reads a component's outputs, not its inputs (found by the
    // engine runs, docs/engine.md): the facts github-deploy-refs-protected reads are outputs too.
    this.registerOutputs({ publishers: this.publishers, repository, environment: shared.environment, registry: shared.registry, stagedPublishing: shared.stagedPublishing });
  }
}
