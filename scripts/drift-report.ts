/**
 * Drift report: reads the JSON document that `pulumi preview --json` prints (stdin) and writes a
 * Markdown report of what differs between the stack and the program (stdout). The drift workflow
 * (.github/workflows/drift.yml) runs it on `pulumi preview --refresh --expect-no-changes --json`.
 *
 *   npm run drift-report -- --stack NAME < preview.json > report.md
 *
 * Exit codes: 0 no changes; 1 changes (drift), including a preview its checks failed; 2 input it
 * cannot read, a preview that failed for another reason (a broken run, not drift), or bad
 * arguments (one line on stderr). Secret values never reach the report: the CLI prints them as "[secret]", and the
 * secret signature objects of Pulumi's wire format are masked too.
 */
import * as fs from "fs";
import { z } from "zod";
import { PREVIEW_CHECKS_FAILED } from "../components/takeOver";

/** Pulumi's wire-format marker of a secret value: `{ [SECRET_SIG_KEY]: SECRET_SIG, value }`. */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** How the CLI serializes a value only known after apply. */
const UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const MAX_VALUE_CHARS = 160;

const stateSchema = z.object({
  type: z.string().optional(),
  inputs: z.record(z.string(), z.unknown()).optional(),
  outputs: z.record(z.string(), z.unknown()).optional(),
});

const stepSchema = z.object({
  op: z.string(),
  urn: z.string(),
  oldState: stateSchema.optional(),
  newState: stateSchema.optional(),
  diffReasons: z.array(z.string()).optional(),
  replaceReasons: z.array(z.string()).optional(),
  detailedDiff: z.record(z.string(), z.object({ kind: z.string(), inputDiff: z.boolean().optional() })).nullable().optional(),
});

const previewSchema = z.object({
  steps: z.array(stepSchema).optional(),
  changeSummary: z.record(z.string(), z.number()).optional(),
  diagnostics: z.array(z.object({ urn: z.string().optional(), message: z.string().optional(), severity: z.string().optional() })).optional(),
});

export type PreviewDocument = z.infer<typeof previewSchema>;
type PreviewStep = z.infer<typeof stepSchema>;

/** Input that is not a `pulumi preview --json` document. */
export class InputError extends Error {}

export interface DriftReport {
  /** True when the preview proposes any change. */
  drift: boolean;
  /** The Markdown report. */
  markdown: string;
}

/** Parses and checks the shape of `pulumi preview --json` output. Throws InputError. */
export function parsePreview(text: string): PreviewDocument {
  if (text.trim() === "") throw new InputError("stdin is empty; pipe the output of `pulumi preview --json` into this command");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`stdin is not JSON (${err instanceof Error ? err.message : String(err)}); expected the output of \`pulumi preview --json\``);
  }
  const parsed = previewSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? issue.path.join(".") : "document";
    throw new InputError(`stdin is not a \`pulumi preview --json\` document: ${where}: ${issue.message}`);
  }
  if (parsed.data.steps === undefined && parsed.data.changeSummary === undefined) {
    throw new InputError("stdin is not a `pulumi preview --json` document: it has neither steps nor changeSummary");
  }
  return parsed.data;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A secret as the CLI prints it, or in Pulumi's wire format. */
function isSecret(value: unknown): boolean {
  return value === "[secret]" || (isRecord(value) && value[SECRET_SIG_KEY] === SECRET_SIG);
}

/** Replaces secrets and unknowns by markers and drops the bridge's `__defaults` bookkeeping. */
function mask(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(mask);
  if (isRecord(value)) {
    if (isSecret(value)) return "[secret]";
    return Object.fromEntries(Object.entries(value).filter(([k]) => k !== "__defaults").map(([k, v]) => [k, mask(v)]));
  }
  if (value === UNKNOWN_SENTINEL) return "[unknown]";
  return value;
}

function containsSecret(value: unknown): boolean {
  if (isSecret(value)) return true;
  if (Array.isArray(value)) return value.some(containsSecret);
  if (isRecord(value)) return Object.values(value).some(containsSecret);
  return false;
}

/** Splits a property path as the engine writes it (`a.b[0]["x.y"]`) into keys and indexes. */
function parsePath(path: string): Array<string | number> {
  const segments: Array<string | number> = [];
  const token = /\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|\.?([^.[\]]+)/g;
  for (let match = token.exec(path); match !== null; match = token.exec(path)) {
    if (match[1] !== undefined) segments.push(match[1].replace(/\\(.)/g, "$1"));
    else if (match[2] !== undefined) segments.push(Number(match[2]));
    else segments.push(match[3]);
  }
  return segments;
}

