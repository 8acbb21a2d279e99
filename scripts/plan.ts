/**
 * Offline plan: runs the real program under Pulumi's mock runtime, in preview mode, against a
 * stack file, and prints the resources `pulumi up` would register. No cloud credentials and no
 * Pulumi CLI. `npm run plan -- --help` lists the options; docs/plan.md describes the output.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { closest, ConfigError } from "../config/errors";
import type { StackConfig } from "../config/load";
import { crossStackProblems } from "../config/ownership";
import { FAST_TS_NODE_ARGS } from "./lib/fastTs";
import { ImportFileError, importFileOf } from "./lib/importFile";
import { mandatoryFindings, planStack, policyFindings, type PlanDocument } from "./lib/planStack";
import { diffPlans } from "./lib/review/diff";
import { renderMarkdown } from "./lib/review/markdown";
import { PlanFileError, readPlanFile } from "./lib/review/planFile";
import { labelPlaceholders } from "./lib/review/placeholders";
import { applyOrder } from "./lib/review/summary";
import { renderText, type Review } from "./lib/review/text";
import { readStackFile, stackFiles, stackNameOf, validateStackFile } from "./lib/stackFile";

const HELP = `Offline plan of release-infra: what \`pulumi up\` would create, without credentials or the Pulumi CLI.

Usage:
  npm run plan -- --stack NAME          plan Pulumi.NAME.yaml of the current directory
  npm run plan -- --config FILE         plan any stack file (stack name from Pulumi.<name>.yaml, or --stack)
  npm run plan -- --all                 plan every Pulumi.*.yaml of the current directory,
                                        after checking that no two of them manage the same object
  npm run plan -- --from PLAN.json      render a saved plan JSON instead of running the program
  npm run plan -- --stack NAME --import-file FILE
                                        write the file \`pulumi import --file FILE\` takes: every
                                        object the stack file adopts, by its import id

Options:
  --diff BASE.json        the changes against a plan JSON of the same stack (e.g. the base branch's),
                          access changes first; exit code 0 whatever the changes
  --format text|markdown  text (default), or a review document for a pull request comment
  --full                  every input of every resource in the tree, nothing folded
  --json                  the plan JSON on stdout (use \`npm run -s plan\` so npm prints no banner)
  --policy                a mandatory policy finding exits 5 (the text and markdown list findings anyway)
  -h, --help              this text

Exit codes: 0 planned; 1 the program failed; 2 invalid configuration or arguments, or no import
file can be written (one line per problem on stderr, nothing planned or written); 5 a mandatory
policy is violated (with --policy).`;

const USAGE =
  "usage: npm run plan -- (--stack NAME | --config FILE [--stack NAME] | --all | --from PLAN.json) [--diff BASE.json] [--format text|markdown] [--full] [--json] [--policy] [--import-file FILE]; --help for more";

interface Args {
  help: boolean;
  stack?: string;
  config?: string;
  from?: string;
  diff?: string;
  importFile?: string;
  format: "text" | "markdown";
  full: boolean;
  json: boolean;
  all: boolean;
  policy: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): Args {
  const args: Args = { help: false, format: "text", full: false, json: false, all: false, policy: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${arg} needs a value; ${USAGE}`);
      return v;
    };
    if (arg === "--help" || arg === "-h") args.help = true;
    else if (arg === "--stack") args.stack = value();
    else if (arg === "--config") args.config = value();
    else if (arg === "--from") args.from = value();
    else if (arg === "--diff") args.diff = value();
    else if (arg === "--import-file") args.importFile = value();
    else if (arg === "--format") {
      const format = value();
      if (format !== "text" && format !== "markdown") throw new UsageError(`--format ${format}: takes text or markdown; ${USAGE}`);
      args.format = format;
    } else if (arg === "--full") args.full = true;
    else if (arg === "--json") args.json = true;
    else if (arg === "--all") args.all = true;
    else if (arg === "--policy") args.policy = true;
    else throw new UsageError(`unknown argument ${arg}; ${USAGE}`);
  }
  if (args.help) return args;
  if (!args.all && !args.stack && !args.config && !args.from) throw new UsageError(USAGE);
  if (args.all && (args.stack || args.config)) throw new UsageError(`--all plans every Pulumi.*.yaml; it takes no --stack or --config; ${USAGE}`);
  if (args.from && (args.all || args.stack || args.config)) throw new UsageError(`--from renders a saved plan; it takes no --stack, --config or --all; ${USAGE}`);
  if (args.json && (args.diff || args.format !== "text" || args.full || args.from)) throw new UsageError(`--json prints the plan JSON; it takes no --diff, --format, --full or --from; ${USAGE}`);
  if (args.importFile && (args.all || args.from || args.json || args.diff)) {
    throw new UsageError(`--import-file writes the import file of one stack; use it with --stack NAME or --config FILE, without --all, --from, --json or --diff; ${USAGE}`);
  }
  if (args.all && args.diff) throw new UsageError(`--diff compares one stack; use --stack NAME or --config FILE with it; ${USAGE}`);
  if (args.stack && /\.ya?ml$/.test(args.stack)) {
    const name = stackNameOf(args.stack);
    throw new UsageError(`--stack ${args.stack}: takes a stack name, not a file; did you mean --stack ${name} or --config ${args.stack}?`);
  }
  return args;
}

/**
 * The directory the user ran the command in: npm runs scripts from the package root, and says
 * where it was invoked in INIT_CWD (only trusted for this script, not for a child of `npm test`).
 */
