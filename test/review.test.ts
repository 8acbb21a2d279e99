import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { placeholderNumber } from "../scripts/mocks";
import { COMMENT_LIMIT } from "../scripts/lib/review/markdown";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";

const ROOT = path.resolve(__dirname, "..");
const PLAN = path.join(ROOT, "scripts", "plan.ts");
const fixture = (...parts: string[]) => path.join(ROOT, "test", "fixtures", ...parts);
/** Two plans of one stack: head differs from base in one granted right, one removed reviewer, one replaced resource, one removed ruleset rule. */
const BASE = fixture("review", "base", "Pulumi.prod.yaml");
const HEAD = fixture("review", "head", "Pulumi.prod.yaml");
/** The tests' own organisation (the same shape as the committed stacks). */
const ORG = fixture("org");

function plan(args: string[], cwd = ROOT) {
  const run = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, PLAN, ...args], { cwd, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Plans of the organisation's prod stack, made once per run. */
const orgRuns = new Map<string, ReturnType<typeof plan>>();
function orgProd(...args: string[]) {
  const key = args.join(" ");
  const run = orgRuns.get(key) ?? plan(["--stack", "prod", ...args], ORG);
  orgRuns.set(key, run);
  return run;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "review-test-"));
/** A plan JSON written once per run: `plan --json` of a stack file. */
function savedPlan(name: string, config: string): string {
  const file = path.join(work, `${name}.json`);
  if (!fs.existsSync(file)) {
    const run = plan(["--config", config, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    fs.writeFileSync(file, run.stdout);
  }
  return file;
}
const basePlan = () => savedPlan("base", BASE);
/** `plan --from <base plan>` in text, run once per file: the tests only read it. */
let baseText: ReturnType<typeof plan> | undefined;
const baseTextRun = () => (baseText ??= plan(["--from", basePlan()]));
const headPlan = () => savedPlan("head", HEAD);
/** A variant of a saved plan, changed by `edit`. */
function variant(name: string, from: string, edit: (doc: { resources: Record<string, unknown>[] } & Record<string, unknown>) => void): string {
  const doc = JSON.parse(fs.readFileSync(from, "utf8"));
  edit(doc);
  const file = path.join(work, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(doc));
  return file;
}

/** The placeholder numbers the mocks answer with for the fixtures' teams and repositories. */
const NUMBERS = [
  placeholderNumber("team", "release-managers"),
  placeholderNumber("team", "qa-leads"),
  placeholderNumber("repository", "orbit/assets"),
].map(String);

/** `text` split at the first line matching each heading, in order; throws if one is missing or out of order. */
function sections(text: string, headings: RegExp[]): string[] {
  const lines = text.split("\n");
  const starts = headings.map((h) => lines.findIndex((l) => h.test(l)));
  starts.forEach((s, i) => assert.ok(s >= 0, `no line matches ${headings[i]}`));
  for (let i = 1; i < starts.length; i++) assert.ok(starts[i] > starts[i - 1], `${headings[i]} comes before ${headings[i - 1]}`);
  return starts.map((s, i) => lines.slice(s, starts[i + 1] ?? lines.length).join("\n"));
}

test("--diff in text: access changes come first and name the granted right, the removed reviewer and the removed rule; the replaced resource says what forces it", () => {
  const run = plan(["--config", HEAD, "--diff", basePlan()]);
  assert.equal(run.code, 0, run.stderr);
  const [header, access, , resources] = sections(run.stdout, [/^Changes against /, /^Access changes: /, /^release-infra · stack prod/, /^Resources:$/]);
  assert.match(header, /1 to replace/);
  assert.match(access, /^ {2}\+ grants +AcrPull on registry orbitprodacr to Azure identity id-web-staging \(web:staging\)$/m);
  assert.match(access, /^ {2}! weakens +reviewer team qa-leads removed from environment orbit\/web:production$/m);
  assert.match(access, /^ {2}! weakens +rule "linear history" of ruleset protect-main of orbit\/web removed$/m);
  assert.match(resources, /^ {2}± replace +gcp:storage\/bucket:Bucket {2}cdn-bucket$/m);
  assert.match(resources, /^ {6}location: EU → US {2}\[replaces: ForceNew in terraform-provider-google google\/services\/storage\/resource_storage_bucket\.go\]$/m);
  assert.match(resources, /reviewers\[0\]\.teams: \["<id of team release-managers>","<id of team qa-leads>"\] → \["<id of team release-managers>"\]/);
  for (const n of NUMBERS) assert.ok(!run.stdout.includes(n), `placeholder number ${n} in the output`);
});

test("--diff in markdown: the access changes section comes first, with the same changes by name, and the resource changes last", () => {
  const run = plan(["--config", HEAD, "--diff", basePlan(), "--format", "markdown"]);
  assert.equal(run.code, 0, run.stderr);
  const [access, , , , resources] = sections(run.stdout, [/^### Access changes$/, /^### Summary$/, /^### Who can do what/, /^### Access graph$/, /^### Resource changes$/]);
  assert.ok(access.includes("- **grants** `AcrPull on registry orbitprodacr to Azure identity id-web-staging (web:staging)`"), access);
  assert.ok(access.includes("- **weakens** `reviewer team qa-leads removed from environment orbit/web:production`"), access);
  assert.ok(access.includes('- **weakens** `rule "linear history" of ruleset protect-main of orbit/web removed`'), access);
  assert.ok(resources.includes("- `±` **replace** `gcp:storage/bucket:Bucket` `cdn-bucket`"), resources);
  assert.ok(resources.includes("`location: EU → US` replaces (`ForceNew in terraform-provider-google google/services/storage/resource_storage_bucket.go`)"), resources);
  for (const n of NUMBERS) assert.ok(!run.stdout.includes(n), `placeholder number ${n} in the output`);
});

test("--diff refuses a plan of another stack with exit 2 and one line", () => {
  const other = variant("other-stack", basePlan(), (doc) => {
    doc.stack = "staging";
  });
  const run = plan(["--from", headPlan(), "--diff", other]);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /^\S+other-stack\.json: is a plan of stack staging, not prod; --diff takes a plan of the same stack\n$/);
});

test("--diff and --from reject a file that is not a plan JSON with exit 2, naming the field", () => {
  const broken = variant("broken", basePlan(), (doc) => {
    doc.resources[0].urn = 42;
  });
  const run = plan(["--from", broken]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /^\S+broken\.json: not a plan JSON of release-infra .*: resources\[0\]\.urn: .*\n$/);
});

test("a logical name changed without an alias is a replacement of the same cloud object, with an alias an update", () => {
  const rename = (doc: { resources: Record<string, unknown>[] }, from: string, to: string) => {
    for (const r of doc.resources) {
      if (r.name === from) {
        r.name = to;
        r.urn = String(r.urn).replace(new RegExp(`::${from}$`), `::${to}`);
      }
    }
  };
  const old = "repo-web-env-production-var-old";
  const base = variant("renamed-base", headPlan(), (doc) => rename(doc, "repo-web-env-production-var-azure_tenant_id", old));
  const without = plan(["--from", headPlan(), "--diff", base]);
  assert.equal(without.code, 0, without.stderr);
  assert.match(without.stdout, /± replace +github:index\/actionsEnvironmentVariable:ActionsEnvironmentVariable {2}repo-web-env-production-var-azure_tenant_id\n +replaces: name: the logical name changed from repo-web-env-production-var-old without an alias/);
  const aliased = variant("aliased-head", headPlan(), (doc) => {
    const r = doc.resources.find((x) => x.name === "repo-web-env-production-var-azure_tenant_id");
    assert.ok(r);
    r.aliases = [String(r.urn).replace(/::[^:]+$/, `::${old}`)];
  });
  const withAlias = plan(["--from", aliased, "--diff", base]);
  assert.equal(withAlias.code, 0, withAlias.stderr);
  assert.match(withAlias.stdout, /~ update +\S+ {2}repo-web-env-production-var-azure_tenant_id\n +note: was repo-web-env-production-var-old \(kept by an alias\)/);
  assert.match(withAlias.stdout, /0 to replace/);
});

test("--diff counts no change at an ignoreChanges path of a resource in state, as the engine sends the old value there", () => {
  const name = "repo-web-env-production-var-azure_tenant_id";
  const base = variant("ignored-base", headPlan(), (doc) => {
    const r = doc.resources.find((x) => x.name === name);
    assert.ok(r);
    r.inputs = { ...(r.inputs as Record<string, unknown>), value: "spelled-before" };
  });
  const changedOnly = plan(["--from", headPlan(), "--diff", base]);
  assert.equal(changedOnly.code, 0, changedOnly.stderr);
  assert.match(changedOnly.stdout, new RegExp(`~ update +\\S+ {2}${name}\\n +value: spelled-before →`));
  const ignoring = variant("ignored-head", headPlan(), (doc) => {
    const r = doc.resources.find((x) => x.name === name);
    assert.ok(r);
    r.ignoreChanges = ["value"];
  });
  const ignored = plan(["--from", ignoring, "--diff", variant("ignored-base-same-options", base, (doc) => {
    const r = doc.resources.find((x) => x.name === name);
    assert.ok(r);
    r.ignoreChanges = ["value"];
  })]);
  assert.equal(ignored.code, 0, ignored.stderr);
  assert.doesNotMatch(ignored.stdout, new RegExp(`${name}\\n +value:`));
  assert.match(ignored.stdout, /0 to update, 0 to replace/);
});

test("the default plan of a prod stack fits on two screens before the tree, with team slugs and role names", () => {
  const run = orgProd();
  assert.equal(run.code, 0, run.stderr);
  const before = run.stdout.slice(0, run.stdout.indexOf("\nResources ")).split("\n");
  assert.ok(before.length <= 80, `${before.length} lines before the tree`);
  const text = before.join("\n");
  for (const expected of [
    "approval: team release-managers (not their own runs); wait 5 min; admins cannot bypass",
    "Container Registry Data Importer and Data Reader on registry acmeprodacr",
    "Reader on registry acmestagingacr",
    'custom role "release-infra namespace deployer (acme-aks-prod/acme-prod-aks for acme-release-prod)" on namespace shop of cluster acme-prod-aks',
    "kubelet of cluster acme-prod-aks: AcrPull on registry acmeprodacr",
    "roles/storage.objectCreator on bucket acme-cdn-assets",
    "roles/storage.objectAdmin on bucket acme-cdn-assets (condition: latest pointers only)",
    "bypass: repository admin",
  ]) {
    assert.ok(text.includes(expected), expected);
  }
  assert.ok(!run.stdout.includes(String(placeholderNumber("team", "release-managers"))));
});

test("the summary lists counts per kind, policy findings and the manual steps the plan implies", () => {
  const run = orgProd();
  assert.equal(run.code, 0, run.stderr);
  const [summary] = sections(run.stdout, [/^release-infra · stack prod · stage prod · \d+ cloud resources in \d+ registrations$/, /^Access · stack prod$/]);
  assert.match(summary, /^ {2}azure-native \d+: RoleAssignment ×5, /m);
  assert.match(summary, /^Policy: 0 mandatory, \d+ advisory finding\(s\) \(exit code 5 on a mandatory finding only with --policy\)$/m);
  assert.match(summary, /^ {7}pulumi config set --secret --path 'release-infra:secrets\.SLACK_WEBHOOK' --stack prod$/m);
  assert.match(summary, /^ {7}pypi acme-sdk: owner acme, repository sdk, workflow release\.yml, environment pypi at https:\/\/pypi\.org\/manage\/project\/acme-sdk\/settings\/publishing\/$/m);
  assert.match(summary, /DNS: point cdn\.acme\.example \(A records\) at the CDN's address/);
});

test("placeholders name what they stand for in JSON, text and markdown, numbers inside strings too", () => {
  const json = fs.readFileSync(basePlan(), "utf8");
  const doc = JSON.parse(json);
  const provider = doc.resources.find((r: { type: string }) => r.type === "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider");
  assert.match(provider.inputs.attributeCondition, /assertion\.repository_id in \["<id of repository orbit\/assets>"\]/);
  const environment = doc.resources.find((r: { name: string }) => r.name === "repo-web-env-production-environment");
  assert.deepEqual(environment.inputs.reviewers[0].teams, ["<id of team release-managers>", "<id of team qa-leads>"]);
  assert.equal(doc.placeholders[String(placeholderNumber("team", "qa-leads"))], "<id of team qa-leads>");
  const text = baseTextRun().stdout;
  const markdown = plan(["--from", basePlan(), "--format", "markdown"]).stdout;
  for (const output of [text, markdown]) assert.ok(output.includes("<id of repository orbit/assets>"));
  for (const n of NUMBERS) for (const output of [json.replace(/"placeholders": \{[^}]*\}/, ""), text, markdown]) assert.ok(!output.includes(n), n);
});

test("role ids carry their names and bypass actors say repository admin, in the tree", () => {
  const run = baseTextRun();
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /roleDefinitions\/8311e382-0749-4cb8-b61a-304f252e45ec \(AcrPush\)$/m);
  assert.match(run.stdout, /bypassActors\[0\]\.actorId: 5 \(repository admin\)$/m);
});

test("the tree folds labels and dependsOn chains, and --full prints every input and dependency", () => {
  const folded = orgProd().stdout;
  const full = orgProd("--full").stdout;
  const label = "metadata.labels.app.kubernetes.io/managed-by: release-infra";
  const count = (text: string, s: string) => text.split(s).length - 1;
  assert.equal(count(full, label), 6, "once per Kubernetes object with --full");
  assert.equal(count(folded, label), 1, "once for all of them by default");
  assert.match(folded, /^Every kubernetes resource that has labels or tags carries: metadata\.labels\.app\.kubernetes\.io\/managed-by: release-infra, /m);
  assert.doesNotMatch(folded, /dependsOn: .*\n[│ ]*dependsOn: /, "one dependsOn line per resource");
  const dependsOnLines = full.split("\n").filter((l) => /^[│ ]*\s+dependsOn: [^,]+$/.test(l)).length;
  const doc = JSON.parse(orgProd("--json").stdout);
  const total = doc.resources.filter((r: { custom: boolean; type: string }) => r.custom && r.type !== "pulumi:pulumi:Stack").reduce((n: number, r: { dependsOn: string[] }) => n + r.dependsOn.length, 0);
  assert.equal(dependsOnLines, total);
});

test("the access map gives each environment its refs, reviewers, identity and the identity's rights", () => {
  const run = baseTextRun();
  assert.equal(run.code, 0, run.stderr);
  const [access] = sections(run.stdout, [/^Access · stack prod$/, /^Resources /]);
  assert.ok(
    access.includes(
      [
        "    environment production",
        "      deploys from: branch main",
        "      approval: team release-managers, team qa-leads (not their own runs); admins cannot bypass",
        "      Azure identity id-web-production: trusts repo:orbit/web:environment:production",
        "        AcrPush on registry orbitprodacr",
      ].join("\n"),
    ),
    access,
  );
  assert.ok(
    access.includes(
      [
        "    environment cdn",
        "      deploys from: tag v*",
        "      approval: team release-managers (not their own runs); admins cannot bypass",
        "      GCP service account ci-assets-cdn@orbit-web-prod.iam.gserviceaccount.com: 1 workload identity binding, subjects known after apply",
        "        roles/storage.objectCreator on bucket orbit-cdn-assets",
        "        custom role cdnInvalidator_orbit_cdn_assets (compute.urlMaps.get, compute.urlMaps.invalidateCache) on project orbit-web-prod (condition: this URL map only)",
      ].join("\n"),
    ),
    access,
  );
  assert.match(access, /^ {2}serviceAccount:service-<number of project orbit-web-prod>@cloud-cdn-fill\.iam\.gserviceaccount\.com: custom role cdnFill_orbit_cdn_assets \(storage\.objects\.get\) on bucket orbit-cdn-assets$/m);
});

test("the review document keeps every value in code spans and Mermaid labels entity-encoded", () => {
  const hostile = "x`|<img src=x onerror=alert(1)> @orbit/admins \"]-->evil";
  const file = variant("hostile", basePlan(), (doc) => {
    for (const r of doc.resources) {
      const inputs = r.inputs as Record<string, unknown>;
      if (inputs.environment === "production") inputs.environment = hostile;
    }
  });
  const run = plan(["--from", file, "--format", "markdown"]);
  assert.equal(run.code, 0, run.stderr);
  // Outside code spans and blocks, none of the hostile name is left.
  const outside = run.stdout.replace(/```[\s\S]*?```/g, "").replace(/(`+) ?[\s\S]*? ?\1/g, "");
  assert.doesNotMatch(outside, /<img|@orbit\/admins/);
  const mermaid = /```mermaid\n([\s\S]*?)```/.exec(run.stdout)?.[1] ?? "";
  assert.ok(mermaid.includes("#60;img"), "< is an entity code");
  for (const line of mermaid.split("\n").slice(1).filter(Boolean)) {
    assert.match(line, /^ {2}(\w+\["[^"<>`]*"\]|\w+ -->(\|"[^"<>`]*"\|)? \w+)$/, line);
  }
});

