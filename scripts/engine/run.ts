/**
 * `npm run test:engine`: every committed stack (the pipeline stack with its siblings) and every
 * example folder, through the real Pulumi CLI and engine (built by scripts/engine/build.sh), our
 * Node.js language host, the real analyzer host with the policy pack, and stand-in provider plugins
 * answering from the offline plan's fake cloud (docs/engine.md). Each stack runs in a temporary
 * copy of the repository with a file:// backend and a passphrase secrets provider.
 *
 *   npm run test:engine                 # everything
 *   npm run test:engine -- dev navi     # root stacks or example folders by name
 *
 * Ends with `N passed, N failed` on a line of its own; exits 1 on any failure.
 */
import { spawn, execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import type { AddressInfo } from "net";
import { parseDocument } from "yaml";
import { ARM_GET, armRequest, armResponse, fakeAnswers } from "../lib/fakeCloud";
import { engineUrn } from "../lib/importFile";
import { repositoryFiles } from "../lib/repositoryFiles";
import { offlineWorld, type PlanDocument } from "../lib/planStack";
import { plainValue, type WireValue } from "../mocks";
import { validateStackFile } from "../lib/stackFile";
import { FAST_TS_NODE_ARGS } from "../lib/fastTs";
import { namespaceExists, readWorld, writeWorld, WORLD_ENV } from "./world";

const ROOT = path.resolve(__dirname, "..", "..");
const STACK_FILE = /^Pulumi\.(.+)\.ya?ml$/;
const PASSPHRASE = "release-infra engine test";
/** What the plan shows for a value known only after apply. */
const PLAN_UNKNOWN = "[unknown]";
/** Marks a plan value that was a placeholder label as a whole: the number it stands for, as a number or its text. */
const PLACEHOLDER = "\u0000placeholder:";

/** A check's outcome. */
interface Outcome {
  name: string;
  ok: boolean;
  detail?: string;
}
const outcomes: Outcome[] = [];

function report(outcome: Outcome): void {
  outcomes.push(outcome);
  const mark = outcome.ok ? "ok  " : "FAIL";
  process.stdout.write(`${mark} ${outcome.name}${outcome.detail ? `\n      ${outcome.detail.split("\n").join("\n      ")}` : ""}\n`);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; input?: string }): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(options.input ?? "");
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The last lines of a command's output, for a failure's detail. */
const tail = (r: Run, lines = 25) => `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-lines).join("\n");

// ---------------------------------------------------------------------------------------------
// The engine, the plugins, the policy pack's dependencies

const cacheRoot = process.env.RELEASE_INFRA_ENGINE_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "release-infra", "engine");

function buildEngine(): string {
  return execFileSync("bash", [path.join(ROOT, "scripts", "engine", "build.sh")], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

/** The policy pack's own dependencies, from its lock file, installed once per lock file content. */
function policyModules(): string {
  const lock = fs.readFileSync(path.join(ROOT, "policy", "package-lock.json"));
  const dir = path.join(cacheRoot, `policy-${createHash("sha256").update(lock).digest("hex").slice(0, 16)}`);
  if (!fs.existsSync(path.join(dir, "node_modules", "@pulumi", "policy"))) {
    fs.mkdirSync(dir, { recursive: true });
    for (const file of ["package.json", "package-lock.json"]) fs.copyFileSync(path.join(ROOT, "policy", file), path.join(dir, file));
    execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  }
  return path.join(dir, "node_modules");
}

/** The provider packages the SDKs in node_modules request, by plugin name and version (their package.json `pulumi` field). */
function requestedPlugins(): { name: string; version: string }[] {
  const scope = path.join(ROOT, "node_modules", "@pulumi");
  return fs.readdirSync(scope).flatMap((dir) => {
    const file = path.join(scope, dir, "package.json");
    if (!fs.existsSync(file)) return [];
    const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { version?: string; pulumi?: { resource?: boolean; name?: string; version?: string } };
    if (!pkg.pulumi?.resource) return [];
    return [{ name: pkg.pulumi.name ?? dir, version: pkg.pulumi.version ?? pkg.version ?? "" }];
  });
}

/**
 * A PULUMI_HOME whose plugin cache holds a stand-in for every requested provider, in the layout
 * the CLI reads (sdk/go/common/workspace/plugins.go: plugins/resource-NAME-vVERSION/pulumi-resource-NAME),
 * and a `kubelogin` that prints a token, for the program's namespace reads.
 */
function pulumiHome(dir: string): { home: string; tools: string } {
  const home = path.join(dir, "home");
  const tools = path.join(dir, "tools");
  fs.mkdirSync(tools, { recursive: true });
  for (const plugin of requestedPlugins()) {
    const pluginDir = path.join(home, "plugins", `resource-${plugin.name}-v${plugin.version}`);
    fs.mkdirSync(pluginDir, { recursive: true });
    const launcher = path.join(pluginDir, `pulumi-resource-${plugin.name}`);
    const standin = path.join(ROOT, "scripts", "engine", "standin.ts");
    fs.writeFileSync(launcher, `#!/bin/sh\nexec "${process.execPath}" ${FAST_TS_NODE_ARGS.map((a) => `"${a}"`).join(" ")} "${standin}" ${plugin.name} ${plugin.version} "$@"\n`, { mode: 0o755 });
  }
  const credential = JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1beta1", kind: "ExecCredential", status: { token: "engine-test" } });
  fs.writeFileSync(path.join(tools, "kubelogin"), `#!/bin/sh\necho '${credential}'\n`, { mode: 0o755 });
  return { home, tools };
}