function userDirectory(): string {
  return process.env.npm_lifecycle_event === "plan" && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
}

/** A path as the user would write it from where they are: relative, unless that only climbs out. */
function shown(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return !relative || (relative.startsWith("..") && relative.length > file.length) ? file : relative;
}

function printProblems(problems: readonly string[]): number {
  for (const line of problems) process.stderr.write(`${line}\n`);
  return 2;
}

/** The stack the user probably meant: a close spelling, or a name that starts like it. */
function suggestStack(wanted: string, known: string[]): string | undefined {
  return closest(wanted, known) ?? known.find((k) => k.startsWith(wanted) || wanted.startsWith(k));
}

/** What a child process printed, and how it exited. */
interface ChildResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

function runChild(argv: string[], cwd: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), code }));
  });
}

/**
 * Plans each stack file in a process of its own (the Pulumi runtime is process-global), as many at
 * once as there are CPUs. Documents and each child's stderr come in file order, however they finish.
 */
async function planInChildren(stacks: [string, string][], cwd: string): Promise<{ file: string; document: PlanDocument }[]> {
  const results: Promise<ChildResult>[] = [];
  let next = 0;
  const worker = async () => {
    while (next < stacks.length) {
      const i = next++;
      const [stack, file] = stacks[i];
      results[i] = runChild([...FAST_TS_NODE_ARGS, __filename, "--config", file, "--stack", stack, "--json"], cwd);
      await results[i].catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(stacks.length, os.availableParallelism()) }, worker));
  const planned: { file: string; document: PlanDocument }[] = [];
  for (const [i, [, file]] of stacks.entries()) {
    const { stdout, stderr, code } = await results[i];
    process.stderr.write(stderr);
    if (code !== 0) throw new Error(`plan of ${path.basename(file)} exited with code ${code}`);
    planned.push({ file, document: JSON.parse(stdout) as PlanDocument });
  }
  return planned;
}

