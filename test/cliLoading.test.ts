import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as ts from "typescript";
import { parse } from "yaml";

const ROOT = path.resolve(__dirname, "..");

test("the Pulumi CLI loads the program through scripts/register.js, with no type check and no ts-node of its own", () => {
  const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { runtime: { options: Record<string, unknown> } };
  const { typescript, nodeargs, tsconfig } = project.runtime.options;
  // typescript: false keeps @pulumi/pulumi's run.js from registering its ts-node, which would load every .ts file first.
  assert.equal(typescript, false);
  assert.equal(tsconfig, undefined);
  const required = /^--require (\S+)$/.exec(String(nodeargs))?.[1];
  assert.equal(required, "./scripts/register.js", "resolved from the project directory, where the language host starts node");
  assert.ok(fs.existsSync(path.join(ROOT, required)));
  // The loader transpiles what tsconfig.json says, and npm test type-checks with the same file.
  assert.equal((ts.readConfigFile(path.join(ROOT, "tsconfig.json"), ts.sys.readFile).config as { compilerOptions: { strict?: boolean } }).compilerOptions.strict, true);
});

test("loaded as the Pulumi CLI loads it (Pulumi.yaml's runtime options, empty caches), the program runs under the mock runtime", () => {
  const run = spawnSync(process.execPath, [path.join(ROOT, "bench", "languageHost.js"), path.join(__dirname, "fixtures", "org", "Pulumi.prod.yaml")], { encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.ok(Number(run.stdout) > 50, run.stdout);
});