// ---------------------------------------------------------------------------------------------
// Loopback fakes of what the program reads itself: ARM (HTTPS, as azure-native's metadata host
// is) and the clusters' Kubernetes API (HTTP). Both answer from the fake cloud of the current stack.

let currentWorld = "";

function selfSignedCertificate(dir: string): { key: string; cert: string; file: string } {
  const key = path.join(dir, "loopback.key");
  const file = path.join(dir, "loopback.crt");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", file, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
  return { key: fs.readFileSync(key, "utf8"), cert: fs.readFileSync(file, "utf8"), file };
}

function listen(server: http.Server | https.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

async function loopbackServers(dir: string): Promise<{ armHost: string; kubeServer: string; caFile: string; close: () => void }> {
  const tls = selfSignedCertificate(dir);
  let armHost = "";
  const arm = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const url = new URL(req.url ?? "/", `https://${armHost}`);
    if (url.pathname === "/metadata/endpoints") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ name: "engine-test", resourceManager: `https://${armHost}/` }));
      return;
    }
    try {
      const { status, body } = armResponse(fakeAnswers(readWorld(currentWorld))[ARM_GET](armRequest(url), () => 0));
      res.writeHead(status, { "content-type": "application/json" }).end(body);
    } catch (err) {
      res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "EngineTestFake", message: String(err) } }));
    }
  });
  armHost = `127.0.0.1:${await listen(arm)}`;
  const kube = http.createServer((req, res) => {
    const name = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(req.url ?? "")?.[1];
    if (name === undefined) return void res.writeHead(404).end();
    res.writeHead(namespaceExists(currentWorld, decodeURIComponent(name)) ? 200 : 404, { "content-type": "application/json" }).end("{}");
  });
  const kubeServer = `http://127.0.0.1:${await listen(kube)}`;
  return { armHost, kubeServer, caFile: tls.file, close: () => (arm.close(), kube.close()) };
}

// ---------------------------------------------------------------------------------------------
// Comparing the engine's state with the offline plan

