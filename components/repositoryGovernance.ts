import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";
import type { EnvironmentConfig, RepositoryConfig, RulesetConfig, Stage, TrustedPublishingConfig } from "../config/load";
import { GITHUB_ACTIONS_APP_ID, type WIRED_VARIABLES } from "../config/schema";
import type { Adoption } from "./adoption";
import { ENVIRONMENT_TYPES, GithubEnvironment } from "./githubEnvironment";
import type { GithubLookups } from "./githubLookups";
import { githubTakeOver, type EnvironmentToCheck, type VariableToCheck } from "./githubTakeOver";
import { checksTakeOver } from "./takeOver";
import { aliasesFrom, childOf, sameLocation, type Location } from "./locations";
import { sharedEntry, TrustedPublishing, type TrustedPublisher } from "./trustedPublishing";

/** A variable release-infra wires into an environment from the cloud components (docs/configuration.md, wired variables). */
export type WiredVariable = (typeof WIRED_VARIABLES)[number];

/** GitHub's role id of the built-in repository admin role, as ruleset bypass actors name it. */
export const REPOSITORY_ADMIN_ROLE_ID = 5;

/** GitHub stores secrets and variables of at most 48 KB (https://docs.github.com/actions/reference/secrets-reference). */
const MAX_SECRET_BYTES = 48 * 1024;

const TYPES = {
  governance: "release-infra:github:RepositoryGovernance",
  publishing: "release-infra:github:TrustedPublishing",
  environmentSecret: "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
  environmentVariable: "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
  secret: "github:index/actionsSecret:ActionsSecret",
  variable: "github:index/actionsVariable:ActionsVariable",
  ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
  actionsDefaults: "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions",
} as const;

export interface RepositoryGovernanceArgs {
  /** The organisation or user that owns the repository (github:owner; the provider's owner). */
  owner: string;
  /** The repository's config: environments, trusted publishing, secrets, variables, rulesets, Actions defaults. */
  repository: RepositoryConfig;
  /** prod environments cannot be bypassed by admins. */
  stage: Stage;
  /** Secret values by name (release-infra:secrets); every secret the repository names must be here. */
  secrets: Record<string, pulumi.Output<string>>;
  /** Per environment name: the variables wired from the cloud components (client ids, registry, namespace, CDN). */
  wiredVariables: Record<string, Partial<Record<WiredVariable, pulumi.Input<string>>>>;
  /** The stack's shared GitHub lookups (team and user ids, team access, the repository's canonical name). */
  lookups: GithubLookups;
  /**
   * The stack's `managed` output of its last update. With it, a preview reports in
   * `takeOverProblems` each environment, variable and ruleset the config declares that exists
   * already and is not the stack's own; without it nothing is checked.
   */
  managedBefore?: pulumi.Input<string[]>;
}

/**
 * The name of a repository's governance, from its identity: GitHub compares repository names
 * case-insensitively, so a change of case in the config keeps every URN. The owner is left out:
 * it is the stack's one provider owner, and an organisation rename must not rename (and so
 * replace) every resource.
 */
export function governanceName(repository: string): string {
  return `repo-${repository.toLowerCase()}`;
}

/** The ref-name condition GitHub expects: full ref names, or `~DEFAULT_BRANCH` / `~ALL` as they are. */
export function rulesetRef(target: "branch" | "tag", pattern: string): string {
  if (pattern.startsWith("~") || pattern.startsWith("refs/")) return pattern;
  return `${target === "branch" ? "refs/heads" : "refs/tags"}/${pattern}`;
}

/** An environment of the repository, from either list of the config. */
interface EnvironmentSpec {
  name: string;
  reviewers?: EnvironmentConfig["reviewers"];
  preventSelfReview: boolean;
  waitMinutes?: number;
  deployFrom: EnvironmentConfig["deployFrom"];
  /** Where it was registered before names came from identity (release-infra's earlier index.ts and components). */
  legacy: Location;
  /** Names of its secrets. */
  secrets: string[];
  /** The config key that lists its secrets; none for a trusted-publishing environment, which needs none. */
  secretsKey?: string;
  /** It exists already and is imported, not created. */
  adopt: boolean;
  /** The config key that declares it, e.g. `release-infra:github.repositories[shop].environments[production]`. */
  configKey: string;
  /** The config key that adopts it. */
  adoptKey: string;
}

