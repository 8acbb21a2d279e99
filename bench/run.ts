/**
 * The performance targets of the offline plan and the test suite, measured on this machine:
 *
 *   npm run bench [-- --runs N] [--skip-test]
 *
 * A warm-up round fills the caches (scripts/register.js), then N rounds (default 5, at least 3)
 * run the floor, `node -e 'require("@pulumi/pulumi")'`, the two plans and the prod stack loaded
 * as the Pulumi CLI loads it (bench/languageHost.js: Pulumi.yaml's runtime options, as the language
 * host passes them to node and @pulumi/pulumi's run.js, every loader cache empty) in turn; figures are medians
 * of wall time, ratios are to the floor's (the CLI's start-up: to the offline plan's). Other load on the machine inflates every
 * figure: the load average is printed before and after.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { generatedStackFile } from "./generate";

const ROOT = path.resolve(__dirname, "..");
const REPOSITORIES = 50;

interface Args {
  runs: number;
  skipTest: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { runs: 5, skipTest: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--skip-test") args.skipTest = true;
    else if (argv[i] === "--runs" && Number.isInteger(Number(argv[i + 1])) && Number(argv[i + 1]) >= 3) args.runs = Number(argv[++i]);
    else throw new Error(`usage: npm run bench [-- --runs N (N >= 3)] [--skip-test]; not ${argv[i]}`);
  }
  return args;
}

interface Run {
  seconds: number;
  status: number | null;
  stdout: string;
  /** Largest peak RSS of the command's processes whose arguments contain `rssOf`, in MB. */
  peakRssMb?: number;
}

