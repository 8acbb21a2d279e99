/**
 * Offline plan: runs the real program under Pulumi's mock runtime, in preview mode, against a
 * stack file, and prints the resources `pulumi up` would register. No cloud credentials and no
 * Pulumi CLI. Contract: DESIGN.md, "Offline plan".
 *
 *   npm run plan -- --stack dev [--json]
 *   npm run plan -- --config examples/navi/Pulumi.prod.yaml [--stack prod] [--json]
 *   npm run plan -- --all [--json]
 *   ... --policy   also runs the policy pack (policy/) over the planned resources
 *
 * Exit codes: 0 planned; 1 the program failed; 2 invalid configuration (one line per problem);
 * 5 a mandatory policy is violated (the Pulumi CLI's policy exit code).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parseDocument } from "yaml";
import { ConfigError } from "../config/errors";
import { parseStackConfig, type StackConfig } from "../config/load";
import { ownershipConflicts } from "../config/ownership";
import { checkResources, formatViolations, type Violation } from "../policy/check";
import { installMocks, plainValue, type RecordedResource, type WireValue } from "./mocks";

/** A resource of the plan: what the engine would receive, inputs as plain JSON. */
export type PlannedResource = Omit<RecordedResource, "provider">;

export interface PlanDocument {
  project: "release-infra";
  stack: string;
  resources: PlannedResource[];
  outputs: Record<string, WireValue>;
  warnings: string[];
  /** With --policy: the policy pack's findings, mandatory first. */
  policy?: Violation[];
}

interface Args {
  stack?: string;
  config?: string;
  json: boolean;
  all: boolean;
  policy: boolean;
}

const USAGE = "usage: npm run plan -- (--stack NAME | --config FILE [--stack NAME] | --all) [--json] [--policy]";
const PROJECT_ROOT = path.resolve(__dirname, "..");

class UsageError extends Error {}

function parseArgs(argv: string[]): Args {
  const args: Args = { json: false, all: false, policy: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    if (arg === "--stack") args.stack = value();
    else if (arg === "--config") args.config = value();
    else if (arg === "--json") args.json = true;
    else if (arg === "--all") args.all = true;
    else if (arg === "--policy") args.policy = true;
    else throw new UsageError(`unknown argument ${arg}\n${USAGE}`);
  }
  if (!args.all && !args.stack && !args.config) throw new UsageError(USAGE);
  if (args.all && (args.stack || args.config)) throw new UsageError(`--all plans every Pulumi.*.yaml; it takes no --stack or --config\n${USAGE}`);
  return args;
}

/** Stack files in a folder: `Pulumi.<stack>.yaml`, by stack name. */
function stackFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of fs.readdirSync(dir).sort()) {
    const match = /^Pulumi\.(.+)\.ya?ml$/.exec(entry);
    if (match) files.set(match[1], path.join(dir, entry));
  }
  return files;
}

/** The stack a file belongs to: --stack, else `<name>` of `Pulumi.<name>.yaml`, else the base name. */
function stackNameOf(file: string, explicit?: string): string {
  if (explicit) return explicit;
  const base = path.basename(file);
  return /^Pulumi\.(.+)\.ya?ml$/.exec(base)?.[1] ?? base.replace(/\.[^.]*$/, "");
}

const FILE_KEYS = ["config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"];

/** Reads a stack file as the CLI would, into config values keyed as in the file. */
export function readStackFile(file: string, display: string): Record<string, unknown> {
  if (!fs.existsSync(file)) throw new ConfigError([`${display}: file not found`]);
  const text = fs.readFileSync(file, "utf8");
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${display}: YAML: ${e.message.split("\n")[0].replace(/:$/, "")}`));
  }
  const root: unknown = doc.toJS();
  if (root === null || root === undefined) throw new ConfigError([`${display}: config: the file is empty; a stack file needs a config: section`]);
  if (typeof root !== "object" || Array.isArray(root)) throw new ConfigError([`${display}: the file must be a YAML mapping with a config: section`]);
  const rootObject = root as Record<string, unknown>;
  const problems = Object.keys(rootObject)
    .filter((k) => !FILE_KEYS.includes(k))
    .map((k) => `${display}: ${k}: unknown top-level key; a stack file has ${FILE_KEYS.join(", ")}`);
  const config = rootObject.config;
  if (config === undefined || config === null) problems.push(`${display}: config: is missing or empty; put the stack's settings under config:`);
  else if (typeof config !== "object" || Array.isArray(config)) problems.push(`${display}: config: must be a mapping of keys to values`);
  if (problems.length > 0) throw new ConfigError(problems);
  return config as Record<string, unknown>;
}

