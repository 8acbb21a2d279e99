import { z } from "zod";
import { mayBeSecret } from "./secretShapes";

/** An invalid stack config: one line per problem, `<file>: <key path>: <what is wrong and what is allowed>`. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

/** `release-infra:azure.clusters[0].namespaces[1].name` from a zod path. */
export function keyPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** How a list item names itself in a key path: its name, package, or cluster/namespace. */
function identity(item: unknown): string | undefined {
  if (item === null || typeof item !== "object") return undefined;
  const { name, package: pkg, cluster, namespace } = item as Record<string, unknown>;
  if (typeof name === "string" && name !== "") return name;
  if (typeof pkg === "string" && pkg !== "") return pkg;
  if (typeof cluster === "string" && typeof namespace === "string") return `${cluster}/${namespace}`;
  return undefined;
}

/**
 * The key path by the names the user wrote: `release-infra:github.repositories[web-sdk].environments[cdn-production].reviewers`.
 * A list item without a name of its own, or whose name is listed twice, keeps its position.
 */
export function namedKeyPath(path: readonly PropertyKey[], root: unknown, concealedKeys: ReadonlySet<string> = new Set()): string {
  let out = "";
  let current: unknown = root;
  for (const [i, part] of path.entries()) {
    if (typeof part === "number") {
      const list = Array.isArray(current) ? current : [];
      const name = identity(list[part]);
      const unique = name !== undefined && list.filter((item) => identity(item) === name).length === 1 && !mayBeSecret(name);
      out += unique ? `[${name}]` : `[${part}]`;
    } else {
      // A key the user wrote (a variable or secret name) may itself be a pasted secret.
      const hidden = mayBeSecret(String(part)) || concealedKeys.has(keyPath(path.slice(0, i + 1)));
      const key = hidden ? "<key that may be a secret, not shown>" : String(part);
      out += out === "" ? key : `.${key}`;
    }
    current = current !== null && typeof current === "object" ? (current as Record<PropertyKey, unknown>)[part] : undefined;
  }
  return out;
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

/** The closest of `candidates` to `key`, if it is close enough to be a likely typo. */
export function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = distance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** The message for a key the schema does not know. */
function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  const suggestion = closest(key, allowed);
  return suggestion
    ? `unknown key; did you mean "${suggestion}"?`
    : `unknown key; allowed keys are ${allowed.join(", ")}`;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string" && mayBeSecret(value)) return "a string that may be a secret (not shown)";
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** The allowed value the user probably meant: the same one in other case, or a close spelling. */
function suggestValue(value: unknown, allowed: readonly unknown[]): string | undefined {
  if (typeof value !== "string") return undefined;
  const strings = allowed.filter((v): v is string => typeof v === "string");
  return strings.find((v) => v.toLowerCase() === value.toLowerCase()) ?? closest(value, strings);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const part of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  boolean: "true or false",
  object: "an object (a YAML mapping)",
  array: "a list",
  record: "an object (a YAML mapping)",
};

/** An issue whose value must not be printed: a name rule broken where a secret or variable is named, a credential in a variable (sections/common.ts CONCEALED). */
function isConcealed(issue: z.core.$ZodIssue): boolean {
  return issue.code === "custom" && issue.params?.concealed === true;
}

/** One readable line per zod issue, for `<file>`, reading actual values from `input`. */
export function formatIssues(file: string, issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  const lines: string[] = [];
  // Record keys that broke a name rule where a secret or variable is named: never printed, in any
  // line's path; values of concealed issues (sections/common.ts CONCEALED) in no line about them.
  const concealedKeys = new Set(issues.filter((issue) => issue.code === "invalid_key" && issue.issues.some(isConcealed)).map((issue) => keyPath(issue.path)));
  const concealed = new Set([...concealedKeys, ...issues.filter(isConcealed).map((issue) => keyPath(issue.path))]);
  for (const issue of issues) {
    const at = (path: readonly PropertyKey[], message: string) =>
      lines.push(`${file}: ${path.length ? namedKeyPath(path, input, concealedKeys) : "config"}: ${message}`);
    const value = valueAt(input, issue.path);
    switch (issue.code) {
      case "unrecognized_keys": {
        const allowed = "allowed" in issue && Array.isArray(issue.allowed) ? issue.allowed.map(String) : [];
        for (const key of issue.keys) at([...issue.path, key], unknownKeyMessage(key, allowed));
        break;
      }
      case "invalid_type": {
        // A string where a list or a mapping belongs (`secrets: DEPLOY_KEY = ...`) may be a pasted secret: its kind is enough.
        const got = typeof value === "string" && ["array", "record", "object"].includes(issue.expected) ? "a string (not shown: it may be a secret)" : describe(value);
        at(issue.path, value === undefined ? `is required (${EXPECTED[issue.expected] ?? issue.expected})` : `must be ${EXPECTED[issue.expected] ?? issue.expected}, got ${got}`);
        break;
      }
      case "invalid_value": {
        const suggestion = suggestValue(value, issue.values);
        at(issue.path, `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${describe(value)}${suggestion ? `; did you mean ${JSON.stringify(suggestion)}?` : ""}`);
        break;
      }
      case "too_small":
        if (!issue.message.startsWith("Too small")) at(issue.path, issue.message);
        else at(issue.path, issue.origin === "array" ? `must list at least ${issue.minimum} item(s)` : issue.origin === "string" ? `must not be empty` : `must be ${issue.inclusive === false ? "greater than" : "at least"} ${issue.minimum}, got ${describe(value)}`);
        break;
      case "too_big":
        if (!issue.message.startsWith("Too big")) at(issue.path, issue.message);
        else at(issue.path, issue.origin === "array" ? `must list at most ${issue.maximum} item(s)` : `must be at most ${issue.maximum}, got ${describe(value)}`);
        break;
      case "invalid_union":
        at(issue.path, `has an unexpected form, got ${describe(value)}`);
        break;
      case "invalid_key": {
        const key = String(issue.path.at(-1) ?? "");
        const shown = concealed.has(keyPath(issue.path)) || mayBeSecret(key) ? "(not shown: it may be a secret)" : JSON.stringify(key);
        at(issue.path, issue.issues.map((i) => `key ${shown} ${i.message}`).join("; "));
        break;
      }
      default:
        // Show the offending scalar first, unless the message already quotes it, it may be a secret, or it broke a name rule of a secret or variable.
        at(
          issue.path,
          value !== undefined && value !== null && typeof value !== "object" && !concealed.has(keyPath(issue.path)) && !issue.message.includes(JSON.stringify(value)) && !(typeof value === "string" && mayBeSecret(value))
            ? `${JSON.stringify(value)} ${issue.message}`
            : issue.message,
        );
    }
  }
  return lines;
}