/** The value at a property path; anything below a secret is the secret itself. */
function valueAt(root: Record<string, unknown> | undefined, path: string): unknown {
  let current: unknown = root;
  for (const segment of parsePath(path)) {
    if (isSecret(current)) return "[secret]";
    if (typeof segment === "number" && Array.isArray(current)) current = current[segment];
    else if (typeof segment === "string" && isRecord(current)) current = current[segment];
    else return undefined;
  }
  return current;
}

interface PropertyChange {
  path: string;
  old: unknown;
  new: unknown;
  replaces: boolean;
}

/**
 * The changed properties of a step. The old value comes from the old inputs when the engine says
 * the diff is between inputs, else from the old state's outputs (after `--refresh`: the cloud's
 * current value); the new value is the program's input.
 */
function propertyChanges(step: PreviewStep): PropertyChange[] {
  const replaceReasons = new Set(step.replaceReasons ?? []);
  const oldValue = (path: string, inputDiff: boolean) =>
    inputDiff ? valueAt(step.oldState?.inputs, path) : (valueAt(step.oldState?.outputs, path) ?? valueAt(step.oldState?.inputs, path));
  if (step.detailedDiff && Object.keys(step.detailedDiff).length > 0) {
    return Object.entries(step.detailedDiff).map(([path, diff]) => ({
      path,
      old: diff.kind.startsWith("add") ? undefined : oldValue(path, diff.inputDiff ?? false),
      new: diff.kind.startsWith("delete") ? undefined : valueAt(step.newState?.inputs, path),
      replaces: diff.kind.endsWith("-replace") || replaceReasons.has(String(parsePath(path)[0])),
    }));
  }
  return (step.diffReasons ?? []).map((path) => ({
    path,
    old: oldValue(path, false),
    new: valueAt(step.newState?.inputs, path),
    replaces: replaceReasons.has(path),
  }));
}

/** Steps that are changes: not `same`/`read`, replacement sub-steps folded into their `replace`. */
function changedSteps(steps: PreviewStep[]): PreviewStep[] {
  const replaced = new Set(steps.filter((s) => s.op === "replace").map((s) => s.urn));
  return steps.filter((step) => {
    if (step.op === "same" || step.op === "read") return false;
    if ((step.op === "create-replacement" || step.op === "delete-replaced") && replaced.has(step.urn)) return false;
    // A refresh step only matters when it found a difference.
    if (step.op === "refresh") return propertyChanges(step).length > 0;
    return true;
  });
}

const OP_SYMBOL: Record<string, string> = { create: "+", update: "~", delete: "-", replace: "+-", refresh: "~" };

/** A Markdown code span that survives table cells: pipes escaped, backticks fenced. */
function code(text: string): string {
  const flat = text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
  return flat.includes("`") ? `\`\` ${flat} \`\`` : `\`${flat}\``;
}

function formatValue(value: unknown): string {
  if (value === undefined) return "_(none)_";
  const text = JSON.stringify(value);
  return code(text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text);
}

function typeOf(step: PreviewStep): string {
  const fromState = step.newState?.type ?? step.oldState?.type;
  if (fromState) return fromState;
  const qualified = step.urn.split("::")[2] ?? step.urn;
  return qualified.split("$").pop() ?? qualified;
}

function nameOf(urn: string): string {
  return urn.split("::").slice(3).join("::") || urn;
}

function resourceSection(step: PreviewStep): string[] {
  const symbol = OP_SYMBOL[step.op] ?? "*";
  const lines = [`### ${symbol} ${step.op} ${code(typeOf(step))} ${code(nameOf(step.urn))}`, ""];
  if (step.op === "create") lines.push("Not in the stack's state (deleted outside Pulumi, or new in the program): `pulumi up` would create it.");
  else if (step.op === "delete") lines.push("In the stack's state but no longer in the program: `pulumi up` would delete it.");
  const changes = propertyChanges(step);
  if (changes.length > 0) {
    lines.push("| property | old (stack) | new (program) |", "|---|---|---|");
    for (const change of changes) {
      const old = mask(change.old);
      const next = mask(change.new);
      // A property that is secret on either side is masked on both, so a value that was stored in
      // plain text before it became secret does not leak.
      const secret = containsSecret(old) || containsSecret(next);
      const oldText = secret && old !== undefined ? code("[secret]") : formatValue(old);
      const newText = secret && next !== undefined ? code("[secret]") : formatValue(next);
      lines.push(`| ${code(change.path)}${change.replaces ? " (forces replacement)" : ""} | ${oldText} | ${newText} |`);
    }
  } else if (step.op !== "create" && step.op !== "delete") {
    lines.push("The provider reported no property-level details for this change.");
  }
  lines.push("");
  return lines;
}