test("the review document fits GitHub's comment limit, cutting the tree with a note", () => {
  const huge = variant("huge", basePlan(), (doc) => {
    const first = doc.resources.find((r) => r.type === "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable");
    assert.ok(first);
    for (let i = 0; i < 3000; i++) doc.resources.push({ ...first, urn: `${String(first.urn)}-${i}`, name: `${String(first.name)}-${i}` });
  });
  const run = plan(["--from", huge, "--format", "markdown"]);
  assert.equal(run.code, 0, run.stderr);
  assert.ok(run.stdout.length <= COMMENT_LIMIT - 256, `${run.stdout.length} characters`);
  assert.match(run.stdout, /… \d+ more line\(s\) cut to fit GitHub's comment limit; run npm run plan -- --stack prod locally for all of it\.\n```\n\n<\/details>/);
});

test("--all orders the stacks so that a stack importing from another's registry comes after it", () => {
  const run = plan(["--all"], ORG);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^Apply order: dev, then staging, then prod\n {2}prod after staging: prod needs registry acmestagingacr, which staging creates$/m);
});

test("--all applies the pipeline stack first: every deploy stack needs the environment, resource group and roles it creates", () => {
  const run = plan(["--all"], fixture("pipeline"));
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^Apply order: pipeline, then dev, then staging, then prod\n/);
  for (const stack of ["dev", "staging", "prod"]) {
    assert.match(run.stdout, new RegExp(`^ {2}${stack} after pipeline: ${stack} needs resource group contoso-release-${stack}, role "release-infra namespace deployer \\(.*\\)", environment pulumi-${stack}, which pipeline creates$`, "m"));
  }
});