/**
 * Who may do what on one repository: all its environments (those of `environments` and the
 * dedicated ones of `trustedPublishing`, with reviewers and deployment policies), their secrets
 * and variables (configured and wired), repository secrets and variables, branch and tag
 * rulesets, the Actions defaults (read-only workflow token, workflows cannot approve PRs), and the
 * registry side of trusted publishing.
 *
 * Every child is named from the object's identity, lower-cased where GitHub compares names
 * case-insensitively (environments, secrets, variables, rulesets), never from the config list it
 * is in: renaming `Production` to `production` or moving an environment between `environments`
 * and `trustedPublishing` keeps every URN. Aliases carry over the state of the names release-infra
 * used before (the component must be created at the top level, as index.ts does).
 */
export class RepositoryGovernance extends pulumi.ComponentResource {
  /** `owner/name` of the governed repository. */
  public readonly repository: string;
  /** Names of the managed environments; resolves once each exists with its deployment policies. */
  public readonly environments: pulumi.Output<string[]>;
  /** Names of the managed rulesets; resolves once all exist. */
  public readonly rulesets: pulumi.Output<string[]>;
  /** What to enter on each package registry, one per trusted-publishing entry. */
  public readonly trustedPublishers: pulumi.Output<TrustedPublisher[]>;
  /** What the config adopts instead of creating: environments, variables, rulesets. */
  public readonly adoptions: Adoption[] = [];
  /** In a preview: environments, variables and rulesets that exist and are not this stack's (components/takeOver.ts). */
  public readonly takeOverProblems: pulumi.Output<string[]>;

