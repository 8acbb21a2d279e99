// @ts-check
"use strict";
/**
 * Loads and runs the program the way `pulumi preview` does, under the mock runtime:
 *
 *   node bench/languageHost.js STACK_FILE
 *
 * The Pulumi CLI's Node.js language host starts `node [nodeargs] @pulumi/pulumi/cmd/run` from the
 * project directory with Pulumi.yaml's runtime options: `nodeargs` on node's command line, and
 * `typescript` (PULUMI_NODEJS_TYPESCRIPT) and `tsconfig` (PULUMI_NODEJS_TSCONFIG_PATH) for run.js,
 * which registers its ts-node only when `typescript` is on (run.js, the `if (typeScript)` block)
 * and then requires the program. This script starts itself the same way, with every cache the
 * loaders keep (scripts/register.js's in TMPDIR, ts-node's) empty, as on a fresh CI runner; the
 * child does what run.js does, except that the program is required by the offline plan
 * (scripts/lib/planStack.ts), loaded through the same loader. Prints the number of registrations.
 */
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { parse } = require("yaml");

const ROOT = path.resolve(__dirname, "..");
const CHILD = "--as-run-js";

if (process.argv[2] !== CHILD) {
  const file = process.argv[2];
  if (!file) throw new Error("usage: node bench/languageHost.js STACK_FILE");
  /** @type {{ runtime: { options?: { typescript?: boolean, tsconfig?: string, nodeargs?: string } } }} */
  const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
  const options = project.runtime.options ?? {};
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), "release-infra-cold-"));
  const env = {
    ...process.env,
    TMPDIR: cache,
    TS_NODE_CACHE_DIRECTORY: cache,
    PULUMI_NODEJS_TYPESCRIPT: String(options.typescript !== false),
    ...(options.tsconfig ? { PULUMI_NODEJS_TSCONFIG_PATH: options.tsconfig } : {}),
  };
  const nodeargs = (options.nodeargs ?? "").split(/\s+/).filter((a) => a !== "");
  const child = spawnSync(process.execPath, [...nodeargs, __filename, CHILD, path.resolve(file)], { cwd: ROOT, env, stdio: "inherit" });
  fs.rmSync(cache, { recursive: true, force: true });
  process.exit(child.status ?? 1);
}

const file = process.argv[3];
if (process.env.PULUMI_NODEJS_TYPESCRIPT === "true") {
  const tsConfigPath = process.env.PULUMI_NODEJS_TSCONFIG_PATH ?? "tsconfig.json";
  /**
   * run.js's helpers, by file: their declarations are internal to @pulumi/pulumi.
   * @type {{ loadTypeScriptCompilerOptions(p: string): Record<string, unknown>, typeScriptRequireStrings(): { tsnodeRequire: string, typescriptRequire: string } }}
   */
  const tsutils = require(path.join(path.dirname(require.resolve("@pulumi/pulumi/package.json")), "tsutils.js"));
  const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
  const transpileOnlyEnv = process.env.PULUMI_NODEJS_TRANSPILE_ONLY;
  const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
  require(tsnodeRequire).register({
    compiler: typescriptRequire,
    transpileOnly: transpileOnlyEnv ? transpileOnlyEnv === "true" : compilerOptions.noCheck,
    project: tsConfigPath,
    skipProject: !fs.existsSync(tsConfigPath),
    // TypeScript >= 4.7, as installed: run.js's CommonJS branch.
    compilerOptions: { target: "ES2020", module: "nodenext", moduleResolution: "nodenext", sourceMap: "true", ...compilerOptions },
  });
}

/** @type {{ planStack(file: string, stack: string, display: string): Promise<{ resources: unknown[] }> }} */
const { planStack } = require(path.join(ROOT, "scripts", "lib", "planStack"));
const stack = path.basename(file).replace(/^Pulumi\.(.+)\.ya?ml$/, "$1");
planStack(file, stack, path.basename(file)).then(
  (plan) => process.stdout.write(`${plan.resources.length}\n`, () => process.exit(0)),
  (err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
