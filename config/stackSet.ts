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
import { protectionRulesAvailable, STAGES } from "./schema";
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

/** What the pipeline section must provide for these deploy stacks. */
function pipelineProblems(file: string, p: PipelineSection, deploy: readonly { stack: string; file: string; config: StackConfig }[]): string[] {
  const problems: string[] = [];
  const at = (key: string, message: string) => problems.push(`${file}: ${PIPELINE_KEY}.${key}: ${message}`);
  const prod = deploy.filter((d) => d.config.stage === "prod").map((d) => d.file);
  if (prod.length > 0 && !protectionRulesAvailable(p.repository)) {
    at(
      "repository",
      `${prod.join(", ")} deploy(s) through an environment that must require a reviewer, which a ${p.repository.visibility} repository of GitHub's ${p.repository.plan} plan cannot (required reviewers need a public repository or GitHub Enterprise); make the repository public or move to Enterprise`,
    );
  } else if (prod.length > 0 && p.reviewers.teams.length + p.reviewers.users.length === 0) {
    at("reviewers", `must name at least one team or user: ${prod.join(", ")} deploy(s) only after one of them approves`);
  }
  const gcp = deploy.filter((d) => d.config.cdn).map((d) => d.file);
  if (gcp.length > 0 && !p.gcp) at("gcp", `is required: ${gcp.join(", ")} set(s) release-infra:cdn, whose pipeline identities are GCP service accounts in this project`);
  const names = new Set(deploy.map((d) => d.stack.toLowerCase()));
  for (const d of deploy) {
    if (d.stack.toLowerCase().endsWith("-read") && names.has(d.stack.toLowerCase().slice(0, -"-read".length))) {
      problems.push(`${d.file}: the stack name gives its deploy environment the name pulumi-${d.stack}, which is the read environment of stack ${d.stack.slice(0, -"-read".length)}; rename the stack`);
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
  if (pipeline?.config.pipeline) problems.push(...pipelineProblems(pipeline.file, pipeline.config.pipeline, deploy));
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