  constructor(name: string, args: RepositoryGovernanceArgs, opts?: pulumi.ComponentResourceOptions) {
    // Before anything is registered, so a wiring mistake leaves no half-built component behind.
    const publishing = publishingGroups(args.repository);
    checkArgs(name, args, publishing);
    const repo = args.repository;
    const repository = repo.name;
    const here: Location = { type: TYPES.governance, name };
    const legacy: Location = { type: TYPES.governance, name: `repo-${repository}` };
    super(TYPES.governance, name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), ...aliasesFrom([legacy], here)] });
    const child = (type: string, suffix: string, ...previous: Location[]) => ({
      parent: this,
      aliases: aliasesFrom(previous, childOf(here, type, `${name}${suffix}`)),
    });
    const legacyChild = (type: string, suffix: string) => childOf(legacy, type, `${legacy.name}${suffix}`);

    // Secret values above GitHub's limit are rejected by the API after the preview; say which one, not its value.
    const secretValue = (secretName: string) =>
      pulumi.secret(args.secrets[secretName]).apply((value) => {
        const bytes = Buffer.byteLength(value);
        if (bytes > MAX_SECRET_BYTES) throw new Error(`secret ${secretName} of ${args.owner}/${repository} is ${bytes} bytes; GitHub accepts secrets of at most 48 KB (${MAX_SECRET_BYTES} bytes)`);
        return value;
      });

    const specs: EnvironmentSpec[] = [
      ...repo.environments.map((env) => ({
        ...env,
        legacy: legacyChild(ENVIRONMENT_TYPES.component, `-env-${env.name}`),
        configKey: `release-infra:github.repositories[${repository}].environments[${env.name}]`,
        secretsKey: `release-infra:github.repositories[${repository}].environments[${env.name}].secrets`,
        adoptKey: `release-infra:github.repositories[${repository}].environments[${env.name}].adopt`,
      })),
      ...publishing.map((entries) => {
        const shared = entries[0];
        // Before, index.ts created a TrustedPublishing component per environment, which owned it.
        const legacyPublishing: Location = { type: TYPES.publishing, name: `publishing-${repository}-${shared.environment}` };
        return {
          name: shared.environment,
          reviewers: shared.reviewers,
          preventSelfReview: true,
          waitMinutes: shared.waitMinutes,
          deployFrom: shared.deployFrom,
          legacy: childOf(legacyPublishing, ENVIRONMENT_TYPES.component, `${legacyPublishing.name}-env`),
          secrets: [],
          adopt: shared.adopt,
          configKey: `release-infra:github.repositories[${repository}].trustedPublishing[${shared.package}]`,
          adoptKey: `release-infra:github.repositories[${repository}].trustedPublishing[${shared.package}].adopt`,
        };
      }),
    ];
    const environmentsToCheck: EnvironmentToCheck[] = [];
    const environmentOutputs = new Map<string, pulumi.Output<string>>();
    for (const spec of specs) {
      const key = spec.name.toLowerCase();
      const envName = `${name}-env-${key}`;
      const environment = new GithubEnvironment(
        envName,
        {
          owner: args.owner,
          repository: repo,
          environment: spec.name,
          reviewers: spec.reviewers,
          preventSelfReview: spec.preventSelfReview,
          waitMinutes: spec.waitMinutes,
          deployFrom: spec.deployFrom,
          stage: args.stage,
          lookups: args.lookups,
          previously: [spec.legacy].filter((l) => !sameLocation(l, childOf(here, ENVIRONMENT_TYPES.component, envName))),
          adopt: spec.adopt,
        },
        { parent: this },
      );
      this.adoptions.push(...environment.adoptions);
      environmentsToCheck.push({ ...spec, resource: environment.repositoryEnvironment, policies: environment.deploymentPolicies, component: environment });
      environmentOutputs.set(key, environment.environment);
    }

    // Case-only changes of these names change nothing on GitHub, which compares them case-insensitively.
    const sameOnGithub = (...keys: string[]) => ["repository", ...keys];
    const adoptedEnvironmentVariables = new Map<string, VariableToCheck[]>();
    for (const env of repo.environments) {
      const key = env.name.toLowerCase();
      const prefix = `-env-${key}`;
      const legacyPrefix = `-env-${env.name}`;
      // Using the environment output makes secrets wait until its deployment policies exist.
      const environment = environmentOutputs.get(key) ?? pulumi.output(env.name);
      for (const secretName of env.secrets) {
        new github.ActionsEnvironmentSecret(
          `${name}${prefix}-secret-${secretName.toLowerCase()}`,
          { repository, environment, secretName, value: secretValue(secretName) },
          {
            ...child(TYPES.environmentSecret, `${prefix}-secret-${secretName.toLowerCase()}`, legacyChild(TYPES.environmentSecret, `${legacyPrefix}-secret-${secretName}`)),
            ignoreChanges: sameOnGithub("environment", "secretName"),
          },
        );
      }
      // Configured and wired variables share one name per variable, so a variable that becomes
      // wired (or stops being) is updated in place, never POSTed anew while the old one exists.
      const variables: [string, pulumi.Input<string>][] = [
        ...Object.entries(env.variables),
        ...Object.entries(args.wiredVariables[env.name] ?? {}).filter((entry): entry is [string, pulumi.Input<string>] => entry[1] !== undefined),
      ];
      const adoptedVariables = new Set(env.adoptVariables.map((v) => v.toUpperCase()));
      for (const [variableName, value] of variables) {
        const suffix = `${prefix}-var-${variableName.toLowerCase()}`;
        const resource = new github.ActionsEnvironmentVariable(
          `${name}${suffix}`,
          { repository, environment, variableName, value },
          {
            ...child(
              TYPES.environmentVariable,
              suffix,
              legacyChild(TYPES.environmentVariable, `${legacyPrefix}-var-${variableName}`),
              legacyChild(TYPES.environmentVariable, `${legacyPrefix}-wired-${variableName}`),
            ),
            ignoreChanges: sameOnGithub("environment", "variableName"),
          },
        );
        const adopt = adoptedVariables.has(variableName.toUpperCase());
        if (adopt) this.adoptions.push({ resource, importId: `${repository}:${env.name}:${variableName}` });
        if (env.adopt) adoptedEnvironmentVariables.set(env.name, [...(adoptedEnvironmentVariables.get(env.name) ?? []), { name: variableName, adopt, resource }]);
      }
    }

    for (const secretName of repo.secrets) {
      const suffix = `-secret-${secretName.toLowerCase()}`;
      new github.ActionsSecret(
        `${name}${suffix}`,
        { repository, secretName, value: secretValue(secretName) },
        // The bridge does not replace this one delete-first; create-then-delete would remove the new secret.
        { ...child(TYPES.secret, suffix, legacyChild(TYPES.secret, `-secret-${secretName}`)), deleteBeforeReplace: true, ignoreChanges: sameOnGithub("secretName") },
      );
    }
    const adoptedVariables = new Set(repo.adoptVariables.map((v) => v.toUpperCase()));
    const variablesToCheck: VariableToCheck[] = [];
    for (const [variableName, value] of Object.entries(repo.variables)) {
      const suffix = `-var-${variableName.toLowerCase()}`;
      const resource = new github.ActionsVariable(
        `${name}${suffix}`,
        { repository, variableName, value },
        { ...child(TYPES.variable, suffix, legacyChild(TYPES.variable, `-var-${variableName}`)), ignoreChanges: sameOnGithub("variableName") },
      );
      const adopt = adoptedVariables.has(variableName.toUpperCase());
      if (adopt) this.adoptions.push({ resource, importId: `${repository}:${variableName}` });
      variablesToCheck.push({ name: variableName, adopt, resource });
    }

    const rulesetsByName = new Map<string, github.RepositoryRuleset>();
    const rulesets = repo.rulesets.map((rs) => {
      const suffix = `-ruleset-${rs.name.toLowerCase()}`;
      const ruleset = new github.RepositoryRuleset(
        `${name}${suffix}`,
        { repository, ...rulesetArgs(rs) },
        { ...child(TYPES.ruleset, suffix, legacyChild(TYPES.ruleset, `-ruleset-${rs.name}`)), ignoreChanges: sameOnGithub() },
      );
      if (rs.adopt !== undefined) this.adoptions.push({ resource: ruleset, importId: `${repository}:${rs.adopt}` });
      rulesetsByName.set(rs.name, ruleset);
      return ruleset;
    });

    if (repo.actionsDefaults) {
      new github.WorkflowRepositoryPermissions(
        `${name}-actions-defaults`,
        { repository, defaultWorkflowPermissions: "read", canApprovePullRequestReviews: false },
        { ...child(TYPES.actionsDefaults, "-actions-defaults", legacyChild(TYPES.actionsDefaults, "-actions-defaults")), ignoreChanges: sameOnGithub() },
      );
    }

    // Registries compare owner and repository case-sensitively: the values wait for GitHub's spelling.
    const verified = publishing.length > 0 ? [args.lookups.repository(repository, repo.id)] : [];
    const publishers = publishing.map((entries) => {
      const key = entries[0].environment.toLowerCase();
      const suffix = `-publishing-${key}`;
      return new TrustedPublishing(
        `${name}${suffix}`,
        { owner: args.owner, repository: repo, entries, environment: environmentOutputs.get(key) ?? pulumi.output(entries[0].environment), trustAfter: verified },
        child(TYPES.publishing, suffix, { type: TYPES.publishing, name: `publishing-${repository}-${entries[0].environment}` }),
      );
    });

    // Environments are created with PUT (an existing one is taken over silently), variables and
    // rulesets with POST (409 when one exists): a preview reports each that exists and is not the stack's.
    this.takeOverProblems = checksTakeOver(args.managedBefore)
      ? githubTakeOver({
          owner: args.owner,
          repository: repo,
          environments: environmentsToCheck,
          variables: variablesToCheck,
          adoptedEnvironmentVariables,
          rulesets: rulesetsByName,
          managedBefore: args.managedBefore,
          parent: this,
        })
      : pulumi.output([]);
    this.repository = `${args.owner}/${repository}`;
    this.environments = pulumi.all([...environmentOutputs.values()]);
    this.rulesets = pulumi.all(rulesets.map((r) => r.name));
    this.trustedPublishers = pulumi.all(publishers.map((p) => p.publishers)).apply((lists) => lists.flat());
    this.registerOutputs({
      repository: this.repository,
      environments: this.environments,
      rulesets: this.rulesets,
      trustedPublishers: this.trustedPublishers,
    });
  }
}

