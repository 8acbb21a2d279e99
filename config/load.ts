import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { closest, ConfigError, formatIssues, namedKeyPath } from "./errors";
import { STAGES, stackConfigSchema, trustedSubjectForms } from "./schema";
import { isActionsName } from "./sections/common";
import type { AzureCloud } from "../components/arm";

type Parsed = z.output<typeof stackConfigSchema>;

export type Stage = NonNullable<Parsed["release-infra:stage"]>;
export type AzureConfig = NonNullable<Parsed["release-infra:azure"]>;
export type RegistryConfig = NonNullable<AzureConfig["registry"]>;
export type ClusterConfig = AzureConfig["clusters"][number];
export type NamespaceConfig = ClusterConfig["namespaces"][number];
export type CdnConfig = NonNullable<Parsed["release-infra:cdn"]>;
export type GithubConfig = NonNullable<Parsed["release-infra:github"]>;
export type RepositoryConfig = GithubConfig["repositories"][number];
export type EnvironmentConfig = RepositoryConfig["environments"][number];
export type AccessConfig = NonNullable<EnvironmentConfig["access"]>;
export type RulesetConfig = RepositoryConfig["rulesets"][number];
export type TrustedPublishingConfig = RepositoryConfig["trustedPublishing"][number];
export type PipelineSection = NonNullable<Parsed["release-infra:pipeline"]>;

/** The validated stack config, in the shape the program uses. */
export interface StackConfig {
  /** Pulumi stack name. */
  stack: string;
  stage: Stage;
  tags: Record<string, string>;
  /** release-infra:azure with `azure-native:location`. */
  azure?: AzureConfig & { location: string };
  /** release-infra:cdn with `gcp:project`. */
  cdn?: CdnConfig & { project: string };
  /** release-infra:github with `github:owner`. */
  github?: GithubConfig & { owner: string };
  /** release-infra:pipeline with `github:owner` and `azure-native:location` (the pipeline stack only). */
  pipeline?: PipelineSection & { owner: string; location: string };
  /** Secret values by name, always Pulumi secrets. */
  secrets: Record<string, pulumi.Output<string>>;
  /** The Azure cloud of azure-native:environment and azure-native:metadataHost (or ARM_METADATA_HOSTNAME, as the provider reads it). */
  azureCloud: AzureCloud;
}

/** Where config values come from: the Pulumi engine (decrypted) or a stack file read by the offline plan. */
export type ConfigSource = "engine" | "offline-plan";

export interface ParseOptions {
  /** File name used in messages, e.g. `Pulumi.prod.yaml`. */
  file: string;
  stack: string;
  source: ConfigSource;
}

const NAMESPACE = "release-infra:";
const KNOWN_KEYS = Object.keys(stackConfigSchema.shape);

function unknownTopLevelKey(key: string): string {
  const known = KNOWN_KEYS.filter((k) => k.startsWith(NAMESPACE));
  const suggestion = closest(key.slice(NAMESPACE.length), known.map((k) => k.slice(NAMESPACE.length)));
  return suggestion ? `unknown key; did you mean "${NAMESPACE}${suggestion}"?` : `unknown key; allowed keys are ${known.join(", ")}`;
}

/** A value the offline plan cannot decrypt. */
function isSecure(value: unknown): value is { secure: string } {
  return typeof value === "object" && value !== null && "secure" in value;
}

/** Every place a secret name is used, as `[key path, name]`; paths by the names in `input`. */
function secretReferences(config: Parsed, input: unknown): [string, string][] {
  const refs: [string, string][] = [];
  config["release-infra:github"]?.repositories.forEach((repo, r) => {
    const base = ["release-infra:github", "repositories", r];
    repo.secrets.forEach((name, i) => refs.push([namedKeyPath([...base, "secrets", i], input), name]));
    repo.environments.forEach((env, e) =>
      env.secrets.forEach((name, i) => refs.push([namedKeyPath([...base, "environments", e, "secrets", i], input), name])),
    );
  });
  return refs;
}

/**
 * Validates stack config values (keys as in the file, objects already parsed) and returns the
 * program's view of them plus warnings. Throws ConfigError listing every problem.
 */