/** Where `state` differs from `planned`; "[unknown]" in the plan (known only after apply) matches anything. */
function differences(planned: unknown, state: unknown, at: string): string[] {
  if (planned === PLAN_UNKNOWN) return [];
  if (typeof planned === "string" && planned.startsWith(PLACEHOLDER)) {
    const number = planned.slice(PLACEHOLDER.length);
    return String(state) === number && (typeof state === "number" || typeof state === "string") ? [] : [`${at}: plan ${number}, engine ${JSON.stringify(state)}`];
  }
  if (typeof planned === "string" && typeof state === "string" && planned.includes(PLAN_UNKNOWN)) {
    const pattern = new RegExp(`^${planned.split(PLAN_UNKNOWN).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[\\s\\S]*")}$`);
    return pattern.test(state) ? [] : [`${at}: plan ${JSON.stringify(planned)}, engine ${JSON.stringify(state)}`];
  }
  if (Array.isArray(planned) && Array.isArray(state) && planned.length === state.length) return planned.flatMap((p, i) => differences(p, state[i], `${at}[${i}]`));
  if (planned !== null && state !== null && typeof planned === "object" && typeof state === "object" && !Array.isArray(planned) && !Array.isArray(state)) {
    const p = planned as Record<string, unknown>;
    const s = state as Record<string, unknown>;
    return [...new Set([...Object.keys(p), ...Object.keys(s)])].sort().flatMap((k) => differences(p[k], s[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(planned) === JSON.stringify(state) ? [] : [`${at}: plan ${JSON.stringify(planned)}, engine ${JSON.stringify(state)}`];
}

/** A plan value with its placeholder labels ("<id of team x>") back to the numbers the fake cloud answered. */
function unlabel(plan: PlanDocument, value: unknown): unknown {
  const labels = Object.entries(plan.placeholders ?? {});
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") {
      // The plan shows a placeholder number and its text alike: either matches.
      const whole = labels.find(([, label]) => label === v);
      if (whole) return `${PLACEHOLDER}${whole[0]}`;
      return labels.reduce((text, [number, label]) => text.split(label).join(number), v);
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value);
}

/** A plan value without what the plan cannot know ("[unknown]", "[secret]"): what the fake cloud holds of an adopted object. */
function knownPart(value: unknown): unknown {
  if (typeof value === "string") return value.includes(PLAN_UNKNOWN) || value === "[secret]" ? undefined : value;
  if (Array.isArray(value)) return value.map(knownPart).filter((v) => v !== undefined);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).flatMap(([k, v]) => (knownPart(v) === undefined ? [] : [[k, knownPart(v)]])));
  }
  return value;
}

interface StateResource {
  urn: string;
  type: string;
  external?: boolean;
  inputs?: Record<string, WireValue>;
}

/**
 * The plan against `pulumi stack export`: the same URNs, types and inputs. Normalisation
 * (docs/engine.md): plan URNs in the engine's form (every ancestor's type, engineUrn); the
 * engine's default providers and read resources (`external`: the stack reference) left out, since
 * the mocks record registrations only; the `version` and `__internal` inputs the engine adds to a
 * provider left out; secrets as "[secret]" and resource references as their URN on both sides; the
 * plan's placeholder labels ("<id of team x>") back to the numbers the fake cloud answered; a plan
 * "[unknown]" (known only after apply) matches any value.
 */
function compare(plan: PlanDocument, exported: { deployment: { resources?: StateResource[] } }, stack: string): string[] {
  const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
  const planned = new Map(plan.resources.map((r) => [r.type === "pulumi:pulumi:Stack" ? r.urn : engineUrn(r, byUrn, stack, plan.project), r]));
  const kept = (exported.deployment.resources ?? []).filter((r) => !r.external && !(r.type.startsWith("pulumi:providers:") && /::default(_[0-9_]+)?$/.test(r.urn)));
  const state = new Map(kept.map((r) => [r.urn, r]));
  const problems: string[] = [];
  for (const urn of planned.keys()) if (!state.has(urn)) problems.push(`only in the plan: ${urn}`);
  for (const urn of state.keys()) if (!planned.has(urn)) problems.push(`only in the engine's state: ${urn}`);
  for (const [urn, p] of planned) {
    const s = state.get(urn);
    if (!s) continue;
    if (s.type !== p.type) problems.push(`${urn}: type ${p.type} in the plan, ${s.type} in the state`);
    const inputs = plainValue(s.inputs ?? {}) as Record<string, unknown>;
    if (s.type.startsWith("pulumi:providers:")) {
      delete inputs.version;
      delete inputs.__internal;
    }
    problems.push(...differences(unlabel(plan, p.inputs), inputs, "").map((d) => `${urn}: ${d}`));
  }
  return problems;
}


// ---------------------------------------------------------------------------------------------
// Edits of a stack file that must neither replace nor delete anything, and what a preview does

/** A step of `pulumi preview --json`; `custom` of its old or new state tells a cloud object from a component. */
interface PreviewStep {
  op: string;
  urn: string;
  oldState?: { custom?: boolean };
  newState?: { custom?: boolean };
}