/** Config as the engine passes it to a program: strings, objects as JSON; secure values undecryptable. */
function engineConfig(values: Record<string, unknown>): { config: Record<string, string>; secretKeys: string[] } {
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  const containsSecure = (v: unknown): boolean =>
    typeof v === "object" && v !== null && (("secure" in v && Object.keys(v).length === 1) || Object.values(v).some(containsSecure));
  for (const [key, value] of Object.entries(values)) {
    if (containsSecure(value)) secretKeys.push(key);
    const isTopLevelSecure = typeof value === "object" && value !== null && "secure" in value && Object.keys(value).length === 1;
    config[key] = typeof value === "string" ? value : isTopLevelSecure ? "[secret]" : JSON.stringify(value);
  }
  return { config, secretKeys };
}

/** Validates a stack file, returning the program's config view. Throws ConfigError. */
export function validateStackFile(file: string, stack: string, display = path.relative(process.cwd(), file) || file) {
  const values = readStackFile(file, display);
  return { values, ...parseStackConfig(values, { file: display, stack, source: "offline-plan" }) };
}

/** Runs the program under mocks for one stack file and returns the plan document. */
export async function planStack(file: string, stack: string, display: string, policy = false): Promise<PlanDocument> {
  const { values, config: stackConfig, warnings: configWarnings } = validateStackFile(file, stack, display);
  const pulumi = await import("@pulumi/pulumi");
  process.env.RELEASE_INFRA_OFFLINE_PLAN = "1";
  process.env.RELEASE_INFRA_CONFIG_FILE = display;
  // Offline the plan cannot see team access: it assumes reviewer teams can access the stack's repositories.
  const teamRepositories = stackConfig.github?.repositories.map((r) => r.name) ?? [];
  const session = installMocks({ stack, preview: true, teamRepositories });
  const { config, secretKeys } = engineConfig(values);
  pulumi.runtime.setAllConfig(config, secretKeys);

  // pulumi.log.warn writes "warning: [runtime] ..." to console.warn when no engine is attached.
  const runtimeWarnings: string[] = [];
  const warn = console.warn;
  console.warn = (...parts: unknown[]) => {
    const text = parts.map(String).join(" ");
    const match = /^warning: \[runtime\] ([\s\S]*)$/.exec(text);
    if (match) runtimeWarnings.push(match[1]);
    else warn(...parts);
  };
  try {
    await pulumi.runtime.runInPulumiStack(async () => import(path.join(PROJECT_ROOT, "index")));
    await pulumi.runtime.disconnect();
  } finally {
    console.warn = warn;
  }

  const monitor = pulumi.runtime.getMonitor();
  const stackUrn = session.resources.find((r) => r.type === "pulumi:pulumi:Stack")?.urn;
  const registered = monitor && "getRegisteredResources" in monitor ? (monitor.getRegisteredResources as () => Map<string, { state: unknown }>)() : undefined;
  const stackState = stackUrn ? registered?.get(stackUrn)?.state : undefined;
  const stackOutputs =
    stackState && typeof stackState === "object" && "toJavaScript" in stackState && typeof stackState.toJavaScript === "function"
      ? (stackState.toJavaScript() as Record<string, WireValue>)
      : {};

  const resources: PlannedResource[] = session.resources
    // In the contract's field order (DESIGN.md, offline plan).
    .map((r) => ({
      urn: r.urn,
      type: r.type,
      name: r.name,
      parent: r.parent,
      custom: r.custom,
      inputs: plainValue(r.inputs) as Record<string, WireValue>,
      dependsOn: r.dependsOn,
      protect: r.protect,
      retainOnDelete: r.retainOnDelete,
      deleteBeforeReplace: r.deleteBeforeReplace,
      ignoreChanges: [...r.ignoreChanges].sort(),
    }))
    .sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
  return {
    project: "release-infra",
    stack,
    resources,
    outputs: plainValue(stackOutputs) as Record<string, WireValue>,
    warnings: [...new Set([...configWarnings, ...runtimeWarnings])].sort(),
    ...(policy ? { policy: checkResources(resources, stackConfig.stage) } : {}),
  };
}

const mandatory = (plan: PlanDocument) => (plan.policy ?? []).filter((v) => v.enforcement === "mandatory").length;

// ---------------------------------------------------------------------------------------------
// Human-readable output

