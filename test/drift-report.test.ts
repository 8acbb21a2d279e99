import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { driftReport, InputError, parsePreview, type PreviewDocument } from "../scripts/drift-report";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";

const ROOT = path.resolve(__dirname, "..");
const fixture = (name: string) => fs.readFileSync(path.join(__dirname, "fixtures", name), "utf8");
const reportOf = (name: string, stack: string) => driftReport(parsePreview(fixture(name)), stack);

/** Runs the command as the drift workflow does: preview JSON on stdin, report on stdout. */
function runCommand(input: string, args = ["--stack", "prod"]) {
  return spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, "scripts/drift-report.ts", ...args], { cwd: ROOT, input, encoding: "utf8" });
}

const headings = (markdown: string) => markdown.split("\n").filter((line) => line.startsWith("### ") && line !== "### Diagnostics");

test("an update lists each changed property with the cloud's value and the program's value", () => {
  const { markdown } = reportOf("preview-drift.json", "prod");
  assert.match(markdown, /### ~ update `azure-native:containerregistry:Registry` `acmeprodacr`/);
  assert.ok(markdown.includes("| `adminUserEnabled` | `true` | `false` |"));
  assert.ok(markdown.includes('| `tags.team` | `"web"` | `"platform"` |'));
});

test("a replacement names the property that forces it", () => {
  const { markdown } = reportOf("preview-drift.json", "prod");
  assert.match(markdown, /### \+- replace `gcp:compute\/managedSslCertificate:ManagedSslCertificate` `cdn-cert`/);
  assert.ok(markdown.includes('| `managed.domains[1]` (forces replacement) | `"assets.acme.example"` | _(none)_ |'));
});

test("a resource missing from the stack is reported as a create and a removed one as a delete", () => {
  const { markdown } = reportOf("preview-drift.json", "prod");
  assert.match(markdown, /### \+ create `github:index\/repositoryEnvironment:RepositoryEnvironment` `shop-production`/);
  assert.match(markdown, /### - delete `github:index\/actionsEnvironmentVariable:ActionsEnvironmentVariable` `shop-production-LEGACY_DEPLOY`/);
});

test("unchanged resources are left out and every change gets one section", () => {
  const { markdown } = reportOf("preview-drift.json", "prod");
  assert.equal(headings(markdown).length, 4);
  assert.ok(!markdown.includes("release-infra-prod"), "the root stack (op same) must not be listed");
});

test("the summary counts operations from changeSummary without the same resources", () => {
  const { markdown } = reportOf("preview-drift.json", "prod");
  assert.ok(markdown.includes("| operation | resources |\n|---|---|\n| create | 1 |\n| delete | 1 |\n| replace | 1 |\n| update | 1 |\n"));
  assert.ok(!markdown.includes("| same |"));
});

test("warnings from the preview are listed, informational messages are not", () => {
  const drift = reportOf("preview-drift.json", "prod").markdown;
  assert.match(drift, /- \*\*warning\*\* `acmeprodacr`: Registry acmeprodacr: the admin user is enabled/);
  assert.ok(!reportOf("preview-clean.json", "dev").markdown.includes("offline-safe defaults"));
});

test("secret values never reach the report, whether printed as [secret] or in the wire format", () => {
  const { markdown } = reportOf("preview-secrets.json", "staging");
  assert.ok(markdown.includes("| `plaintextValue` | `[secret]` | `[secret]` |"));
  assert.ok(markdown.includes("| `stringData.password` | `[secret]` | `[secret]` |"));
  assert.ok(!markdown.includes("sig-wrapped"), "a value under a secret signature leaked");
  assert.ok(!markdown.includes("1b47061264138c4ac30d75fd1eb44270"));
});

test("a value stored in plain text is masked when the other side of the diff is secret", () => {
  const { markdown } = reportOf("preview-secrets.json", "staging");
  assert.match(markdown, /### ~ update `github:index\/actionsSecret:ActionsSecret` `shop-NPM_TOKEN`\n\n\| property[^\n]*\n[^\n]*\n\| `plaintextValue` \| `\[secret\]` \| `\[secret\]` \|/);
  assert.ok(!markdown.includes("npm_Q3vT"), "the old plaintext token leaked");
});

test("a non-secret change next to a secret one still shows its values", () => {
  const { markdown } = reportOf("preview-secrets.json", "staging");
  assert.ok(markdown.includes('| `metadata.labels["app.kubernetes.io/managed-by"]` | `"kubectl"` | `"pulumi"` |'));
});

test("a preview without changes is no drift and says so", () => {
  const report = reportOf("preview-clean.json", "dev");
  assert.equal(report.drift, false);
  assert.match(report.markdown, /^## No drift in stack `dev`/);
  assert.deepEqual(headings(report.markdown), []);
});

test("replacement sub-steps are folded into their replace step", () => {
  const urn = "urn:pulumi:dev::release-infra::gcp:compute/globalAddress:GlobalAddress::cdn-ip";
  const state = { type: "gcp:compute/globalAddress:GlobalAddress", inputs: { ipVersion: "IPV4" }, outputs: { ipVersion: "IPV6" } };
  const doc: PreviewDocument = {
    steps: ["create-replacement", "replace", "delete-replaced"].map((op) => ({
      op,
      urn,
      oldState: state,
      newState: state,
      replaceReasons: ["ipVersion"],
      detailedDiff: { ipVersion: { kind: "update-replace", inputDiff: false } },
    })),
  };
  const { markdown } = driftReport(doc, "dev");
  assert.deepEqual(headings(markdown), ["### +- replace `gcp:compute/globalAddress:GlobalAddress` `cdn-ip`"]);
  assert.ok(markdown.includes('| `ipVersion` (forces replacement) | `"IPV6"` | `"IPV4"` |'));
});

test("without a detailed diff the top-level diff reasons are reported", () => {
  const doc: PreviewDocument = {
    steps: [
      {
        op: "update",
        urn: "urn:pulumi:dev::release-infra::kubernetes:core/v1:ResourceQuota::shop-quota",
        oldState: { type: "kubernetes:core/v1:ResourceQuota", outputs: { spec: { hard: { pods: "30" } } } },
        newState: { type: "kubernetes:core/v1:ResourceQuota", inputs: { spec: { hard: { pods: "60" } } } },
        diffReasons: ["spec"],
        detailedDiff: null,
      },
    ],
  };
  assert.ok(driftReport(doc, "dev").markdown.includes('| `spec` | `{"hard":{"pods":"30"}}` | `{"hard":{"pods":"60"}}` |'));
});

test("the offline plan's JSON is not mistaken for a preview", () => {
  const plan = JSON.stringify({ project: "release-infra", stack: "dev", resources: [], outputs: {}, warnings: [] });
  assert.throws(() => parsePreview(plan), (err: unknown) => err instanceof InputError && /neither steps nor changeSummary/.test(err.message));
});

test("the command exits 1 and prints the report when the stack drifted", () => {
  const result = runCommand(fixture("preview-drift.json"));
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stdout, /^## Drift in stack `prod`/);
});

test("the command exits 0 when nothing changed", () => {
  const result = runCommand(fixture("preview-clean.json"), ["--stack", "dev"]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^## No drift in stack `dev`/);
});

test("input that is not JSON exits 2 with one line on stderr and no report", () => {
  const result = runCommand("error: could not load plugin azure-native\n");
  assert.equal(result.status, 2);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /^drift-report: stdin is not JSON[^\n]*\n$/);
});

test("JSON of the wrong shape exits 2 naming the offending field", () => {
  const result = runCommand(JSON.stringify({ steps: [{ op: "update" }] }));
  assert.equal(result.status, 2);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /^drift-report: stdin is not a `pulumi preview --json` document: steps\.0\.urn: [^\n]*\n$/);
});

test("empty input exits 2", () => {
  const result = runCommand("");
  assert.equal(result.status, 2);
  assert.match(result.stderr, /^drift-report: stdin is empty/);
});

test("a missing --stack exits 2 with the usage", () => {
  const result = runCommand(fixture("preview-clean.json"), []);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /^drift-report: usage: npm run drift-report -- --stack NAME/);
});

test("a preview failed by its checks is drift: each deployment policy or environment secret added by hand is listed with its fix", () => {
  const { drift, markdown } = reportOf("preview-hand-made.json", "prod");
  assert.equal(drift, true);
  const listed = markdown.split("\n").filter((line) => line.startsWith("- "));
  assert.equal(listed.length, 2);
  assert.match(listed[0], /^- GitHub environment acme\/shop:production has the branch policy \*, which deployFrom does not list: .* or delete it: gh api -X DELETE /);
  assert.match(listed[1], /^- the adopted GitHub environment acme\/shop:pypi has the secret PYPI_API_TOKEN, .* gh secret delete PYPI_API_TOKEN --env pypi --repo acme\/shop$/);
  assert.ok(markdown.includes("### Found by the preview's checks"));
});

test("the command exits 1 when the preview's checks failed", () => {
  const run = runCommand(fixture("preview-hand-made.json"));
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stdout, /gh secret delete PYPI_API_TOKEN/);
});

test("a preview that failed for another reason than its checks is a broken run: exit 2, no report", () => {
  const broken = JSON.parse(fixture("preview-hand-made.json")) as PreviewDocument;
  broken.diagnostics = [{ severity: "error", message: "error: failed to load checkpoint: blob (key \".pulumi/stacks/release-infra/prod.json\") (code=Unknown): AuthorizationPermissionMismatch" }];
  const run = runCommand(JSON.stringify(broken));
  assert.equal(run.status, 2);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /^drift-report: the preview failed for another reason than its checks .*a broken run, not drift\n$/);
});