/** Counts per operation: the engine's changeSummary when present, else counted from the steps. */
function operationCounts(doc: PreviewDocument, steps: PreviewStep[]): Array<[string, number]> {
  const counts = new Map<string, number>();
  if (doc.changeSummary) {
    for (const [op, count] of Object.entries(doc.changeSummary)) if (op !== "same" && count > 0) counts.set(op, count);
  } else {
    for (const step of steps) counts.set(step.op, (counts.get(step.op) ?? 0) + 1);
  }
  return [...counts.entries()];
}

/**
 * The lines of the errors that failed the preview: the program's checks (components/takeOver.ts,
 * components/githubTakeOver.ts) fail it with one line per object that exists and that the config
 * does not declare or the stack does not manage, such as a deployment policy or an environment
 * secret added by hand, each with its fix.
 */
function failedChecks(doc: PreviewDocument): string[] {
  const errors = (doc.diagnostics ?? []).filter((d) => d.severity === "error").map((d) => d.message ?? "");
  const checks = errors.filter((m) => m.includes(PREVIEW_CHECKS_FAILED));
  // Any other error (a login, the backend, a provider, the program) means the preview broke: the
  // stack was not checked, which is no drift report's to judge. Its message stays in the run log.
  if (errors.length > checks.length) throw new InputError("the preview failed for another reason than its checks (see its log): a broken run, not drift");
  return checks
    .flatMap((m) => m.slice(m.indexOf(PREVIEW_CHECKS_FAILED) + PREVIEW_CHECKS_FAILED.length).split("\n"))
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

/** Builds the Markdown drift report of one stack from a parsed preview document. */
export function driftReport(doc: PreviewDocument, stack: string): DriftReport {
  const steps = changedSteps(doc.steps ?? []);
  const counts = operationCounts(doc, steps);
  const checks = failedChecks(doc);
  const drift = steps.length > 0 || counts.length > 0 || checks.length > 0;
  const lines: string[] = [];
  if (!drift) {
    lines.push(`## No drift in stack ${code(stack)}`, "", "The stack's resources match the program.", "");
  } else if (steps.length === 0 && counts.length === 0) {
    lines.push(`## Drift in stack ${code(stack)}`, "", "The preview failed its checks: objects exist that the config does not declare or this stack does not manage.", "");
  } else {
    const total = counts.reduce((sum, [, n]) => sum + n, 0);
    lines.push(
      `## Drift in stack ${code(stack)}`,
      "",
      `\`pulumi preview --refresh\` proposes ${total} ${total === 1 ? "change" : "changes"}: the resources as they are now ("old") differ from what the program declares ("new").`,
      "",
      "| operation | resources |",
      "|---|---|",
      ...counts.map(([op, n]) => `| ${op} | ${n} |`),
      "",
      ...steps.flatMap(resourceSection),
      "To restore the program's state run `pulumi up --refresh` for the stack; to keep the change, adopt it in the program or stack config until `pulumi preview --refresh` is empty.",
      "",
    );
  }
  if (checks.length > 0) {
    lines.push("### Found by the preview's checks", "", "Each line names the object and its fix: declare it in the stack config, or delete it.", "", ...checks.map((line) => `- ${line}`), "");
  }
  const notable = (doc.diagnostics ?? []).filter((d) => d.severity === "warning");
  if (notable.length > 0) {
    lines.push("### Diagnostics", "");
    for (const d of notable) lines.push(`- **${d.severity}**${d.urn ? ` ${code(nameOf(d.urn))}` : ""}: ${(d.message ?? "").trim().replace(/\s*\n\s*/g, " ")}`);
    lines.push("");
  }
  return { drift, markdown: lines.join("\n") };
}

const USAGE = "usage: npm run drift-report -- --stack NAME < preview.json";

function parseArgs(argv: string[]): string {
  if (argv.length !== 2 || argv[0] !== "--stack" || argv[1].startsWith("--")) throw new InputError(USAGE);
  return argv[1];
}

function main(argv: string[]): number {
  try {
    const stack = parseArgs(argv);
    const report = driftReport(parsePreview(fs.readFileSync(0, "utf8")), stack);
    process.stdout.write(report.markdown);
    return report.drift ? 1 : 0;
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    process.stderr.write(`drift-report: ${err.message.replace(/\s*\n\s*/g, " ").trim()}\n`);
    return 2;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
