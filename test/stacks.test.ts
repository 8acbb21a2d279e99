import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { readStackSet } from "../config/stackSet";
import { policies } from "../policy/policies";
import { dueInHour, policyConfig, scheduledHour } from "../scripts/stacks";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";

const FIXTURES = path.join(__dirname, "fixtures", "pipeline");
const STACKS = path.join(__dirname, "..", "scripts", "stacks.ts");
const hour = (iso: string) => new Date(iso);

test("a drift schedule is due in the hours its hour, day and month fields match; the minute is ignored", () => {
  assert.equal(dueInHour("0 5 * * *", hour("2026-12-01T05:00:00Z")), true);
  assert.equal(dueInHour("47 5 * * *", hour("2026-12-01T05:00:00Z")), true);
  assert.equal(dueInHour("0 5 * * *", hour("2026-12-01T06:00:00Z")), false);
  assert.equal(dueInHour("0 */6 * * *", hour("2026-12-01T12:00:00Z")), true);
  assert.equal(dueInHour("0 */6 * * *", hour("2026-12-01T13:00:00Z")), false);
  // 2026-12-06 is a Sunday: 0 and 7 both name it.
  assert.equal(dueInHour("0 3 * * 0", hour("2026-12-06T03:00:00Z")), true);
  assert.equal(dueInHour("0 3 * * 7", hour("2026-12-06T03:00:00Z")), true);
  assert.equal(dueInHour("0 3 * * MON-FRI", hour("2026-12-06T03:00:00Z")), false);
  assert.equal(dueInHour("0 3 * DEC 1-5", hour("2026-12-01T03:00:00Z")), true);
  // As in cron, restricted day-of-month and day-of-week match either.
  assert.equal(dueInHour("0 3 15 * 0", hour("2026-12-06T03:00:00Z")), true);
});

test("a scheduled run started late still belongs to the hour it was scheduled in", () => {
  assert.equal(scheduledHour(hour("2026-12-01T05:23:00Z")).toISOString(), "2026-12-01T05:00:00.000Z");
  assert.equal(scheduledHour(hour("2026-12-01T06:22:59Z")).toISOString(), "2026-12-01T05:00:00.000Z");
  assert.equal(scheduledHour(hour("2026-12-01T06:23:00Z")).toISOString(), "2026-12-01T06:00:00.000Z");
});

test("stacks deploy stage by stage, and a stack after the one whose registry it promotes from", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "order-"));
  for (const f of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
  // A second staging stack named to sort first, promoting from staging's registry.
  const staging = fs.readFileSync(path.join(FIXTURES, "Pulumi.staging.yaml"), "utf8");
  fs.writeFileSync(
    path.join(dir, "Pulumi.a-staging.yaml"),
    staging
      .replace(/contoso-release-staging/g, "contoso-release-a")
      .replace(/name: contosostagingacr\n/, "name: contosoaacr\n      importFrom: [{ name: contosostagingacr, resourceGroup: contoso-release-staging }]\n")
      .replace(/      purge:[\s\S]*?untaggedOnly: false\n/, "")
      .replace(/pullFromRegistry: true/, "pullFromRegistry: false")
      .replace(/name: shop-staging/g, "name: shop-a")
      .replace(/namespace: shop-staging/, "namespace: shop-a")
      .replace(/- name: staging\n/, "- name: staging-a\n")
      .replace(/registry: push/, "registry: promote"),
  );
  const set = readStackSet(dir);
  assert.deepEqual(set.stacks.map((s) => `${s.order} ${s.stack} ${s.config.stage}`), ["0 dev dev", "1 staging staging", "2 a-staging staging", "3 prod prod"]);
  assert.equal(set.pipeline?.stack, "pipeline");
});

test("drift schedules default by stage and come from the pipeline stack when it sets one", () => {
  const set = readStackSet(FIXTURES);
  assert.deepEqual(Object.fromEntries(set.stacks.map((s) => [s.stack, s.drift])), { dev: "0 5 * * *", staging: "0 5 * * *", prod: "0 * * * *" });
});

test("the policy config gives every stage-dependent policy the stack's stage, and only those", () => {
  const config = policyConfig({ stage: "dev", pipelineStack: false });
  const withStage = policies.filter((p) => p.configSchema?.properties?.stage).map((p) => p.name).sort();
  assert.deepEqual(Object.keys(config).sort(), withStage);
  assert.ok(withStage.includes("prod-stateful-resources-protected") && withStage.includes("azure-role-assignment-resource-scope"));
  assert.ok(Object.values(config).every((c) => c.stage === "dev" && c.pipelineStack === false));
});

test("--policy-config reads the stage from the stack file, not from the stack name", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "named-"));
  for (const f of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
  fs.renameSync(path.join(dir, "Pulumi.dev.yaml"), path.join(dir, "Pulumi.dev-eu.yaml"));
  const run = (stack: string) => spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, STACKS, "--dir", dir, "--policy-config", stack], { encoding: "utf8" });
  const devEu = run("dev-eu");
  assert.equal(devEu.status, 0, devEu.stderr);
  assert.equal(JSON.parse(devEu.stdout)["prod-stateful-resources-protected"].stage, "dev");
  assert.equal(JSON.parse(run("pipeline").stdout)["azure-role-assignment-resource-scope"].pipelineStack, true);
  const unknown = run("qa");
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /--policy-config qa: no stack file Pulumi\.qa\.yaml here/);
});

test("invalid stack files stop the setup with one line per problem and exit 2", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "invalid-"));
  fs.copyFileSync(path.join(FIXTURES, "Pulumi.dev.yaml"), path.join(dir, "Pulumi.dev.yaml"));
  fs.writeFileSync(path.join(dir, "Pulumi.qa.yaml"), "config:\n  release-infra:stage: qa\n");
  const run = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, STACKS, "--dir", dir, "--json"], { encoding: "utf8" });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /^Pulumi\.qa\.yaml: release-infra:stage: must be one of "dev", "staging", "prod", got string "qa"/m);
});
