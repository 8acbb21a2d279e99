/**
 * The stacks of this folder for the workflows: names, stages, deploy order and drift schedules
 * from the committed stack files (config/stackSet.ts), as the JSON the setup jobs turn into
 * `fromJSON` matrices, and each stack's policy-pack config. `npm run -s stacks -- --help`.
 */
import { environmentOf, previewEnvironmentOf } from "../components/pipelineGrants";
import { ConfigError } from "../config/errors";
import { DEFAULT_DRIFT, policyConfigOf, readStackSet, type DeployStack, type StackSet } from "../config/stackSet";
import { STAGES } from "../config/schema";
import { policies, type StageConfig } from "../policy/policies";

/** The minute of the hour the drift workflow's schedule fires at (.github/workflows/drift.yml). */
export const DRIFT_MINUTE = 23;

const HELP = `The stacks of this folder, for the workflows.

Usage:
  npm run -s stacks -- --json                     every deploy stack: name, stage, order, drift schedule, clouds
  npm run -s stacks -- --github-output [--drift-at TIME | --drift-only NAME|all]
                                                  key=value lines for $GITHUB_OUTPUT: stacks, dev, staging, prod, drift
                                                  (drift includes the pipeline stack, checked with pulumi-<pipeline>-read)
  npm run -s stacks -- --policy-config STACK      the policy pack's config for STACK (--policy-pack-config)

Options:
  --dir DIR         the folder of the stack files (default: the current one)
  --drift-at TIME   drift: the stacks whose schedule is due in the hour of TIME (ISO 8601), as the
                    scheduled workflow run that starts at minute ${DRIFT_MINUTE} of it sees it (default: now)
  --drift-only X    drift: only stack X (the pipeline stack too), or every stack with "all" (manual dispatch)

Exit codes: 0 printed; 2 invalid stack files or arguments (one line per problem on stderr).`;

/** One stack as the matrices receive it (`matrix.stack.name`, `matrix.stack.gcp`, ...). */
export interface StackEntry {
  name: string;
  stage: (typeof STAGES)[number];
  order: number;
  drift: string;
  azure: boolean;
  gcp: boolean;
  environment: string;
  readEnvironment: string;
  /** Pull-request previews: the reader's rights behind a reviewer (the read environment is main only). */
  previewEnvironment: string;
}

export function entryOf(s: DeployStack): StackEntry {
  return {
    name: s.stack,
    stage: s.config.stage,
    order: s.order,
    drift: s.drift,
    azure: s.config.azure !== undefined,
    gcp: s.config.cdn !== undefined,
    environment: environmentOf(s.stack, "write"),
    readEnvironment: environmentOf(s.stack, "read"),
    previewEnvironment: previewEnvironmentOf(s.stack),
  };
}

const NAMES: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };

/** Whether `value` is in a cron field (`*`, `5`, `1-5`, `*\/2`, `1,3`, `MON`), within min..max. */
function fieldMatches(field: string, value: number, min: number, max: number): boolean {
  return field.split(",").some((part) => {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    const bound = (text: string) => NAMES[text.toLowerCase()] ?? Number(text);
    const [from, to] = range === "*" ? [min, max] : range.includes("-") ? range.split("-").map(bound) : [bound(range), stepText === undefined ? bound(range) : max];
    return value >= from && value <= to && (value - from) % step === 0;
  });
}

/** Whether a five-field cron (UTC) fires in the hour starting at `hour`; the minute field is ignored. */
export function dueInHour(cron: string, hour: Date): boolean {
  const [, hours, dom, month, dow] = cron.trim().split(/\s+/);
  const dayOfWeek = hour.getUTCDay();
  const domMatch = fieldMatches(dom, hour.getUTCDate(), 1, 31);
  const dowMatch = fieldMatches(dow, dayOfWeek, 0, 7) || (dayOfWeek === 0 && fieldMatches(dow, 7, 0, 7));
  // As in cron: with both day fields restricted, either one matching is enough.
  const dayMatch = dom !== "*" && dow !== "*" ? domMatch || dowMatch : domMatch && dowMatch;
  return fieldMatches(hours, hour.getUTCHours(), 0, 23) && fieldMatches(month, hour.getUTCMonth() + 1, 1, 12) && dayMatch;
}

/**
 * The hour a scheduled drift run belongs to: GitHub starts scheduled runs late, often by many
 * minutes, so a run that starts before minute DRIFT_MINUTE of an hour belongs to the hour before.
 */
