import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import * as github from "@pulumi/github";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import { REPLACEMENT_RULES } from "../scripts/lib/review/replacement";
import { build, named } from "./harness";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";

const ROOT = path.resolve(__dirname, "..");
const PLAN = path.join(ROOT, "scripts", "plan.ts");
const fixture = (...parts: string[]) => path.join(ROOT, "test", "fixtures", ...parts);

function planJson(args: string[], cwd = ROOT): { stacks?: { resources: { type: string; custom: boolean }[] }[]; resources?: { type: string; custom: boolean }[] } {
  const run = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, PLAN, ...args, "--json"], { cwd, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

test("every cloud resource type the program registers has replacement rules", () => {
  const all = planJson(["--all"], fixture("org"));
  const masking = planJson(["--config", fixture("stacks", "Pulumi.masking.yaml")]);
  const review = planJson(["--config", fixture("review", "head", "Pulumi.prod.yaml")]);
  // DNS-authorized certificates (Certificate Manager) and a registry purge task.
  const navi = planJson(["--config", fixture("systems", "navi", "Pulumi.prod.yaml")]);
  const consolidated = planJson(["--config", fixture("systems", "consolidated", "Pulumi.staging.yaml")]);
  const types = new Set(
    [...(all.stacks ?? []).flatMap((s) => s.resources), ...(masking.resources ?? []), ...(review.resources ?? []), ...(navi.resources ?? []), ...(consolidated.resources ?? [])]
      .filter((r) => r.custom && r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("kubernetes:"))
      .map((r) => r.type),
  );
  const missing = [...types].filter((t) => !(t in REPLACEMENT_RULES));
  assert.deepEqual(missing, [], "add the provider's ForceNew/path attributes to scripts/lib/review/replacement.ts");
});

test("the mocks record a resource's name aliases and replaceOnChanges, and leave out the SDKs' type-only aliases", async () => {
  const { resources } = await build(
    () => {
      new github.ActionsVariable("renamed", { repository: "web", variableName: "X", value: "1" }, { aliases: [{ name: "original" }], replaceOnChanges: ["value"] });
      // azure-native adds one type alias per API version: not a rename.
      new managedidentity.UserAssignedIdentity("identity", { resourceGroupName: "rg", resourceName: "id-web" });
    },
    { preview: true },
  );
  const renamed = named(resources, "github:index/actionsVariable:ActionsVariable", "renamed");
  assert.deepEqual(renamed.aliases, ["urn:pulumi:dev::release-infra::github:index/actionsVariable:ActionsVariable::original"]);
  assert.deepEqual(renamed.replaceOnChanges, ["value"]);
  assert.deepEqual(named(resources, "azure-native:managedidentity:UserAssignedIdentity", "identity").aliases, []);
});
