/**
 * The stacks of one folder as the pipelines see them: every `Pulumi.<stack>.yaml` is a deploy
 * stack, except the one with `release-infra:pipeline` (the pipeline stack). One list for the
 * workflows (scripts/stacks.ts) and for the pipeline stack's program (index.ts): adding a stack
 * file adds its environments, identities, matrix entries and drift checks, with no other edit.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./errors";
import { isOfflinePlan, parseStackConfig, type PipelineSection, type Stage, type StackConfig } from "./load";
import { crossStackProblems } from "./ownership";
import { protectionRulesAvailable, STAGES, trustedSubjectForms } from "./schema";
import { environmentSubject } from "../components/githubOidc";
import { environmentOf, previewEnvironmentOf } from "../components/pipelineGrants";
import { readStackFile, stackFiles } from "./stackFile";
import type { StageConfig } from "../policy/policies";

export const PIPELINE_KEY = "release-infra:pipeline";

/** Drift checks when the pipeline stack sets none: prod hourly, other stages daily at 05:00 UTC. */
export const DEFAULT_DRIFT: Record<Stage, string> = { dev: "0 5 * * *", staging: "0 5 * * *", prod: "0 * * * *" };

export interface DeployStack {
  stack: string;
  /** File name, e.g. `Pulumi.prod.yaml`. */
  file: string;
  config: StackConfig;
  /** Position in the deploy order: by stage (dev, staging, prod), then registry creators before their users. */
  order: number;
  /** Five-field cron (UTC) of the drift check. */
  drift: string;
}

export interface StackSet {
  /** The pipeline stack's file, when the folder has one. */
  pipeline?: { stack: string; file: string; config: StackConfig };
  /** Deploy stacks in deploy order. */
  stacks: DeployStack[];
}

/** Stacks `a` must follow: those creating a registry `a` references (existing or importFrom). */
function dependencies(a: StackConfig, all: readonly { stack: string; config: StackConfig }[]): string[] {
  const registry = a.azure?.registry;
  const referenced = new Set([...(registry?.existing ? [registry.name] : []), ...(registry?.importFrom ?? []).map((s) => s.name)]);
  return all.filter((b) => b.config.stack !== a.stack && b.config.azure?.registry && !b.config.azure.registry.existing && referenced.has(b.config.azure.registry.name)).map((b) => b.stack);
}

/** Deploy order: stage by stage; within a stage, a stack after the stacks whose registries it uses, else by name. */
function deployOrder(stacks: { stack: string; config: StackConfig }[]): string[] {
  const order: string[] = [];
  for (const stage of STAGES) {
    const inStage = stacks.filter((s) => s.config.stage === stage).sort((a, b) => (a.stack < b.stack ? -1 : 1));
    const pending = new Map(inStage.map((s) => [s.stack, new Set(dependencies(s.config, inStage))]));
    while (pending.size > 0) {
      // A cycle cannot deploy in any order; take the first by name and let its preview report the missing registry.
      const ready = [...pending.entries()].find(([, deps]) => [...deps].every((d) => !pending.has(d)))?.[0] ?? [...pending.keys()][0];
      order.push(ready);
      pending.delete(ready);
    }
  }
  return order;
}

/**
 * The policy pack's config for a stack: its stage, and whether it is the pipeline stack (which may
 * grant at resource-group scope). The CLI gets it from `npm run -s stacks -- --policy-config`, the
 * offline plan from here, and a saved plan carries it.
 */
export function policyConfigOf(config: Pick<StackConfig, "stage" | "pipeline">): Required<StageConfig> {
  return { stage: config.stage, pipelineStack: config.pipeline !== undefined };
}

