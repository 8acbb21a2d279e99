import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";

const ROOT = path.resolve(__dirname, "..");
const PLAN = path.join(ROOT, "scripts", "plan.ts");

/** Runs the plan command as a user would, from `cwd`. */
function plan(args: string[], cwd = ROOT) {
  const run = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, PLAN, ...args], { cwd, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Runs of `plan` for tests that only read the output: each command (arguments and folder) runs once per file. */
const sharedRuns = new Map<string, ReturnType<typeof plan>>();
function sharedPlan(args: string[], cwd = ROOT) {
  const key = JSON.stringify([cwd, ...args]);
  const run = sharedRuns.get(key) ?? plan(args, cwd);
  sharedRuns.set(key, run);
  return run;
}

const fixture = (...parts: string[]) => path.join(ROOT, "test", "fixtures", ...parts);
/** The tests' own organisation (three stacks), so a fork with other stack files stays green. */
const ORG = fixture("org");

test("plan --json prints one document with the contract's fields for every resource", () => {
  const run = sharedPlan(["--stack", "prod", "--json"], ORG);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.deepEqual(Object.keys(doc).sort(), ["githubApiCalls", "invokes", "outputs", "placeholders", "policyConfig", "project", "resources", "stack", "warnings"]);
  assert.equal(doc.project, "release-infra");
  assert.equal(doc.stack, "prod");
  assert.ok(doc.resources.length > 0);
  // Added since the first contract: `provider` (an explicit provider's URN) and `importId` (adopted resources).
  const optional = ["importId", "provider"];
  for (const r of doc.resources) {
    assert.deepEqual(Object.keys(r).filter((k) => !optional.includes(k)).sort(), [
      "aliases",
      "custom",
      "deleteBeforeReplace",
      "dependsOn",
      "ignoreChanges",
      "inputs",
      "name",
      "parent",
      "protect",
      "replaceOnChanges",
      "retainOnDelete",
      "type",
      "urn",
    ]);
    assert.match(r.urn, /^urn:pulumi:prod::release-infra::/);
    if ("provider" in r) assert.match(r.provider, /^urn:pulumi:prod::release-infra::.*pulumi:providers:/);
    if ("importId" in r) assert.ok(typeof r.importId === "string" && r.importId !== "");
    assert.ok(r.parent === null || typeof r.parent === "string");
    assert.ok(Array.isArray(r.dependsOn) && Array.isArray(r.ignoreChanges) && Array.isArray(r.replaceOnChanges) && Array.isArray(r.aliases));
  }
  assert.ok(Array.isArray(doc.warnings));
});

test("the plan is deterministic: the same input gives byte-identical JSON", () => {
  // Two processes: the shared run and one of its own.
  const first = sharedPlan(["--stack", "prod", "--json"], ORG);
  const second = plan(["--stack", "prod", "--json"], ORG);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, second.stdout);
});

test("--config takes the stack name from a Pulumi.<name>.yaml file", () => {
  const run = plan(["--config", path.join(ORG, "Pulumi.staging.yaml"), "--json"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).stack, "staging");
});

test("an unset secret is a plan warning naming the command to set it", () => {
  const run = plan(["--stack", "staging", "--json"], ORG);
  assert.equal(run.code, 0, run.stderr);
  assert.ok(
    JSON.parse(run.stdout).warnings.includes(
      "Pulumi.staging.yaml: release-infra:secrets.STAGING_DATABASE_URL: is not set but release-infra:github.repositories[shop].environments[staging].secrets[0] uses it; run: pulumi config set --secret --path 'release-infra:secrets.STAGING_DATABASE_URL' --stack staging",
    ),
  );
});

test("an invalid config exits 2 with one line per problem and plans nothing", () => {
  const run = plan(["--config", fixture("stacks", "Pulumi.invalid.yaml")]);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.equal(
    run.stderr,
    [
      `test/fixtures/stacks/Pulumi.invalid.yaml: release-infra:azure.registry.name: "mys-prod" must be 5-50 lowercase letters or digits (no hyphens)`,
      "test/fixtures/stacks/Pulumi.invalid.yaml: azure-native:location: is required when release-infra:azure is set (the Azure region, e.g. westeurope)",
      "",
    ].join("\n"),
  );
});

