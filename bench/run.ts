/**
 * The performance targets of the offline plan and the test suite, measured on this machine:
 *
 *   npm run bench [-- --runs N] [--skip-test]
 *
 * Each command runs once to warm the caches (scripts/register.js), then N times (default 5, at
 * least 3); figures are medians of wall time. Ratios are to the floor, `node -e
 * 'require("@pulumi/pulumi")'`. Other load on the machine inflates every figure: the load average
 * is printed before and after.
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

/** One warm-up run, then `runs` measured ones. */
function measure(label: string, runs: number, command: string, args: string[], rssOf?: string, mayFail = false): Measured {
  process.stderr.write(`${label}: warm-up`);
  const warm = run(command, args, rssOf, mayFail);
  const results: Run[] = [];
  for (let i = 0; i < runs; i++) {
    process.stderr.write(` ${i + 1}`);
    results.push(run(command, args, rssOf, mayFail));
  }
  process.stderr.write("\n");
  const peaks = results.flatMap((r) => (r.peakRssMb === undefined ? [] : [r.peakRssMb]));
  return {
    seconds: median(results.map((r) => r.seconds)),
    statuses: results.map((r) => r.status),
    peakRssMb: peaks.length > 0 ? median(peaks) : undefined,
    runs: results.map((r) => r.seconds),
    stdout: warm.stdout,
  };
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

  const floor = measure("floor", args.runs, process.execPath, ["-e", 'require("@pulumi/pulumi")']);
  print(`${"floor".padEnd(10)} node -e 'require("@pulumi/pulumi")': ${floor.seconds.toFixed(2)} s (${runsOf(floor)})`);

  const prod = measure("prod", args.runs, "npm", ["run", "-s", "plan", "--", "--stack", "prod", "--json"]);
  const prodRatio = prod.seconds / floor.seconds;
  report("prod", prodRatio <= 1.5, `npm run -s plan -- --stack prod --json: ${prod.seconds.toFixed(2)} s = ${prodRatio.toFixed(2)}x floor (target <= 1.5x; ${runsOf(prod)})`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "release-infra-bench-"));
  const file = path.join(dir, "Pulumi.bench.yaml");
  fs.writeFileSync(file, generatedStackFile(REPOSITORIES));
  const generated = measure("generated", args.runs, "npm", ["run", "-s", "plan", "--", "--config", file, "--json"], "scripts/plan.ts");
  fs.rmSync(dir, { recursive: true, force: true });
  const registrations = (JSON.parse(generated.stdout) as { resources: unknown[] }).resources.length;
  const generatedRatio = generated.seconds / floor.seconds;
  const rss = generated.peakRssMb ?? Number.NaN;
  report(
    "generated",
    generatedRatio <= 3 && rss <= 400,
    `bench/generate.ts, ${REPOSITORIES} repositories x 3 environments, ${registrations} registrations: ${generated.seconds.toFixed(2)} s = ${generatedRatio.toFixed(2)}x floor (target <= 3x), peak RSS ${rss.toFixed(0)} MB (target <= 400 MB; ${runsOf(generated)})`,
  );

  if (args.skipTest) print(`${"npm test".padEnd(10)} skipped (--skip-test)`);
  else {
    const test = measure("npm test", args.runs, "npm", ["test"], undefined, true);
    const failed = test.statuses.filter((status) => status !== 0).length;
    const outcome = failed === 0 ? "tests passed" : `tests FAILED in ${failed} of ${test.statuses.length} runs`;
    report("npm test", test.seconds <= 60 && failed === 0, `npm test: ${test.seconds.toFixed(1)} s, ${outcome} (target <= 60 s; ${runsOf(test)})`);
  }

  print(`load average ${load()} at the end; ${failures.length === 0 ? "every target met" : `targets missed: ${failures.join(", ")}`}`);
  return failures.length === 0 ? 0 : 1;
}

process.exitCode = main();