/**
 * IAM bindings of Google Cloud have no identity of their own: a "replacement" adds the new binding
 * before it removes the old one. An environment's new spelling replaces its workload identity
 * trust (the subject follows the name, and Google compares it exactly), and the stand-ins' preview
 * of an updated service account cannot tell its email (the SDK's provider server has no preview
 * support), which replaces the bindings that name it; neither removes an object or a right.
 */
const GCP_BINDINGS = new Set(["gcp:serviceaccount/iAMMember:IAMMember", "gcp:projects/iAMMember:IAMMember", "gcp:storage/bucketIAMMember:BucketIAMMember"]);
const bindingOf = (step: PreviewStep) => GCP_BINDINGS.has(step.urn.split("::")[2]?.split("$").pop() ?? "");
/** A step that replaces or deletes an object in a cloud (deleting a component deletes nothing). */
const destroys = (step: PreviewStep) => DESTRUCTIVE.has(step.op) && (step.oldState?.custom ?? step.newState?.custom ?? true) && !(step.op !== "delete" && bindingOf(step));

function previewSteps(r: Run): PreviewStep[] {
  const start = r.stdout.indexOf("{");
  const parsed = JSON.parse(r.stdout.slice(start)) as { steps?: PreviewStep[] };
  return parsed.steps ?? [];
}

const DESTRUCTIVE = new Set(["delete", "replace", "create-replacement", "delete-replaced"]);

type Yaml = ReturnType<typeof parseDocument>;
type Edit = { what: string; apply: (doc: Yaml) => boolean };

const isMap = (v: unknown): v is { get: (k: string) => unknown; set: (k: string, v: unknown) => void; delete: (k: string) => boolean; toJSON: () => unknown } =>
  typeof v === "object" && v !== null && "get" in v && "set" in v;
const isSeq = (v: unknown): v is { items: unknown[] } => typeof v === "object" && v !== null && "items" in v && Array.isArray((v as { items: unknown }).items);

/** The repositories of `release-infra:github` in the YAML document. */
function repositories(doc: Yaml): unknown[] {
  const repos = doc.getIn(["config", "release-infra:github", "repositories"]);
  return isSeq(repos) ? repos.items : [];
}

const EDITS: Edit[] = [
  {
    what: "an environment's name changes case",
    apply: (doc) => {
      for (const repo of repositories(doc)) {
        const environments = isMap(repo) ? repo.get("environments") : undefined;
        const first = isSeq(environments) ? environments.items[0] : undefined;
        const name = isMap(first) ? first.get("name") : undefined;
        if (isMap(first) && typeof name === "string" && name !== "") {
          const swapped = name[0] === name[0].toUpperCase() ? name[0].toLowerCase() : name[0].toUpperCase();
          first.set("name", swapped + name.slice(1));
          return true;
        }
      }
      return false;
    },
  },
  {
    what: "a trusted-publishing environment moves to environments",
    apply: (doc) => {
      for (const repo of repositories(doc)) {
        const publishing = isMap(repo) ? repo.get("trustedPublishing") : undefined;
        if (!isMap(repo) || !isSeq(publishing) || publishing.items.length === 0) continue;
        const entry = publishing.items[0];
        if (!isMap(entry)) continue;
        const environment = entry.get("environment");
        // Entries sharing the environment go with it (their publishing component goes: no cloud object);
        // the environment keeps its protection rules.
        publishing.items = publishing.items.filter((e) => !(isMap(e) && e.get("environment") === environment));
        if (publishing.items.length === 0) repo.delete("trustedPublishing");
        const moved = doc.createNode({
          name: environment,
          ...Object.fromEntries((["deployFrom", "reviewers", "waitMinutes", "adopt"] as const).flatMap((k) => (entry.get(k) === undefined ? [] : [[k, (entry.get(k) as { toJSON?: () => unknown })?.toJSON?.() ?? entry.get(k)]]))),
        });
        const environments = repo.get("environments");
        if (isSeq(environments)) environments.items.push(moved);
        else repo.set("environments", doc.createNode([moved]));
        return true;
      }
      return false;
    },
  },
];