/** What the pipeline section must provide for these deploy stacks, and where they would cross its trust boundary. */
function pipelineProblems(pipelineFile: { stack: string; file: string }, p: NonNullable<StackConfig["pipeline"]>, deploy: readonly { stack: string; file: string; config: StackConfig }[]): string[] {
  const problems: string[] = [];
  const file = pipelineFile.file;
  const at = (key: string, message: string) => problems.push(`${file}: ${PIPELINE_KEY}.${key}: ${message}`);
  if (deploy.length > 0 && !protectionRulesAvailable(p.repository)) {
    at(
      "repository",
      `every deploy stack (${deploy.map((d) => d.file).join(", ")}) has a pulumi-<stack>-preview environment that must require a reviewer (it runs a pull request's code with read rights), which a ${p.repository.visibility} repository of GitHub's ${p.repository.plan} plan cannot (required reviewers need a public repository or GitHub Enterprise); make the repository public or move to Enterprise`,
    );
  } else {
    const count = (r: PipelineSection["reviewers"] | undefined) => (r ? r.teams.length + r.users.length : 0);
    const guarded = deploy.filter((d) => d.config.stage === "prod" || d.config.github).map((d) => d.file);
    if (guarded.length > 0 && count(p.reviewers) === 0) {
      at("reviewers", `must name at least one team or user: ${guarded.join(", ")} deploy(s) only after one of them approves (prod, or the stack manages GitHub objects)`);
    }
    if (deploy.length > 0 && count(p.previewReviewers ?? p.reviewers) === 0) {
      at(p.previewReviewers ? "previewReviewers" : "reviewers", "must name at least one team or user: a pull request's preview runs its code with a stack's read rights only after one of them approves");
    }
  }
  const gcp = deploy.filter((d) => d.config.cdn).map((d) => d.file);
  if (gcp.length > 0 && !p.gcp) at("gcp", `is required: ${gcp.join(", ")} set(s) release-infra:cdn, whose pipeline identities are GCP service accounts in this project`);
  // GitHub compares environment names case-insensitively: no two stacks' environments may share one.
  const owners = new Map<string, { file: string; stack: string }>();
  const environmentsOf = (stack: string) => [environmentOf(stack, "write"), environmentOf(stack, "read"), previewEnvironmentOf(stack)];
  for (const [stack, where, environments] of [
    [pipelineFile.stack, file, [environmentOf(pipelineFile.stack, "read")]] as const,
    ...deploy.map((d) => [d.stack, d.file, environmentsOf(d.stack)] as const),
  ]) {
    for (const environment of environments) {
      const other = owners.get(environment.toLowerCase());
      if (other) problems.push(`${where}: the stack name gives it the environment ${environment}, which is also an environment of stack ${other.stack} (${other.file}); rename the stack`);
      else owners.set(environment.toLowerCase(), { file: where, stack });
    }
  }

  // The writer App may not be installed on this repository: its environments and rulesets are the pipeline stack's.
  for (const d of deploy) {
    (d.config.github?.repositories ?? []).forEach((r, i) => {
      const owner = d.config.github?.owner ?? p.owner;
      if (owner.toLowerCase() === p.owner.toLowerCase() && r.name.toLowerCase() === p.repository.name.toLowerCase()) {
        problems.push(
          `${d.file}: release-infra:github.repositories[${i}].name: ${r.name} is this repository (${file}: ${PIPELINE_KEY}.repository.name), whose pulumi-* environments and rulesets the pipeline stack manages; a deploy stack governing it would install the writer App here, and its key could remove prod's reviewers. Manage this repository in the pipeline section (rulesets) only`,
        );
      }
    });
  }

  // The pipeline's identities live in its own project: a CDN writer's Service Account Admin (which no IAM condition can narrow) must not reach them.
  for (const d of deploy) {
    if (p.gcp && d.config.cdn && d.config.cdn.project === p.gcp.project) {
      problems.push(`${d.file}: gcp:project: ${d.config.cdn.project} is also ${file}: ${PIPELINE_KEY}.gcp.project; the pipeline's service accounts need a project of their own, where no CDN stack's writer administers service accounts`);
    }
  }

  // A deploy stack's writer gets Contributor on its group: never on a group holding a cluster, the state, the keys or the pipeline identities.
  const protectedGroups: { group: string; key: string }[] = [
    { group: p.azure.resourceGroup, key: `${file}: ${PIPELINE_KEY}.azure.resourceGroup` },
    { group: p.backend.resourceGroup, key: `${file}: ${PIPELINE_KEY}.backend.resourceGroup` },
    { group: p.secretsProvider.resourceGroup, key: `${file}: ${PIPELINE_KEY}.secretsProvider.resourceGroup` },
    ...deploy.flatMap((d) => (d.config.azure?.clusters ?? []).map((c, i) => ({ group: c.resourceGroup, key: `${d.file}: release-infra:azure.clusters[${i}].resourceGroup` }))),
  ];
  for (const d of deploy) {
    const group = d.config.azure?.resourceGroup;
    if (!group) continue;
    for (const other of protectedGroups.filter((g) => g.group.toLowerCase() === group.toLowerCase())) {
      problems.push(`${d.file}: release-infra:azure.resourceGroup: ${group} is also ${other.key}; the stack's writer gets Contributor on its group, which there would reach that group's secrets (cluster admin credentials, storage keys); give the stack a group of its own`);
    }
  }

  // Google's workload identity federation takes at most 127 bytes of google.subject.
  const gcpEnvironments = [
    ...deploy.filter((d) => d.config.cdn).flatMap((d) => [environmentOf(d.stack, "write"), environmentOf(d.stack, "read"), previewEnvironmentOf(d.stack)].map((environment) => ({ file: d.file, environment }))),
    ...(p.gcp && gcp.length > 0 ? [{ file, environment: environmentOf(pipelineFile.stack, "read") }] : []),
  ];
  for (const { file: where, environment } of gcpEnvironments) {
    for (const form of trustedSubjectForms(p.repository, p.ownerId)) {
      const subject = environmentSubject(form, { owner: p.owner, repository: p.repository.name, environment, ownerId: p.ownerId, repositoryId: p.repository.id });
      if (Buffer.byteLength(subject) > 127) {
        problems.push(
          `${where}: the stack name makes the ${form} OIDC subject "${subject}" of its pipeline environment ${Buffer.byteLength(subject)} bytes, longer than the 127 bytes Google's workload identity federation accepts as google.subject; use a shorter stack name`,
        );
      }
    }
  }
  return problems;
}

