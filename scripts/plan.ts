/**
 * Offline plan: runs the real program under Pulumi's mock runtime, in preview mode, against a
 * stack file, and prints the resources `pulumi up` would register. No cloud credentials and no
 * Pulumi CLI. `npm run plan -- --help` lists the options; docs/plan.md describes the output.
 */
import { execFileSync } from "child_process";
import * as path from "path";
import { closest, ConfigError } from "../config/errors";
import type { StackConfig } from "../config/load";
import { crossStackProblems } from "../config/ownership";
import { checkResources } from "../policy/check";
import { mandatoryFindings, planStack, type PlanDocument } from "./lib/planStack";
import { renderTree } from "./lib/render";
import { stackFiles, stackNameOf, validateStackFile } from "./lib/stackFile";

const HELP = `Offline plan of release-infra: what \`pulumi up\` would create, without credentials or the Pulumi CLI.

Usage:
  npm run plan -- --stack NAME          plan Pulumi.NAME.yaml of the current directory
  npm run plan -- --config FILE         plan any stack file (stack name from Pulumi.<name>.yaml, or --stack)
  npm run plan -- --all                 plan every Pulumi.*.yaml of the current directory,
                                        after checking that no two of them manage the same object

Options:
  --json      one JSON document on stdout (use \`npm run -s plan\` so npm prints no banner)
  --policy    also run the policy pack over the planned resources
  -h, --help  this text

Exit codes: 0 planned; 1 the program failed; 2 invalid configuration or arguments (one line per
problem on stderr, nothing planned); 5 a mandatory policy is violated (with --policy).`;

const USAGE = "usage: npm run plan -- (--stack NAME | --config FILE [--stack NAME] | --all) [--json] [--policy]; --help for more";

interface Args {
  help: boolean;
  stack?: string;
  config?: string;
  json: boolean;
  all: boolean;
  policy: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): Args {
  const args: Args = { help: false, json: false, all: false, policy: false };
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
    else if (arg === "--json") args.json = true;
    else if (arg === "--all") args.all = true;
    else if (arg === "--policy") args.policy = true;
    else throw new UsageError(`unknown argument ${arg}; ${USAGE}`);
  }
  if (args.help) return args;
  if (!args.all && !args.stack && !args.config) throw new UsageError(USAGE);
  if (args.all && (args.stack || args.config)) throw new UsageError(`--all plans every Pulumi.*.yaml; it takes no --stack or --config; ${USAGE}`);
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

/** A path as the user would write it from where they are. */
function shown(file: string, cwd: string): string {
  return path.relative(cwd, file) || file;
}

function printProblems(problems: readonly string[]): number {
  for (const line of problems) process.stderr.write(`${line}\n`);
  return 2;
}

/** The stack the user probably meant: a close spelling, or a name that starts like it. */
function suggestStack(wanted: string, known: string[]): string | undefined {
  return closest(wanted, known) ?? known.find((k) => k.startsWith(wanted) || wanted.startsWith(k));
}

/** `--all`: validates every stack file, checks them against each other, then plans each in its own process. */
function planAll(args: Args, cwd: string): number {
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

  // One process per stack: the Pulumi runtime is process-global.
  const documents: PlanDocument[] = [];
  for (const [stack, file] of files) {
    const out = execFileSync(process.execPath, [...process.execArgv, __filename, "--config", file, "--stack", stack, "--json"], {
      cwd,
      encoding: "utf8",
      maxBuffer: 512 * 1024 * 1024,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const document = JSON.parse(out) as PlanDocument;
    const config = configs.find((c) => c.file === path.basename(file))?.config;
    documents.push(args.policy ? { ...document, policy: checkResources(document.resources, { stage: config?.stage ?? "prod", pipelineStack: config?.pipeline !== undefined }) } : document);
  }
  if (args.json) process.stdout.write(`${JSON.stringify({ project: "release-infra", stacks: documents, ownership: [] }, null, 2)}\n`);
  else process.stdout.write(`${documents.map(renderTree).join("\n\n")}\n\nOwnership: ${configs.length} stack files, no object managed by two of them.\n`);
  return documents.some((d) => mandatoryFindings(d) > 0) ? 5 : 0;
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
    if (args.all) return planAll(args, cwd);
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
    const plan = await planStack(file, stack, shown(file, cwd), args.policy);
    process.stdout.write(args.json ? `${JSON.stringify(plan, null, 2)}\n` : `${renderTree(plan)}\n`);
    return mandatoryFindings(plan) > 0 ? 5 : 0;
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