function flatten(value: WireValue, prefix: string, out: string[]): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) out.push(`${prefix}: {}`);
    for (const key of keys) flatten(value[key], prefix ? `${prefix}.${key}` : key, out);
  } else if (Array.isArray(value) && value.some((v) => v !== null && typeof v === "object")) {
    value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  } else {
    out.push(`${prefix}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
}

export function renderTree(plan: PlanDocument): string {
  const lines = [`release-infra · stack ${plan.stack} · ${plan.resources.filter((r) => r.custom).length} cloud resources in ${plan.resources.length} registrations`];
  const children = new Map<string | null, PlannedResource[]>();
  const urns = new Set(plan.resources.map((r) => r.urn));
  for (const r of plan.resources) {
    const parent = r.parent && urns.has(r.parent) ? r.parent : null;
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const walk = (parent: string | null, indent: string) => {
    const list = children.get(parent) ?? [];
    list.forEach((r, i) => {
      const last = i === list.length - 1;
      const flags = [r.protect && "protect", r.retainOnDelete && "retainOnDelete", r.deleteBeforeReplace && "deleteBeforeReplace", r.ignoreChanges.length > 0 && `ignoreChanges=${r.ignoreChanges.join(",")}`].filter(Boolean);
      lines.push(`${indent}${last ? "└─ " : "├─ "}${r.type}  ${r.name}${flags.length ? `  [${flags.join(", ")}]` : ""}`);
      const detailIndent = `${indent}${last ? "   " : "│  "}${children.has(r.urn) ? "│ " : "  "}   `;
      if (r.custom && r.type !== "pulumi:pulumi:Stack") {
        const props: string[] = [];
        flatten(r.inputs, "", props);
        for (const p of props) lines.push(`${detailIndent}${p}`);
        for (const d of r.dependsOn) lines.push(`${detailIndent}dependsOn: ${d.split("::").pop()}`);
      }
      walk(r.urn, `${indent}${last ? "   " : "│  "}`);
    });
  };
  walk(null, "");
  const outputLines: string[] = [];
  flatten(plan.outputs, "", outputLines);
  if (outputLines.length) lines.push("", "Outputs:", ...outputLines.map((l) => `  ${l}`));
  if (plan.warnings.length) lines.push("", "Warnings:", ...plan.warnings.map((w) => `  ! ${w}`));
  if (plan.policy) {
    lines.push("", `Policy: ${mandatory(plan)} mandatory, ${plan.policy.length - mandatory(plan)} advisory finding(s)`, ...formatViolations(plan.policy).map((l) => `  ${l}`));
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Command

function printProblems(problems: readonly string[]): number {
  for (const line of problems) process.stderr.write(`${line}\n`);
  return 2;
}

/** `--all`: validates every stack file, checks ownership across them, then plans each in its own process. */
function planAll(args: Args): number {
  const files = stackFiles(process.cwd());
  if (files.size === 0) return printProblems([`no Pulumi.<stack>.yaml files in ${process.cwd()}`]);
  const problems: string[] = [];
  const configs: { file: string; config: StackConfig }[] = [];
  for (const [stack, file] of files) {
    const display = path.basename(file);
    try {
      configs.push({ file: display, config: validateStackFile(file, stack, display).config });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  problems.push(...ownershipConflicts(configs));
  if (problems.length > 0) return printProblems(problems);

  // One process per stack: the Pulumi runtime is process-global.
  const documents: PlanDocument[] = [];
  for (const [stack, file] of files) {
    const out = execFileSync(process.execPath, [...process.execArgv, __filename, "--config", file, "--stack", stack, "--json"], {
      encoding: "utf8",
      maxBuffer: 512 * 1024 * 1024,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const document = JSON.parse(out) as PlanDocument;
    const stage = configs.find((c) => c.file === path.basename(file))?.config.stage ?? "prod";
    documents.push(args.policy ? { ...document, policy: checkResources(document.resources, stage) } : document);
  }
  if (args.json) process.stdout.write(`${JSON.stringify({ project: "release-infra", stacks: documents, ownership: [] }, null, 2)}\n`);
  else process.stdout.write(`${documents.map(renderTree).join("\n\n")}\n\nOwnership: ${configs.length} stack files, no object managed by two of them.\n`);
  return documents.some((d) => mandatory(d) > 0) ? 5 : 0;
}

async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) return printProblems([err.message]);
    throw err;
  }
  try {
    if (args.all) return planAll(args);
    let file: string;
    if (args.config) {
      file = path.resolve(args.config);
    } else {
      const files = stackFiles(process.cwd());
      const found = files.get(args.stack ?? "");
      if (!found) {
        return printProblems([`Pulumi.${args.stack}.yaml: unknown stack "${args.stack}"; stacks here: ${[...files.keys()].join(", ") || "none"}`]);
      }
      file = found;
    }
    const stack = stackNameOf(file, args.stack);
    const plan = await planStack(file, stack, path.relative(process.cwd(), file) || file, args.policy);
    process.stdout.write(args.json ? `${JSON.stringify(plan, null, 2)}\n` : `${renderTree(plan)}\n`);
    return mandatory(plan) > 0 ? 5 : 0;
  } catch (err) {
    if (err instanceof ConfigError) return printProblems(err.problems);
    throw err;
  }
}

if (require.main === module) {
  process.on("unhandledRejection", (err) => {
    process.stderr.write(`plan failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
  main(process.argv.slice(2)).then(
    // Exit only once stdout is flushed: a pipe takes large plans in several writes.
    (code) => process.stdout.write("", () => process.exit(code)),
    (err: unknown) => {
      process.stderr.write(`plan failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