/** `--all`: validates every stack file, checks them against each other, then plans each in its own process. */
async function planAll(args: Args, cwd: string): Promise<number> {
  const files = stackFiles(cwd);
  if (files.size === 0) return printProblems([`${cwd}: no Pulumi.<stack>.yaml files here; run --all in the folder that holds the stack files`]);
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
  if (problems.length === 0) problems.push(...crossStackProblems(configs));
  if (problems.length > 0) return printProblems(problems);

  // One process per stack, as many at once as there are CPUs: the Pulumi runtime is process-global.
  const planned = await planInChildren([...files], cwd);
  const documents: PlanDocument[] = [];
  const reviews: Review[] = [];
  for (const { document } of planned) {
    const policy = policyFindings(document);
    documents.push(args.policy ? { ...document, policy } : document);
    reviews.push(review(document, policy, args));
  }
  const mandatory = documents.some((d) => mandatoryFindings(d) > 0) ? 5 : 0;
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ project: "release-infra", stacks: documents, ownership: [] }, null, 2)}\n`);
    return mandatory;
  }
  const { order, reasons } = applyOrder(documents);
  const orderLines = [`Apply order: ${order.join(", then ")}`, ...(reasons.length ? reasons.map((r) => `  ${r}`) : ["  no stack needs anything another creates: any order"])];
  const ownership = `Ownership: ${configs.length} stack files, no object managed by two of them.`;
  if (args.format === "markdown") {
    const header = ["## release-infra offline plans", "", ...orderLines.map((l) => `- ${l.trim()}`), `- ${ownership}`].join("\n");
    process.stdout.write(`${[header, ...reviews.map(renderMarkdown)].join("\n\n---\n\n")}\n`);
  } else {
    process.stdout.write(`${[orderLines.join("\n"), ...reviews.map(renderText)].join("\n\n")}\n\n${ownership}\n`);
  }
  return mandatory;
}

/** What the text and markdown outputs show for one plan. */
function review(plan: PlanDocument, policy: Review["policy"], args: Args, diff?: Review["diff"]): Review {
  return { plan, policy, policyEnforced: args.policy, full: args.full, diff };
}

/** The base plan of --diff, read and checked before anything is planned. */
function readBase(args: Args, cwd: string, stack: string | undefined): { plan: PlanDocument; label: string } | undefined {
  if (!args.diff) return undefined;
  const label = shown(path.resolve(cwd, args.diff), cwd);
  const plan = readPlanFile(path.resolve(cwd, args.diff), label, stack);
  if (stack !== undefined && plan.stack !== stack) {
    throw new PlanFileError(`${label}: is a plan of stack ${plan.stack}, not ${stack}; --diff takes a plan of the same stack`);
  }
  return { plan, label };
}

/** `--import-file`: writes the import file of a plan and says what to run next. */
function writeImportFile(plan: PlanDocument, stackFile: string, target: string, cwd: string): number {
  const display = shown(stackFile, cwd);
  const subscription = readStackFile(stackFile, display)["azure-native:subscriptionId"];
  const file = importFileOf(plan, typeof subscription === "string" ? subscription : undefined, display);
  fs.writeFileSync(target, `${JSON.stringify(file, null, 2)}\n`);
  const objects = file.resources.filter((r) => !r.component);
  const lines = [
    `wrote ${shown(target, cwd)}: ${objects.length} object(s) to import, in ${file.resources.length - objects.length} component(s) of the program`,
    ...objects.map((r) => `  ${r.type}  ${r.logicalName}  ${r.id ?? ""}`),
  ];
  for (const [key, inputs] of Object.entries(file.providerInputs ?? {})) {
    lines.push(
      `the Kubernetes provider ${key} reads cluster ${inputs.context} through the kubeconfig context of that name: first run az aks get-credentials --resource-group ${inputs.clusterIdentifier.split("/")[4]} --name ${inputs.context}, then kubelogin convert-kubeconfig -l azurecli`,
    );
  }
  lines.push(`next: pulumi import --file ${shown(target, cwd)} --stack ${plan.stack} --generate-code=false, then pulumi preview --diff --stack ${plan.stack} (docs/migration.md)`);
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

/** Prints one stack's plan in the requested form and returns the exit code. */
function output(plan: PlanDocument, policy: Review["policy"], args: Args, base: { plan: PlanDocument; label: string } | undefined): number {
  if (args.json) {
    const { policy: _findings, ...rest } = plan;
    process.stdout.write(`${JSON.stringify(args.policy ? { ...rest, policy } : rest, null, 2)}\n`);
  } else {
    const diff = base && { diff: diffPlans(labelPlaceholders(base.plan, plan.placeholders), plan), label: base.label };
    const r = review(plan, policy, args, diff);
    process.stdout.write(`${args.format === "markdown" ? renderMarkdown(r) : renderText(r)}\n`);
  }
  return args.policy && policy.some((v) => v.enforcement === "mandatory") ? 5 : 0;
}

async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) return printProblems([err.message]);
    throw err;
  }
  if (args.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const cwd = userDirectory();
  try {
    if (args.all) return await planAll(args, cwd);
    if (args.from) {
      const saved = labelPlaceholders(readPlanFile(path.resolve(cwd, args.from), shown(path.resolve(cwd, args.from), cwd)));
      return output(saved, policyFindings(saved), args, readBase(args, cwd, saved.stack));
    }
    let file: string;
    if (args.config) {
      file = path.resolve(cwd, args.config);
    } else {
      const stack = args.stack ?? "";
      const files = stackFiles(cwd);
      const found = files.get(stack);
      if (!found) {
        const known = [...files.keys()];
        const suggestion = suggestStack(stack, known);
        return printProblems([
          `Pulumi.${stack}.yaml: unknown stack "${stack}"${suggestion ? `; did you mean --stack ${suggestion}?` : ""} (stacks here: ${known.join(", ") || "none"}; --config plans a file elsewhere)`,
        ]);
      }
      file = found;
    }
    const stack = stackNameOf(file, args.stack);
    const base = readBase(args, cwd, stack);
    // The text and markdown list policy findings always; the JSON only with --policy.
    if (args.importFile) return writeImportFile(await planStack(file, stack, shown(file, cwd)), file, path.resolve(cwd, args.importFile), cwd);
    const plan = labelPlaceholders(await planStack(file, stack, shown(file, cwd), !args.json || args.policy));
    return output(plan, plan.policy ?? [], args, base);
  } catch (err) {
    if (err instanceof ConfigError) return printProblems(err.problems);
    if (err instanceof PlanFileError) return printProblems([err.message]);
    if (err instanceof ImportFileError) return printProblems(err.problems);
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