/**
 * Reads every stack file of `dir` without decrypting anything (secure values stay ciphertext, as
 * in the offline plan), validates each and the set. Throws ConfigError listing every problem.
 */
export function readStackSet(dir: string): StackSet {
  const problems: string[] = [];
  const deploy: { stack: string; file: string; config: StackConfig }[] = [];
  const pipelines: { stack: string; file: string; config: StackConfig }[] = [];
  for (const [stack, file] of stackFiles(dir)) {
    const display = path.basename(file);
    try {
      const values = readStackFile(file, display);
      const { config } = parseStackConfig(values, { file: display, stack, source: "offline-plan" });
      (PIPELINE_KEY in values ? pipelines : deploy).push({ stack, file: display, config });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (pipelines.length > 1) problems.push(`${pipelines.map((p) => p.file).join(" and ")}: both set ${PIPELINE_KEY}; one folder has one pipeline stack`);
  const pipeline = pipelines[0];
  const settings: PipelineSection["stacks"] = pipeline?.config.pipeline?.stacks ?? {};
  for (const [name, setting] of Object.entries(settings)) {
    const deployStack = deploy.find((d) => d.stack === name);
    if (!deployStack) {
      const known = deploy.map((d) => d.stack).join(", ") || "none";
      problems.push(`${pipeline?.file}: ${PIPELINE_KEY}.stacks.${name}: there is no deploy stack file Pulumi.${name}.yaml beside it (deploy stacks: ${known})`);
    } else if (setting.adoptResourceGroup && !deployStack.config.azure) {
      problems.push(`${pipeline?.file}: ${PIPELINE_KEY}.stacks.${name}.adoptResourceGroup: ${deployStack.file} has no release-infra:azure section, so this stack creates no resource group for it`);
    }
  }
  if (problems.length === 0) problems.push(...crossStackProblems([...deploy, ...pipelines]));
  if (pipeline?.config.pipeline) problems.push(...pipelineProblems(pipeline, pipeline.config.pipeline, deploy));
  if (problems.length > 0) throw new ConfigError(problems);

  const order = deployOrder(deploy);
  const stacks = deploy
    .map((d) => ({ ...d, order: order.indexOf(d.stack), drift: settings[d.stack]?.drift ?? DEFAULT_DRIFT[d.config.stage] }))
    .sort((a, b) => a.order - b.order);
  return { pipeline, stacks };
}

/** The folder of the running stack's file: the project folder for the CLI, the stack file's folder for the offline plan. */
function stackFolder(): string {
  return isOfflinePlan() && process.env.RELEASE_INFRA_CONFIG_DIR ? process.env.RELEASE_INFRA_CONFIG_DIR : process.cwd();
}

/**
 * Whether a pipeline stack file (one with release-infra:pipeline) is beside the running stack's:
 * then the pipeline stack defines what a deploy identity must not (its namespace deployer roles).
 * Only that key is read, and a file that cannot be read is not one: the pipeline stack's own
 * preview validates the set, and other stacks' files are not this stack's concern.
 */
export function pipelineStackBeside(): boolean {
  return [...stackFiles(stackFolder())].some(([, file]) => {
    try {
      return PIPELINE_KEY in readStackFile(file, path.basename(file));
    } catch (err) {
      if (err instanceof ConfigError) return false;
      throw err;
    }
  });
}

/**
 * The stack set of the running pipeline stack: the stack files beside its own (the project
 * folder for the CLI, the stack file's folder for the offline plan). An invalid set stops the
 * program with one line per problem, like an invalid stack config.
 */
export function loadStackSet(): StackSet {
  const dir = stackFolder();
  try {
    return readStackSet(dir);
  } catch (err) {
    if (err instanceof ConfigError) throw new pulumi.RunError(`invalid stack files beside the pipeline stack:\n${err.problems.join("\n")}`);
    throw err;
  }
}
