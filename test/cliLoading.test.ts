import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as ts from "typescript";
import { parse } from "yaml";

const ROOT = path.resolve(__dirname, "..");

test("the Pulumi CLI loads the program with a tsconfig whose own compilerOptions turn type checking off", () => {
  const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { runtime: { options: Record<string, unknown> } };
  assert.equal(project.runtime.options.typescript, true);
  const tsconfig = project.runtime.options.tsconfig;
  assert.equal(typeof tsconfig, "string");
  // @pulumi/pulumi's cmd/run/run.js reads `noCheck` from this file's own compilerOptions, not from a file it extends.
  const own = ts.parseConfigFileTextToJson(String(tsconfig), fs.readFileSync(path.join(ROOT, String(tsconfig)), "utf8")).config as { extends?: string; compilerOptions?: Record<string, unknown> };
  assert.equal(own.compilerOptions?.noCheck, true);
  assert.equal(own.extends, "./tsconfig.json", "otherwise the same compiler options as npm test's type check");
});

test("loaded as the Pulumi CLI loads it (Pulumi's ts-node, the Pulumi tsconfig, an empty cache), the program runs under the mock runtime", () => {
  const run = spawnSync(process.execPath, [path.join(ROOT, "bench", "languageHost.js"), path.join(__dirname, "fixtures", "org", "Pulumi.prod.yaml")], { encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.ok(Number(run.stdout) > 50, run.stdout);
});
