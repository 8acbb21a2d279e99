import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import type { PlanDocument } from "../scripts/lib/planStack";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";

// Everything made for an environment keeps its URN when the environment's name changes case or the
// environment moves between environments and trustedPublishing: through the plan command, on the
// test's own stack file, whose repository and environments have access of every kind.
const ROOT = path.resolve(__dirname, "..");
const PLAN = path.join(ROOT, "scripts", "plan.ts");
const FIXTURE = path.join(ROOT, "test", "fixtures", "identity", "Pulumi.prod.yaml");
const TEXT = fs.readFileSync(FIXTURE, "utf8");

/** The plan JSON of the fixture after `edit`, as `plan --config FILE --json` prints it. */
function planOf(edit: (text: string) => string): Promise<PlanDocument> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "identity-"));
  const file = path.join(dir, "Pulumi.prod.yaml");
  fs.writeFileSync(file, edit(TEXT).replace("../../../stack-config.schema.json", path.join(ROOT, "stack-config.schema.json")));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...FAST_TS_NODE_ARGS, PLAN, "--config", file, "--json"], { cwd: ROOT });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("close", (code) => {
      fs.rmSync(dir, { recursive: true, force: true });
      if (code !== 0) reject(new Error(`plan exited ${code}:\n${Buffer.concat(err).toString("utf8")}`));
      else resolve(JSON.parse(Buffer.concat(out).toString("utf8")) as PlanDocument);
    });
  });
}

const asWritten = planOf((t) => t);
const recased = planOf((t) => t.replace("- name: production", "- name: Production").replace("- name: Shop.App", "- name: shop.app"));
const moved = planOf((t) =>
  t
    .replace(/          - name: pypi\n            reviewers: \{ teams: \[release-managers\] \}\n            deployFrom: \{ tags: \["v\*"\] \}\n/, "")
    .replace(
      "        rulesets:",
      '        trustedPublishing:\n          - { registry: pypi, package: acme-shop, workflow: release.yml, environment: pypi, deployFrom: { tags: ["v*"] }, reviewers: { teams: [release-managers] } }\n        rulesets:',
    ),
);

const urns = (doc: PlanDocument) => doc.resources.map((r) => r.urn).sort();

test("changing the case of an environment's and a repository's name keeps every URN, CI identities and grants included", async () => {
  const [before, after] = await Promise.all([asWritten, recased]);
  assert.ok(urns(before).some((u) => u.includes("CiIdentity")));
  assert.deepEqual(urns(after), urns(before));
});

test("changing the case of an environment's name keeps the names of its Azure identity, federated credentials and GCP account", async () => {
  const [before, after] = await Promise.all([asWritten, recased]);
  const names = (doc: PlanDocument) =>
    doc.resources
      .filter((r) => /UserAssignedIdentity|FederatedIdentityCredential|serviceaccount\/account/.test(r.type))
      .map((r) => [r.inputs.resourceName, r.inputs.federatedIdentityCredentialResourceName, r.inputs.accountId]);
  assert.deepEqual(names(after), names(before));
});

test("moving an environment from environments to trustedPublishing keeps the URNs of the environment and its policies", async () => {
  const [before, after] = await Promise.all([asWritten, moved]);
  const pypi = (doc: PlanDocument) => urns(doc).filter((u) => u.includes("-env-pypi"));
  assert.equal(pypi(before).length, 3);
  assert.deepEqual(pypi(after), pypi(before));
});

test("stacks created before names came from lower-cased keys keep their state: each URN they had is a URN or an alias now", async () => {
  // The fixture's URNs as commit 6ea9d5e planned them, when names carried the case as written.
  const old: string[] = JSON.parse(fs.readFileSync(path.join(ROOT, "test", "fixtures", "urns", "identity-before-lowercase-keys.json"), "utf8"));
  const doc = await asWritten;
  const known = new Set([...urns(doc), ...doc.resources.flatMap((r) => r.aliases)]);
  assert.deepEqual(old.filter((u) => !known.has(u)), []);
  assert.ok(old.some((u) => u.includes("ci-Shop.App-production")));
});