/** Trusted-publishing entries grouped by the environment they share (compared case-insensitively), in config order. */
function publishingGroups(repo: RepositoryConfig): TrustedPublishingConfig[][] {
  const groups = new Map<string, TrustedPublishingConfig[]>();
  for (const entry of repo.trustedPublishing) {
    const key = entry.environment.toLowerCase();
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  return [...groups.values()];
}

/** Wiring mistakes of the caller (index.ts); the schema has already checked the config itself. */
function checkArgs(name: string, args: RepositoryGovernanceArgs, publishing: TrustedPublishingConfig[][]): void {
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
      if (Object.keys(env.variables).some((v) => v.toLowerCase() === variableName.toLowerCase())) {
        problems.push(`${variableName} in environment ${envName} is both configured and wired`);
      }
    }
  }
  const names = [...repo.environments.map((e) => e.name), ...publishing.map((entries) => entries[0].environment)].map((n) => n.toLowerCase());
  for (const duplicate of names.filter((n, i) => names.indexOf(n) !== i)) problems.push(`environment ${duplicate} is declared twice`);
  for (const entries of publishing) {
    try {
      sharedEntry(name, entries);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
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
export function rulesetArgs(rs: RulesetConfig): Omit<github.RepositoryRulesetArgs, "repository"> {
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
      // Bound to the app that reports each check: a check without an integration id is also
      // satisfied by a commit status, which anyone with write access (or any App with
      // statuses: write) can POST with that context.
      requiredStatusChecks:
        rs.requiredChecks.length > 0
          ? {
              requiredChecks: rs.requiredChecks.map((check) => ({
                context: check.context,
                integrationId: check.app === "github-actions" ? GITHUB_ACTIONS_APP_ID : check.app === "any" ? undefined : check.app,
              })),
              strictRequiredStatusChecksPolicy: true,
            }
          : undefined,
    },
  };
}