/** Runs a command from the repository root; unless `mayFail`, throws with its stderr when it fails. */
function run(command: string, args: string[], rssOf?: string, mayFail = false): Run {
  const rssFile = rssOf ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "release-infra-bench-")), "rss.tsv") : undefined;
  const env = rssFile
    ? { ...process.env, BENCH_PEAK_RSS_FILE: rssFile, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require "${path.join(__dirname, "peak-rss.js")}"` }
    : process.env;
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd: ROOT, env, encoding: "utf8", maxBuffer: 1024 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0 && !mayFail) throw new Error(`${command} ${args.join(" ")} exited with ${result.status ?? result.signal}:\n${result.stderr}`);
  if (!rssFile || !rssOf) return { seconds, status: result.status, stdout: result.stdout };
  const peaks = fs
    .readFileSync(rssFile, "utf8")
    .split("\n")
    .filter((line) => line.includes(rssOf))
    .map((line) => Number(line.split("\t")[0]) / 1024);
  fs.rmSync(path.dirname(rssFile), { recursive: true, force: true });
  return { seconds, status: result.status, stdout: result.stdout, peakRssMb: Math.max(...peaks) };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];

interface Measured {
  seconds: number;
  /** Exit codes of the measured runs. */
  statuses: (number | null)[];
  peakRssMb?: number;
  runs: number[];
  stdout: string;
}

interface Command {
  label: string;
  command: string;
  args: string[];
  /** Measure the peak RSS of the processes whose arguments contain this. */
  rssOf?: string;
  /** A failing run is measured and reported, not an error. */
  mayFail?: boolean;
}

/**
 * A warm-up round, then `runs` rounds, each running every command once: interleaved, so a change
 * in the machine's load between rounds shifts the floor and the plans alike.
 */
function measure(commands: Command[], runs: number): Measured[] {
  const results: Run[][] = commands.map(() => []);
  const warm: Run[] = [];
  for (let round = 0; round <= runs; round++) {
    process.stderr.write(round === 0 ? `${commands.map((c) => c.label).join(", ")}: warm-up` : ` ${round}`);
    commands.forEach((c, i) => {
      const result = run(c.command, c.args, c.rssOf, c.mayFail);
      if (round === 0) warm.push(result);
      else results[i].push(result);
    });
  }
  process.stderr.write("\n");
  return results.map((rs, i) => {
    const peaks = rs.flatMap((r) => (r.peakRssMb === undefined ? [] : [r.peakRssMb]));
    return {
      seconds: median(rs.map((r) => r.seconds)),
      statuses: rs.map((r) => r.status),
      peakRssMb: peaks.length > 0 ? median(peaks) : undefined,
      runs: rs.map((r) => r.seconds),
      stdout: warm[i].stdout,
    };
  });
}

const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  // Printed as measured: the whole benchmark takes minutes.
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const failures: string[] = [];
  const report = (name: string, ok: boolean, text: string) => {
    print(`${name.padEnd(10)} ${text}  ${verdict(ok)}`);
    if (!ok) failures.push(name);
  };
  const runsOf = (m: Measured) => `runs ${m.runs.map((s) => s.toFixed(2)).join(" ")}`;
  print(`release-infra benchmark: node ${process.version}, ${os.availableParallelism()} CPUs, ${args.runs} runs each (median), load average ${load()} at start`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "release-infra-bench-"));
  const file = path.join(dir, "Pulumi.bench.yaml");
  fs.writeFileSync(file, generatedStackFile(REPOSITORIES));
  const [floor, prod, generated, cli] = measure(
    [
      { label: "floor", command: process.execPath, args: ["-e", 'require("@pulumi/pulumi")'] },
      { label: "prod", command: "npm", args: ["run", "-s", "plan", "--", "--stack", "prod", "--json"] },
      { label: "generated", command: "npm", args: ["run", "-s", "plan", "--", "--config", file, "--json"], rssOf: "scripts/plan.ts" },
      { label: "cli", command: process.execPath, args: [path.join(__dirname, "languageHost.js"), "Pulumi.prod.yaml"], rssOf: "languageHost.js" },
    ],
    args.runs,
  );
  fs.rmSync(dir, { recursive: true, force: true });
  print(`${"floor".padEnd(10)} node -e 'require("@pulumi/pulumi")': ${floor.seconds.toFixed(2)} s (${runsOf(floor)})`);
  const prodRatio = prod.seconds / floor.seconds;
  report("prod", prodRatio <= 1.5, `npm run -s plan -- --stack prod --json: ${prod.seconds.toFixed(2)} s = ${prodRatio.toFixed(2)}x floor (target <= 1.5x; ${runsOf(prod)})`);
  const registrations = (JSON.parse(generated.stdout) as { resources: unknown[] }).resources.length;
  const generatedRatio = generated.seconds / floor.seconds;
  const rss = generated.peakRssMb ?? Number.NaN;
  report(
    "generated",
    generatedRatio <= 3 && rss <= 400,
    `bench/generate.ts, ${REPOSITORIES} repositories x 3 environments, ${registrations} registrations: ${generated.seconds.toFixed(2)} s = ${generatedRatio.toFixed(2)}x floor (target <= 3x), peak RSS ${rss.toFixed(0)} MB (target <= 400 MB; ${runsOf(generated)})`,
  );

  const cliRatio = cli.seconds / prod.seconds;
  const cliRss = cli.peakRssMb ?? Number.NaN;
  report(
    "cli",
    cliRatio <= 3 && cliRss <= 300,
    `the prod stack loaded as the Pulumi CLI loads it (bench/languageHost.js, every loader cache empty): ${cli.seconds.toFixed(2)} s = ${cliRatio.toFixed(2)}x the offline plan (target <= 3x), peak RSS ${cliRss.toFixed(0)} MB (target <= 300 MB; ${runsOf(cli)})`,
  );

  if (args.skipTest) print(`${"npm test".padEnd(10)} skipped (--skip-test)`);
  else {
    const [test] = measure([{ label: "npm test", command: "npm", args: ["test"], mayFail: true }], args.runs);
    const failed = test.statuses.filter((status) => status !== 0).length;
    const outcome = failed === 0 ? "tests passed" : `tests FAILED in ${failed} of ${test.statuses.length} runs`;
    report("npm test", test.seconds <= 60 && failed === 0, `npm test: ${test.seconds.toFixed(1)} s, ${outcome} (target <= 60 s; ${runsOf(test)})`);
  }

  print(`load average ${load()} at the end; ${failures.length === 0 ? "every target met" : `targets missed: ${failures.join(", ")}`}`);
  return failures.length === 0 ? 0 : 1;
}

process.exitCode = main();