test("malformed YAML exits 2 with the position and no stack trace", () => {
  const run = plan(["--config", fixture("stacks", "Pulumi.malformed.yaml")]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /^test\/fixtures\/stacks\/Pulumi\.malformed\.yaml: YAML: .+ at line \d+, column \d+\n/);
  assert.doesNotMatch(run.stderr, /\n\s+at \S+ \(/);
});

test("an empty stack file exits 2 saying it needs a config section", () => {
  const run = plan(["--config", fixture("stacks", "Pulumi.empty.yaml")]);
  assert.equal(run.code, 2);
  assert.equal(run.stderr, "test/fixtures/stacks/Pulumi.empty.yaml: config: the file is empty; a stack file needs a config: section\n");
});

test("a missing file exits 2", () => {
  const run = plan(["--config", "Pulumi.nowhere.yaml"]);
  assert.equal(run.code, 2);
  assert.equal(run.stderr, "Pulumi.nowhere.yaml: file not found\n");
});

test("an unknown stack exits 2 listing the stacks there are", () => {
  const run = plan(["--stack", "qa"], ORG);
  assert.equal(run.code, 2);
  assert.equal(run.stderr, `Pulumi.qa.yaml: unknown stack "qa" (stacks here: dev, prod, staging; --config plans a file elsewhere)\n`);
});

test("an unknown stack that starts like a known one gets a did-you-mean", () => {
  const run = plan(["--stack", "production"], ORG);
  assert.equal(run.code, 2);
  assert.equal(run.stderr, `Pulumi.production.yaml: unknown stack "production"; did you mean --stack prod? (stacks here: dev, prod, staging; --config plans a file elsewhere)\n`);
});

test("a file name given to --stack exits 2 suggesting the stack name or --config", () => {
  const run = plan(["--stack", "Pulumi.prod.yaml"], ORG);
  assert.equal(run.code, 2);
  assert.equal(run.stderr, "--stack Pulumi.prod.yaml: takes a stack name, not a file; did you mean --stack prod or --config Pulumi.prod.yaml?\n");
});

test("--help prints the usage and options and exits 0", () => {
  const run = plan(["--help"]);
  assert.equal(run.code, 0);
  for (const option of ["--stack", "--config", "--all", "--from", "--diff", "--format", "--full", "--json", "--policy"]) assert.match(run.stdout, new RegExp(`^\\s+(npm run plan -- )?${option}\\b`, "m"), option);
});

test("a directory given to --config exits 2 with one line and no stack trace", () => {
  const run = plan(["--config", "test/fixtures"]);
  assert.equal(run.code, 2);
  assert.equal(run.stderr, "test/fixtures: is a directory; --config takes a stack file such as test/fixtures/Pulumi.prod.yaml, and --all plans every stack file of the current directory\n");
});

test("one YAML slip is one line, not the parser's follow-on errors", () => {
  const run = plan(["--config", fixture("stacks", "Pulumi.indentation.yaml")]);
  assert.equal(run.code, 2);
  assert.equal(run.stderr.split("\n").filter(Boolean).length, 1, run.stderr);
  assert.match(run.stderr, /^test\/fixtures\/stacks\/Pulumi\.indentation\.yaml: YAML: .+ at line \d+, column \d+\n$/);
});

test("run through npm from another folder, --all plans the stack files of that folder", () => {
  const run = spawnSync("npm", ["run", "-s", "plan", "--", "--all", "--json"], { cwd: ORG, encoding: "utf8", env: { ...process.env, npm_lifecycle_event: "" } });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout).stacks.map((s: { stack: string }) => s.stack), ["dev", "prod", "staging"]);
});

test("--all rejects two stack files that manage the same GitHub environment, naming both", () => {
  const run = plan(["--all"], fixture("ownership"));
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.equal(
    run.stderr,
    "Pulumi.blue.yaml and Pulumi.green.yaml: both manage GitHub environment acme/shop:production; exactly one stack may own it\n",
  );
});

