import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";

// The stack files a fork commits (the root ones and each examples/ folder) are only checked to
// plan and pass the policy pack: whatever organisation they describe, they must be deployable.
const ROOT = path.resolve(__dirname, "..");
const PLAN = path.join(ROOT, "scripts", "plan.ts");

const hasStackFiles = (dir: string) => fs.existsSync(dir) && fs.readdirSync(dir).some((f) => /^Pulumi\..+\.ya?ml$/.test(f));
const exampleDirs = fs.existsSync(path.join(ROOT, "examples"))
  ? fs.readdirSync(path.join(ROOT, "examples")).map((d) => path.join(ROOT, "examples", d)).filter(hasStackFiles)
  : [];

for (const dir of [ROOT, ...exampleDirs]) {
  const name = path.relative(ROOT, dir) || "the repository root";
  test(`the stack files of ${name} plan together with no mandatory policy finding`, { skip: !hasStackFiles(dir) && "no stack files" }, () => {
    const run = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, PLAN, "--all", "--policy", "--json"], { cwd: dir, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    assert.equal(run.status, 0, run.stderr || run.stdout.slice(-2000));
    const doc = JSON.parse(run.stdout) as { stacks: { stack: string; policy: { enforcement: string }[] }[] };
    assert.ok(doc.stacks.length > 0);
    for (const stack of doc.stacks) assert.deepEqual(stack.policy.filter((v) => v.enforcement === "mandatory"), [], stack.stack);
  });
}