// ---------------------------------------------------------------------------------------------
// One folder of stack files: a copy of the repository whose root stack files are the folder's

interface Case {
  /** "dev" for a root stack, "examples/navi" for a folder. */
  label: string;
  folder: string;
  stacks: string[];
}

function cases(filter: string[]): Case[] {
  const root = fs.readdirSync(ROOT).flatMap((f) => STACK_FILE.exec(f)?.[1] ?? []);
  const all: Case[] = [{ label: "root", folder: ROOT, stacks: root }];
  for (const example of fs.readdirSync(path.join(ROOT, "examples")).sort()) {
    const folder = path.join(ROOT, "examples", example);
    const stacks = fs.readdirSync(folder).flatMap((f) => STACK_FILE.exec(f)?.[1] ?? []);
    if (stacks.length > 0) all.push({ label: `examples/${example}`, folder, stacks });
  }
  if (filter.length === 0) return all;
  return all.flatMap((c) => {
    if (filter.includes(c.label) || filter.includes(path.basename(c.label))) return [c];
    const stacks = c.label === "root" ? c.stacks.filter((s) => filter.includes(s)) : [];
    return stacks.length > 0 ? [{ ...c, stacks }] : [];
  });
}

/** A temporary copy of the repository whose root stack files are `folder`'s. */
function copyRepository(folder: string, policyNodeModules: string): string {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), "release-infra-engine-"));
  const work = path.join(copy, "repo");
  for (const file of repositoryFiles(ROOT)) {
    if (!fs.existsSync(path.join(ROOT, file))) continue;
    if (!file.includes(path.sep) && STACK_FILE.test(file)) continue;
    fs.mkdirSync(path.dirname(path.join(work, file)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, file), path.join(work, file));
  }
  for (const file of fs.readdirSync(folder).filter((f) => STACK_FILE.test(f))) fs.copyFileSync(path.join(folder, file), path.join(work, file));
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(work, "node_modules"), "dir");
  fs.symlinkSync(policyNodeModules, path.join(work, "policy", "node_modules"), "dir");
  return work;
}

/** The offline plan's JSON of a stack, run in the copy. */
async function offlinePlan(work: string, stack: string, env: NodeJS.ProcessEnv): Promise<PlanDocument> {
  const result = await run(process.execPath, [...FAST_TS_NODE_ARGS, path.join(work, "scripts", "plan.ts"), "--stack", stack, "--json"], { cwd: work, env });
  if (result.code !== 0) throw new Error(`npm run plan -- --stack ${stack} --json exited ${result.code}:\n${tail(result)}`);
  return JSON.parse(result.stdout) as PlanDocument;
}