test("--all plans every stack of a folder and finds no ownership overlap", () => {
  const run = plan(["--all", "--json"], ORG);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert.deepEqual(doc.stacks.map((s: { stack: string }) => s.stack), ["dev", "prod", "staging"]);
});

test("the committed JSON Schema is generated from the current zod schema", () => {
  const run = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, path.join(ROOT, "scripts", "schema.ts"), "--check"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.ok(fs.readFileSync(path.join(ROOT, "stack-config.schema.json"), "utf8").includes('"release-infra:azure"'));
});

test("secret values are masked as [secret] and appear nowhere in the plan", () => {
  const run = sharedPlan(["--config", fixture("stacks", "Pulumi.masking.yaml"), "--json"]);
  assert.equal(run.code, 0, run.stderr);
  assert.doesNotMatch(run.stdout, /CIPHERTEXT/);
  const doc = JSON.parse(run.stdout);
  const secrets = doc.resources.filter((r: { type: string }) => r.type.startsWith("github:index/actions") && r.type.includes("Secret"));
  assert.equal(secrets.length, 2);
  for (const s of secrets) assert.equal(s.inputs.value, "[secret]");
});

test("values known only after apply are shown as [unknown]", () => {
  const doc = JSON.parse(sharedPlan(["--config", fixture("stacks", "Pulumi.masking.yaml"), "--json"]).stdout);
  const clientId = doc.resources.find((r: { name: string }) => r.name === "repo-shop-env-staging-var-azure_client_id");
  assert.equal(clientId.inputs.value, "[unknown]");
  assert.equal(clientId.inputs.variableName, "AZURE_CLIENT_ID");
});

test("--policy exits 5 and lists the violation when a prod namespace allows privileged pods", () => {
  const run = plan(["--config", fixture("stacks", "Pulumi.privileged.yaml"), "--policy"]);
  assert.equal(run.code, 5, run.stderr);
  assert.match(run.stdout, /^Policy: 3 mandatory, 0 advisory finding\(s\)$/m);
  assert.match(run.stdout, /^ {2}mandatory k8s-namespace-pod-security kubernetes:core\/v1:Namespace::acme-prod-aks-ingress-namespace: .*privileged/m);
});

test("--all --policy finds no mandatory violation in a compliant organisation", () => {
  const run = plan(["--all", "--policy", "--json"], ORG);
  assert.equal(run.code, 0, run.stderr);
  for (const doc of JSON.parse(run.stdout).stacks) {
    assert.deepEqual(doc.policy.filter((v: { enforcement: string }) => v.enforcement === "mandatory"), []);
  }
});

test("each environment with access gets the wiring table's variables, with their sources in the outputs", () => {
  const doc = JSON.parse(sharedPlan(["--stack", "prod", "--json"], ORG).stdout);
  const wired = (repo: string, env: string) =>
    doc.resources
      .filter((r: { name: string }) => r.name.startsWith(`repo-${repo}-env-${env}-var-`))
      .map((r: { inputs: { variableName: string } }) => r.inputs.variableName)
      // Configured variables share the naming; this one is in the stack file.
      .filter((name: string) => name !== "HEALTH_CHECK_RETRIES")
      .sort();
  assert.deepEqual(wired("shop", "production"), [
    "AKS_CLUSTER_NAME",
    "AKS_RESOURCE_GROUP",
    "AZURE_CLIENT_ID",
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_TENANT_ID",
    "K8S_NAMESPACE",
    "K8S_NAMESPACES",
    "REGISTRY_LOGIN_SERVER",
  ]);
  assert.deepEqual(wired("loader", "cdn-production"), ["CDN_BASE_URL", "CDN_BUCKET", "CDN_URL_MAP", "GCP_SERVICE_ACCOUNT", "GCP_WORKLOAD_IDENTITY_PROVIDER"]);
  const sources = doc.outputs.wiredVariables["acme/shop:production"];
  assert.equal(sources.AZURE_CLIENT_ID.source, "clientId of ci-shop-production, after its federated credential and 4 role assignment(s)");
  assert.equal(sources.REGISTRY_LOGIN_SERVER.source, "loginServer of registry acmeprodacr");
  assert.equal(doc.outputs.wiredVariables["acme/loader:cdn-production"].CDN_BASE_URL.value, "https://cdn.acme.example");
});