export function scheduledHour(at: Date): Date {
  const hour = new Date(at.getTime() - DRIFT_MINUTE * 60_000);
  hour.setUTCMinutes(0, 0, 0);
  return hour;
}

/**
 * The pipeline stack as the drift matrix receives it: checked like a deploy stack, with its own
 * read environment, which only the default branch may use (it holds this repository's own
 * protect-main and the pulumi-* environments). It has no deploy environment: an administrator
 * applies it.
 */
export type DriftEntry = Pick<StackEntry, "name" | "stage" | "drift" | "azure" | "gcp" | "readEnvironment">;

export function pipelineEntryOf(p: NonNullable<StackSet["pipeline"]>): DriftEntry {
  return {
    name: p.stack,
    stage: p.config.stage,
    drift: DEFAULT_DRIFT[p.config.stage],
    azure: true,
    gcp: p.config.pipeline?.gcp !== undefined,
    readEnvironment: environmentOf(p.stack, "read"),
  };
}

/** The key=value lines the setup jobs append to $GITHUB_OUTPUT; `pipeline` joins the drift checks only. */
export function githubOutputs(stacks: StackEntry[], drift: { at?: Date; only?: string }, pipeline?: DriftEntry): string[] {
  const checked: DriftEntry[] = [...stacks, ...(pipeline ? [pipeline] : [])];
  const due =
    drift.only === "all"
      ? checked
      : drift.only !== undefined
        ? checked.filter((s) => s.name === drift.only)
        : checked.filter((s) => dueInHour(s.drift, scheduledHour(drift.at ?? new Date())));
  return [
    `stacks=${JSON.stringify(stacks)}`,
    ...STAGES.map((stage) => `${stage}=${JSON.stringify(stacks.filter((s) => s.stage === stage))}`),
    `drift=${JSON.stringify(due)}`,
  ];
}

/** The policy pack's config for a stack: the same `stage` (and pipeline flag) for every policy that declares it. */
export function policyConfig(config: Required<StageConfig>): Record<string, Required<StageConfig>> {
  return Object.fromEntries(policies.filter((p) => p.configSchema?.properties?.stage).map((p) => [p.name, { ...config }]));
}

class UsageError extends Error {}

function main(argv: string[]): number {
  const value = (i: number) => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new UsageError(`${argv[i]} needs a value; --help for usage`);
    return v;
  };
  let dir = process.cwd();
  let mode: "json" | "github-output" | "policy-config" | undefined;
  let stack: string | undefined;
  const drift: { at?: Date; only?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      process.stdout.write(`${HELP}\n`);
      return 0;
    } else if (arg === "--dir") dir = value(i++);
    else if (arg === "--json") mode = "json";
    else if (arg === "--github-output") mode = "github-output";
    else if (arg === "--policy-config") {
      mode = "policy-config";
      stack = value(i++);
    } else if (arg === "--drift-at") {
      const at = new Date(value(i++));
      if (Number.isNaN(at.getTime())) throw new UsageError(`--drift-at ${argv[i]}: not an ISO 8601 time`);
      drift.at = at;
    } else if (arg === "--drift-only") drift.only = value(i++);
    else throw new UsageError(`unknown argument ${arg}; --help for usage`);
  }
  if (!mode) throw new UsageError("choose --json, --github-output or --policy-config STACK; --help for usage");

  const set = readStackSet(dir);
  const stacks = set.stacks.map(entryOf);
  const pipeline = set.pipeline && pipelineEntryOf(set.pipeline);
  const checked = [...stacks.map((s) => s.name), ...(pipeline ? [pipeline.name] : [])];
  if (drift.only !== undefined && drift.only !== "all" && !checked.includes(drift.only)) {
    throw new UsageError(`--drift-only ${drift.only}: no such stack (stacks: ${checked.join(", ")})`);
  }
  if (mode === "json") process.stdout.write(`${JSON.stringify({ stacks, pipeline: set.pipeline?.stack ?? null }, null, 2)}\n`);
  else if (mode === "github-output") process.stdout.write(`${githubOutputs(stacks, drift, pipeline).join("\n")}\n`);
  else {
    const found = stack === set.pipeline?.stack ? set.pipeline?.config : set.stacks.find((s) => s.stack === stack)?.config;
    if (!found) throw new UsageError(`--policy-config ${stack}: no stack file Pulumi.${stack}.yaml here`);
    process.stdout.write(`${JSON.stringify(policyConfig(policyConfigOf(found)), null, 2)}\n`);
  }
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.problems) process.stderr.write(`${line}\n`);
      process.exitCode = 2;
    } else if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
    } else throw err;
  }
}