test("a saved plan carries its policy config, and --from finds what the live plan found: the pipeline stack's findings", () => {
  const live = plan(["--stack", "pipeline", "--policy"], fixture("pipeline"));
  const saved = savedPlan("pipeline", fixture("pipeline", "Pulumi.pipeline.yaml"));
  assert.deepEqual(JSON.parse(fs.readFileSync(saved, "utf8")).policyConfig, { stage: "prod", pipelineStack: true });
  const rendered = plan(["--from", saved, "--policy"]);
  const policyLine = (text: string) => text.split("\n").find((l) => l.startsWith("Policy: "));
  assert.equal(live.code, 0, live.stderr);
  assert.equal(rendered.code, 0, rendered.stderr);
  assert.match(policyLine(live.stdout) ?? "", /^Policy: 0 mandatory, [1-9]\d* advisory/);
  assert.equal(policyLine(rendered.stdout), policyLine(live.stdout));
  // The same plan evaluated as an ordinary stack breaks the rules the pipeline stack is exempt from.
  const asDeployStack = variant("pipeline-as-deploy", saved, (doc) => {
    doc.policyConfig = { stage: "prod", pipelineStack: false };
  });
  assert.equal(plan(["--from", asDeployStack, "--policy"]).code, 5);
});

test("--diff shows each created resource under its component with its inputs, folded as the tree folds them, and --full unfolded", () => {
  const run = plan(["--config", HEAD, "--diff", basePlan()]);
  assert.equal(run.code, 0, run.stderr);
  const [, resources] = sections(run.stdout, [/^Changes against /, /^Resources:$/]);
  const [, created] = sections(resources, [/^Resources:$/, /^ {2}\+ created \(\d+\), with their inputs \(repeated inputs folded; --full shows every input\):$/]);
  // The granted right: its role by name and its scope, as a reviewer approving it needs them.
  assert.match(created, /azure-native:authorization:RoleAssignment {2}registry-ci-web-staging-acrpull[^\n]*\n(?:.*\n)*?.* roleDefinitionId: \S+7f951dda-4ed3-4680-a7ca-43fe172d538d \(AcrPull\)\n(?:.*\n)*?.* scope: \S+\/registries\/orbitprodacr\n/);
  assert.match(created, /├┄ each of the next 4 ActionsEnvironmentVariable: environment: staging, repository: web/);
  const full = plan(["--config", HEAD, "--diff", basePlan(), "--full"]);
  assert.equal(full.code, 0, full.stderr);
  assert.doesNotMatch(full.stdout, /each of the next/);
  assert.match(full.stdout, /^ {2}\+ created \(\d+\), with their inputs:$/m);
  const markdown = plan(["--config", HEAD, "--diff", basePlan(), "--format", "markdown"]);
  assert.match(markdown.stdout, /\*\*Created \(\d+\)\*\*, with their inputs \(repeated inputs folded\):\n\n```+text\n(?:.*\n)*?.* roleDefinitionId: \S+ \(AcrPull\)\n/);
});