export function parseStackConfig(values: Record<string, unknown>, options: ParseOptions): { config: StackConfig; warnings: string[] } {
  const { file, stack, source } = options;
  const problems: string[] = [];
  const warnings: string[] = [];

  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    if (KNOWN_KEYS.includes(key)) input[key] = value;
    else if (key.startsWith(NAMESPACE)) problems.push(`${file}: ${key}: ${unknownTopLevelKey(key)}`);
  }
  const defaultStage = STAGES.find((s) => s === stack);
  if (input["release-infra:stage"] === undefined && defaultStage === undefined) {
    problems.push(`${file}: release-infra:stage: is required because the stack name "${stack}" is not dev, staging or prod; set one of them`);
  }

  const result = stackConfigSchema.safeParse(input);
  if (!result.success) problems.push(...formatIssues(file, result.error.issues, input));

  const secrets: Record<string, pulumi.Output<string>> = {};
  const rawSecrets = input["release-infra:secrets"];
  if (rawSecrets !== null && typeof rawSecrets === "object") {
    for (const [name, value] of Object.entries(rawSecrets)) {
      // A key that is no secret name (it may be a pasted secret) is reported by the schema without repeating it.
      if (!isActionsName(name)) continue;
      if (isSecure(value)) {
        // Only the offline plan sees ciphertext; the engine hands the program decrypted values.
        secrets[name] = pulumi.secret("[secret]");
      } else if (typeof value === "string" && source === "offline-plan" && input["release-infra:pipeline"] === undefined) {
        // In the pipeline stack any release-infra:secrets is refused (config/schema.ts), so no advice to set it.
        problems.push(`${file}: release-infra:secrets.${name}: is stored in plain text in the stack file; remove it and run: pulumi config set --secret --path 'release-infra:secrets.${name}' --stack ${stack}`);
      } else if (typeof value === "string") {
        secrets[name] = pulumi.secret(value);
      }
    }
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  const parsed = result.data;

  for (const [path, name] of secretReferences(parsed, input)) {
    if (secrets[name]) continue;
    const message = `release-infra:secrets.${name}: is not set but ${path} uses it; run: pulumi config set --secret --path 'release-infra:secrets.${name}' --stack ${stack}`;
    if (source === "offline-plan") {
      warnings.push(`${file}: ${message}`);
      secrets[name] = pulumi.secret("[secret]");
    } else {
      problems.push(`${file}: ${message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const githubCfg = parsed["release-infra:github"];
  const withIdentities = (githubCfg?.repositories ?? []).filter((repo) => repo.environments.some((env) => env.access));
  const subjectCheck = "gh api repos/OWNER/REPO/actions/oidc/customization/sub --jq .use_immutable_subject";
  const undecided = withIdentities.filter((repo) => repo.oidcSubjects === undefined && trustedSubjectForms(repo, githubCfg?.ownerId).length === 1).map((repo) => repo.name);
  if (undecided.length > 0) {
    warnings.push(
      `${file}: release-infra:github: the CI identities of ${undecided.join(", ")} trust only the name-only subject repo:OWNER/REPO:environment:ENV; ` +
        `a repository created, renamed or transferred since 15 July 2026 sends the immutable form repo:OWNER@OWNER_ID/REPO@REPO_ID:... instead (${subjectCheck} prints true), ` +
        `so set oidcSubjects: name-only if it prints false, else the repository's id, release-infra:github.ownerId (gh api repos/OWNER/REPO --jq '.owner.id, .id') and oidcSubjects: immutable`,
    );
  }
  const both = withIdentities.filter((repo) => trustedSubjectForms(repo, githubCfg?.ownerId).length === 2).map((repo) => repo.name);
  if (both.length > 0) {
    warnings.push(
      `${file}: release-infra:github: the CI identities of ${both.join(", ")} trust both the name-only and the immutable OIDC subject; ` +
        `whoever registers a deleted owner or repository name again can reproduce the name-only one, so trust both only while switching over: ` +
        `set oidcSubjects: immutable once ${subjectCheck} prints true, or name-only while it prints false`,
    );
  }

  // The schema requires the provider key whenever its section is set.
  const azure = parsed["release-infra:azure"];
  const cdn = parsed["release-infra:cdn"];
  const github = parsed["release-infra:github"];
  const pipeline = parsed["release-infra:pipeline"];
  return {
    config: {
      stack,
      // Checked above: a stack not named like a stage sets one.
      stage: parsed["release-infra:stage"] ?? defaultStage ?? "prod",
      tags: parsed["release-infra:tags"],
      azure: azure && { ...azure, location: parsed["azure-native:location"] ?? "" },
      cdn: cdn && { ...cdn, project: parsed["gcp:project"] ?? "" },
      github: github && { ...github, owner: parsed["github:owner"] ?? "" },
      pipeline: pipeline && { ...pipeline, owner: parsed["github:owner"] ?? "", location: parsed["azure-native:location"] ?? "" },
      secrets,
      azureCloud: {
        environment: parsed["azure-native:environment"],
        metadataHost: parsed["azure-native:metadataHost"] ?? (process.env.ARM_METADATA_HOSTNAME || undefined),
      },
    },
    warnings,
  };
}

/** Config values as the engine passes them: strings, with objects and lists as JSON. */
function decode(value: string): unknown {
  if (/^\s*[[{]/.test(value)) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

/** True while the offline plan (scripts/plan.ts) runs the program: never during a real update. */
export function isOfflinePlan(): boolean {
  return process.env.RELEASE_INFRA_OFFLINE_PLAN === "1" && pulumi.runtime.isDryRun();
}

/**
 * Reads and validates the running stack's config. An invalid config stops the program with one
 * line per problem and no stack trace (pulumi.RunError), before any resource is registered.
 */
export function loadStackConfig(): StackConfig {
  const stack = pulumi.getStack();
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) values[key] = decode(value);
  const source: ConfigSource = isOfflinePlan() ? "offline-plan" : "engine";
  const file = process.env.RELEASE_INFRA_CONFIG_FILE && source === "offline-plan" ? process.env.RELEASE_INFRA_CONFIG_FILE : `Pulumi.${stack}.yaml`;
  try {
    const { config, warnings } = parseStackConfig(values, { file, stack, source });
    for (const warning of warnings) pulumi.log.warn(warning);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) throw new pulumi.RunError(`invalid stack config:\n${err.problems.join("\n")}`);
    throw err;
  }
}