/** Names of the secrets the stack uses, from the plan's `pulumi config set --secret` warnings. */
function secretNames(plan: PlanDocument): string[] {
  return [...new Set(plan.warnings.flatMap((w) => /pulumi config set --secret --path 'release-infra:secrets\.([^']+)'/.exec(w)?.[1] ?? []))];
}

async function runStack(c: Case, work: string, stack: string, env: NodeJS.ProcessEnv, pulumi: string, dirs: { state: string; scratch: string }): Promise<void> {
  const name = `${c.label === "root" ? "" : `${c.label}/`}${stack}`;
  const check = async (what: string, body: () => Promise<string | undefined>) => {
    try {
      const problem = await body();
      report({ name: `${name}: ${what}`, ok: problem === undefined, detail: problem });
      return problem === undefined;
    } catch (err) {
      report({ name: `${name}: ${what}`, ok: false, detail: err instanceof Error ? err.message : String(err) });
      return false;
    }
  };
  fs.mkdirSync(dirs.state, { recursive: true });
  const stackEnv = { ...env, [WORLD_ENV]: path.join(dirs.scratch, `world-${stack}`), PULUMI_BACKEND_URL: `file://${dirs.state}` };
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => run(pulumi, [...args, "--stack", stack, "--non-interactive"], { cwd: work, env: { ...stackEnv, ...extra } });

  // As a user runs it: without the loopback endpoints.
  const plan = await offlinePlan(work, stack, process.env);
  const file = path.join(work, `Pulumi.${stack}.yaml`);
  const { config } = validateStackFile(file, stack, `Pulumi.${stack}.yaml`);
  const world = offlineWorld(file, config);
  writeWorld(stackEnv[WORLD_ENV], { ...world, kubeServer: env.RELEASE_INFRA_KUBE_SERVER ?? "" });
  currentWorld = stackEnv[WORLD_ENV];
  const policyConfig = path.join(dirs.scratch, `policy-config-${stack}.json`);
  const stacksRun = await run(process.execPath, [...FAST_TS_NODE_ARGS, path.join(work, "scripts", "stacks.ts"), "--policy-config", stack], { cwd: work, env: process.env });
  fs.writeFileSync(policyConfig, stacksRun.stdout);
  const policy = ["--policy-pack", path.join(work, "policy"), "--policy-pack-config", policyConfig];

  /** `pulumi stack init` and every secret the stack uses, in the backend of `extra`. */
  const initialise = async (extra: NodeJS.ProcessEnv = {}): Promise<string | undefined> => {
    const init = await cli(["stack", "init", "--secrets-provider", "passphrase"], extra);
    if (init.code !== 0) return tail(init);
    for (const secret of secretNames(plan)) {
      const set = await cli(["config", "set", "--secret", "--path", `release-infra:secrets.${secret}`, `engine-test-value-of-${secret}`], extra);
      if (set.code !== 0) return tail(set);
    }
    return undefined;
  };
  const initialised = await check("pulumi stack init, config set --secret --path", () => initialise());
  if (!initialised) return;
  const previewed = await check("pulumi preview --policy-pack policy", async () => {
    const r = await cli(["preview", ...policy, "--diff"]);
    return r.code === 0 ? undefined : tail(r, 40);
  });
  if (!previewed) return;
  const applied = await check("pulumi up --yes", async () => {
    const r = await cli(["up", "--yes", ...policy, "--skip-preview"]);
    return r.code === 0 ? undefined : tail(r, 40);
  });
  if (!applied) return;
  await check("pulumi preview --expect-no-changes", async () => {
    const r = await cli(["preview", "--expect-no-changes", ...policy, "--diff"]);
    if (process.env.RELEASE_INFRA_ENGINE_KEEP) fs.writeFileSync(path.join(dirs.scratch, `expect-no-changes-${stack}.txt`), `${r.stdout}\n${r.stderr}`);
    return r.code === 0 ? undefined : tail(r, 40);
  });
  for (const edit of EDITS) {
    const original = fs.readFileSync(file, "utf8");
    const doc = parseDocument(original);
    if (!edit.apply(doc)) continue;
    fs.writeFileSync(file, doc.toString());
    await check(`${edit.what}: the preview replaces and deletes nothing`, async () => {
      const r = await cli(["preview", "--json"]);
      if (r.code !== 0) return tail(r, 40);
      const destructive = previewSteps(r).filter(destroys);
      return destructive.length === 0 ? undefined : destructive.map((step) => `${step.op} ${step.urn}`).join("\n");
    }).finally(() => fs.writeFileSync(file, original));
  }
  await check("pulumi stack export matches the offline plan (URNs, types, inputs)", async () => {
    const r = await cli(["stack", "export"]);
    if (r.code !== 0) return tail(r);
    const problems = compare(plan, JSON.parse(r.stdout), stack);
    return problems.length === 0 ? undefined : `${problems.length} difference(s):\n${problems.slice(0, 30).join("\n")}`;
  });

  if (!plan.resources.some((r) => r.importId !== undefined)) return;
  await check("adoption: npm run plan -- --import-file, pulumi import --file into a fresh stack, then a preview creates nothing it imported", async () => {
    const importFile = path.join(dirs.scratch, `${stack}-import.json`);
    const written = await run(process.execPath, [...FAST_TS_NODE_ARGS, path.join(work, "scripts", "plan.ts"), "--stack", stack, "--import-file", importFile], { cwd: work, env: process.env });
    if (written.code !== 0) return tail(written);
    const fresh = { PULUMI_BACKEND_URL: `file://${path.join(dirs.scratch, `state-import-${stack}`)}`, [WORLD_ENV]: path.join(dirs.scratch, `world-import-${stack}`) };
    fs.mkdirSync(path.join(dirs.scratch, `state-import-${stack}`), { recursive: true });
    // The adopted objects exist, as the stack file declares them: what the stand-ins' read finds.
    const entries = (JSON.parse(fs.readFileSync(importFile, "utf8")) as { resources: { type: string; logicalName: string; id?: string }[] }).resources;
    const found: Record<string, unknown> = {};
    for (const entry of entries) {
      const planned = plan.resources.find((r) => r.type === entry.type && r.name === entry.logicalName && r.importId !== undefined);
      if (planned && entry.id !== undefined) found[entry.id] = knownPart(unlabel(plan, planned.inputs));
    }
    writeWorld(fresh[WORLD_ENV], { ...world, kubeServer: env.RELEASE_INFRA_KUBE_SERVER ?? "" }, found);
    currentWorld = fresh[WORLD_ENV];
    try {
      const failed = await initialise(fresh);
      if (failed) return failed;
      const imported = await cli(["import", "--file", importFile, "--yes", "--generate-code=false"], fresh);
      if (imported.code !== 0) return tail(imported, 40);
      const preview = await cli(["preview", "--json"], fresh);
      if (preview.code !== 0) return tail(preview, 40);
      const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
      const adopted = new Set(plan.resources.filter((r) => r.importId !== undefined).map((r) => engineUrn(r, byUrn, stack, plan.project)));
      const again = previewSteps(preview).filter((step) => adopted.has(step.urn) && (step.op === "create" || destroys(step)));
      return again.length === 0 ? undefined : again.map((step) => `${step.op} ${step.urn}`).join("\n");
    } finally {
      currentWorld = stackEnv[WORLD_ENV];
    }
  });
}


/** An invalid stack file stops `pulumi preview` with the offline plan's lines: one per problem, naming the file, key and rule. */
async function invalidStackFile(work: string, env: NodeJS.ProcessEnv, pulumi: string, state: string): Promise<void> {
  const name = "invalid stack file (test/fixtures/stacks/Pulumi.invalid.yaml): pulumi preview stops with one line per problem";
  const file = path.join(work, "Pulumi.invalid.yaml");
  fs.copyFileSync(path.join(ROOT, "test", "fixtures", "stacks", "Pulumi.invalid.yaml"), file);
  try {
    const offline = await run(process.execPath, [...FAST_TS_NODE_ARGS, path.join(work, "scripts", "plan.ts"), "--stack", "invalid"], { cwd: work, env: process.env });
    const lines = offline.stderr.trim().split("\n").filter(Boolean);
    const stackEnv = { ...env, PULUMI_BACKEND_URL: `file://${state}` };
    const cli = (args: string[]) => run(pulumi, [...args, "--stack", "invalid", "--non-interactive"], { cwd: work, env: stackEnv });
    const init = await cli(["stack", "init", "--secrets-provider", "passphrase"]);
    const preview = init.code === 0 ? await cli(["preview"]) : init;
    const output = `${preview.stdout}\n${preview.stderr}`;
    const missing = lines.filter((line) => !output.includes(line));
    const problem =
      offline.code !== 2 || lines.length === 0
        ? `the offline plan exited ${offline.code} with ${lines.length} line(s)`
        : preview.code === 0
          ? "pulumi preview passed"
          : missing.length > 0
            ? `the engine's output lacks:\n${missing.join("\n")}\n--- its output:\n${tail(preview, 20)}`
            : undefined;
    report({ name, ok: problem === undefined, detail: problem });
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/**
 * A mandatory policy violation (test/fixtures/stacks/Pulumi.privileged.yaml: a privileged namespace
 * in prod) fails `pulumi preview --policy-pack policy` with exit code 1 (docs/policy.md), naming
 * the policies the offline plan's --policy names.
 */
async function mandatoryViolation(work: string, env: NodeJS.ProcessEnv, pulumi: string, state: string): Promise<void> {
  const name = "mandatory policy violation (test/fixtures/stacks/Pulumi.privileged.yaml): pulumi preview --policy-pack policy exits 1";
  const file = path.join(work, "Pulumi.privileged.yaml");
  fs.copyFileSync(path.join(ROOT, "test", "fixtures", "stacks", "Pulumi.privileged.yaml"), file);
  try {
    const offline = await run(process.execPath, [...FAST_TS_NODE_ARGS, path.join(work, "scripts", "plan.ts"), "--stack", "privileged", "--policy", "--json"], { cwd: work, env: process.env });
    const findings = (JSON.parse(offline.stdout) as PlanDocument).policy ?? [];
    const mandatory = [...new Set(findings.filter((v) => v.enforcement === "mandatory").map((v) => v.policy))];
    const stackEnv = { ...env, PULUMI_BACKEND_URL: `file://${state}`, [WORLD_ENV]: path.join(path.dirname(state), "world-privileged") };
    const { config } = validateStackFile(file, "privileged", "Pulumi.privileged.yaml");
    writeWorld(stackEnv[WORLD_ENV], { ...offlineWorld(file, config), kubeServer: env.RELEASE_INFRA_KUBE_SERVER ?? "" });
    currentWorld = stackEnv[WORLD_ENV];
    const cli = (args: string[]) => run(pulumi, [...args, "--stack", "privileged", "--non-interactive"], { cwd: work, env: stackEnv });
    const init = await cli(["stack", "init", "--secrets-provider", "passphrase"]);
    const preview = init.code === 0 ? await cli(["preview", "--policy-pack", path.join(work, "policy")]) : init;
    const output = `${preview.stdout}\n${preview.stderr}`;
    const missing = mandatory.filter((policy) => !output.includes(policy));
    const problem =
      offline.code !== 5 || mandatory.length === 0
        ? `the offline plan exited ${offline.code} with ${mandatory.length} mandatory polic(ies)`
        : preview.code !== 1
          ? `pulumi preview exited ${preview.code}:\n${tail(preview, 20)}`
          : missing.length > 0
            ? `the engine's output names none of ${missing.join(", ")}:\n${tail(preview, 20)}`
            : undefined;
    report({ name, ok: problem === undefined, detail: problem });
  } finally {
    fs.rmSync(file, { force: true });
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const bin = buildEngine();
  const pulumi = path.join(bin, "pulumi");
  const version = execFileSync(pulumi, ["version"], { encoding: "utf8" }).trim();
  process.stdout.write(
    `pulumi CLI ${version} (built from github.com/pulumi/pulumi/pkg/v3 by scripts/engine/build.sh), with release-infra's own Node.js language host ` +
      `(scripts/engine/langhost: the Go module proxy answers 403 Forbidden for pulumi-language-nodejs at every version, and the host in sdk/v3 v3.68.0 cannot serve this CLI; docs/engine.md), ` +
      `Pulumi's own analyzer host and @pulumi/pulumi program and policy-pack runners, and stand-in provider plugins (no cloud)\n`,
  );
  const policyNodeModules = policyModules();
  for (const c of cases(process.argv.slice(2))) {
    const work = copyRepository(c.folder, policyNodeModules);
    const scratch = path.dirname(work);
    try {
      const { home, tools } = pulumiHome(scratch);
      const servers = await loopbackServers(scratch);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: `${bin}${path.delimiter}${tools}${path.delimiter}${process.env.PATH ?? ""}`,
        PULUMI_HOME: home,
        PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
        ARM_METADATA_HOSTNAME: servers.armHost,
        NODE_EXTRA_CA_CERTS: servers.caFile,
        RELEASE_INFRA_KUBE_SERVER: servers.kubeServer,
      };
      try {
        for (const stack of c.stacks) await runStack(c, work, stack, env, pulumi, { state: path.join(scratch, "state"), scratch });
        if (c.label === "root") {
          await invalidStackFile(work, env, pulumi, path.join(scratch, "state"));
          await mandatoryViolation(work, env, pulumi, path.join(scratch, "state"));
        }
      } finally {
        servers.close();
      }
    } finally {
      if (process.env.RELEASE_INFRA_ENGINE_KEEP) process.stdout.write(`kept ${scratch}\n`);
      else fs.rmSync(scratch, { recursive: true, force: true });
    }
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  process.stdout.write(`${Math.round((Date.now() - started) / 1000)} s\n`);
  process.stdout.write(`${outcomes.filter((o) => o.ok).length} passed, ${failed} failed\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.stdout.write(`0 passed, 1 failed\n`);
  process.exitCode = 1;
});
