// @ts-check
"use strict";
/**
 * Loads and runs the program the way `pulumi preview` does, under the mock runtime:
 *
 *   node bench/languageHost.js STACK_FILE
 *
 * The Pulumi CLI's Node.js language host sets PULUMI_NODEJS_TYPESCRIPT and, from Pulumi.yaml's
 * runtime option `tsconfig`, PULUMI_NODEJS_TSCONFIG_PATH (pulumi/pulumi
 * sdk/nodejs/cmd/pulumi-language-nodejs/main.go); @pulumi/pulumi's cmd/run/run.js then registers
 * ts-node with the options below (run.js, the `if (typeScript)` block: the tsconfig's own
 * compilerOptions, `transpileOnly` from PULUMI_NODEJS_TRANSPILE_ONLY or else its `noCheck`) and
 * requires the program. Here the program is required by the offline plan (scripts/lib/planStack.ts),
 * itself loaded through that ts-node, so every TypeScript file is compiled as the CLI compiles it.
 * ts-node's cache starts empty, as on a fresh CI runner. Prints the number of registrations.
 */
const fs = require("fs");
const os = require("os");
const path = require("path");
const { parse } = require("yaml");

const ROOT = path.resolve(__dirname, "..");
const file = process.argv[2];
if (!file) throw new Error("usage: node bench/languageHost.js STACK_FILE");

/** @type {{ runtime: { options?: { typescript?: boolean, tsconfig?: string } } }} */
const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
const options = project.runtime.options ?? {};
process.chdir(ROOT);
if (options.typescript !== false) process.env.PULUMI_NODEJS_TYPESCRIPT = "true";
if (options.tsconfig) process.env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
const cache = fs.mkdtempSync(path.join(os.tmpdir(), "release-infra-ts-node-"));
process.env.TS_NODE_CACHE_DIRECTORY = cache;
process.once("exit", () => fs.rmSync(cache, { recursive: true, force: true }));

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

/** @type {{ planStack(file: string, stack: string, display: string): Promise<{ resources: unknown[] }> }} */
const { planStack } = require(path.join(ROOT, "scripts", "lib", "planStack"));
const stack = path.basename(file).replace(/^Pulumi\.(.+)\.ya?ml$/, "$1");
planStack(path.resolve(file), stack, path.basename(file)).then(
  (plan) => process.stdout.write(`${plan.resources.length}\n`, () => process.exit(0)),
  (err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