test("an environment deploying to two namespaces gets both in K8S_NAMESPACES and no single namespace variables, never a silent first", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "namespaces-"));
  const prod = fs
    .readFileSync(path.join(ORG, "Pulumi.prod.yaml"), "utf8")
    .replace(/(\n {10}- name: shop\n(?: {12}.*\n)+)/, "$1          - name: shop-jobs\n            quota: { cpu: \"2\", memory: 4Gi, pods: 10 }\n            containerDefaults: { cpu: 100m, memory: 128Mi }\n")
    .replace("namespaces: [{ cluster: acme-prod-aks, namespace: shop }]", "namespaces: [{ cluster: acme-prod-aks, namespace: shop }, { cluster: acme-prod-aks, namespace: shop-jobs }]");
  assert.match(prod, /namespace: shop-jobs \}\]/);
  fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), prod);
  const run = plan(["--stack", "prod", "--json"], dir);
  assert.equal(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  const variables = doc.resources.filter((r: { name: string }) => r.name.startsWith("repo-shop-env-production-var-")).map((r: { inputs: { variableName: string } }) => r.inputs.variableName);
  assert.ok(variables.includes("K8S_NAMESPACES"));
  assert.deepEqual(variables.filter((v: string) => ["K8S_NAMESPACE", "AKS_CLUSTER_NAME", "AKS_RESOURCE_GROUP"].includes(v)), []);
  const wired = doc.outputs.wiredVariables["acme/shop:production"].K8S_NAMESPACES;
  assert.equal(wired.source, "JSON list of { cluster, resourceGroup, namespace }: shop on acme-prod-aks, shop-jobs on acme-prod-aks, each after its quota, limits, policies and role assignments");
});

test("with owner and repository ids configured, an identity trusts both GitHub subject forms of its environment", () => {
  const doc = JSON.parse(sharedPlan(["--stack", "prod", "--json"], ORG).stdout);
  const subjects = doc.resources
    .filter((r: { type: string; parent: string }) => r.type === "azure-native:managedidentity:FederatedIdentityCredential" && r.parent.endsWith("::ci-shop-production"))
    .map((r: { inputs: { subject: string } }) => r.inputs.subject)
    .sort();
  assert.deepEqual(subjects, ["repo:acme/shop:environment:production", "repo:acme@71234567/shop@812345678:environment:production"]);
});

test("the plan counts GitHub API requests: 300 environments sharing one reviewer team make one team lookup", () => {
  // Three public repositories of 100 environments each, every one reviewed by the same team.
  const environments = Array.from({ length: 100 }, (_, i) => ({ name: `env-${i}`, reviewers: { teams: ["release-managers"] }, deployFrom: { branches: ["main"] } }));
  const repositories = ["shop", "loader", "sdk"].map((name) => ({ name, visibility: "public", plan: "team", actionsDefaults: false, environments }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "release-infra-plan-"));
  const file = path.join(dir, "Pulumi.dev.yaml");
  fs.writeFileSync(file, JSON.stringify({ config: { "github:owner": "acme", "release-infra:github": { repositories } } }));
  try {
    const run = plan(["--config", file, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout);
    const count = (token: string) => doc.invokes.filter((i: { token: string }) => i.token === token).length;
    assert.equal(count("github:index/getTeam:getTeam"), 1);
    assert.equal(count("github:index/getRepositoryTeams:getRepositoryTeams"), 3);
    // The provider's start, one summary team lookup, the owner's plan, and per repository its team
    // list, the take-over probes' environment, variable and secret lists, and the repository itself
    // (3 requests: its visibility); a refresh reads each of the 300 environments and 300
    // deployment policies once.
    assert.deepEqual(doc.githubApiCalls, { preview: 24, refresh: 601 });
    assert.match(plan(["--config", file]).stdout, /^  GitHub API: 24 requests per preview, 601 per refresh$/m);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
