import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";
import { duplicateUrnProblems } from "../scripts/lib/duplicateUrns";

const ROOT = path.resolve(__dirname, "..");
const FIXTURE = path.join("test", "fixtures", "duplicate-urn", "Pulumi.dev.yaml");

test("the offline plan refuses a duplicate URN as the engine does, naming the config entries that gave it", () => {
  const run = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, path.join(ROOT, "scripts", "plan.ts"), "--config", FIXTURE, "--stack", "dev"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(run.status, 2, run.stderr);
  assert.equal(run.stdout, "", "nothing is planned");
  const lines = run.stderr.trim().split("\n");
  assert.equal(lines.length, 1, run.stderr);
  const env = "release-infra:github.repositories[shop].environments[dev]";
  assert.ok(lines[0].startsWith(`${FIXTURE}: ${env}.deployFrom.branches[0] and ${env}.deployFrom.branches[1]: `), lines[0]);
  assert.match(lines[0], /Pulumi refuses a duplicate resource URN \(urn:pulumi:dev::release-infra::.*::repo-shop-env-dev-branch-main\)/);
});

test("an alias that names another resource's URN is refused, as the engine refuses it", () => {
  const urn = (name: string) => `urn:pulumi:dev::release-infra::github:index/actionsVariable:ActionsVariable::${name}`;
  const values = { "release-infra:github": { repositories: [{ name: "shop", variables: { NEW: "1", OLD: "2" } }] } };
  const problems = duplicateUrnProblems(
    [
      { urn: urn("repo-shop-var-old"), type: "github:index/actionsVariable:ActionsVariable", name: "repo-shop-var-old", aliases: [] },
      { urn: urn("repo-shop-var-new"), type: "github:index/actionsVariable:ActionsVariable", name: "repo-shop-var-new", aliases: [urn("repo-shop-var-old")] },
    ],
    values,
    "Pulumi.dev.yaml",
  );
  assert.equal(problems.length, 1);
  assert.match(problems[0], /^Pulumi\.dev\.yaml: .*"repo-shop-var-new" keeps the state of its earlier name .*repo-shop-var-old, which another resource of this stack has now/);
});

test("unique URNs and aliases to names no longer in use pass", () => {
  const urn = (name: string) => `urn:pulumi:dev::release-infra::t:m:T::${name}`;
  assert.deepEqual(duplicateUrnProblems([{ urn: urn("a"), type: "t:m:T", name: "a", aliases: [urn("gone")] }, { urn: urn("b"), type: "t:m:T", name: "b", aliases: [] }], {}, "f"), []);
});
