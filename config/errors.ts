import { z } from "zod";

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
  return `${typeof value} ${JSON.stringify(value)}`;
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

/** One readable line per zod issue, for `<file>`, reading actual values from `input`. */
export function formatIssues(file: string, issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const at = (path: readonly PropertyKey[], message: string) =>
      lines.push(`${file}: ${path.length ? keyPath(path) : "config"}: ${message}`);
    const value = valueAt(input, issue.path);
    switch (issue.code) {
      case "unrecognized_keys": {
        const allowed = "allowed" in issue && Array.isArray(issue.allowed) ? issue.allowed.map(String) : [];
        for (const key of issue.keys) at([...issue.path, key], unknownKeyMessage(key, allowed));
        break;
      }
      case "invalid_type":
        at(issue.path, value === undefined ? `is required (${EXPECTED[issue.expected] ?? issue.expected})` : `must be ${EXPECTED[issue.expected] ?? issue.expected}, got ${describe(value)}`);
        break;
      case "invalid_value":
        at(issue.path, `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${describe(value)}`);
        break;
      case "too_small":
        if (!issue.message.startsWith("Too small")) at(issue.path, issue.message);
        else at(issue.path, issue.origin === "array" ? `must list at least ${issue.minimum} item(s)` : issue.origin === "string" ? `must not be empty` : `must be at least ${issue.minimum}, got ${describe(value)}`);
        break;
      case "too_big":
        if (!issue.message.startsWith("Too big")) at(issue.path, issue.message);
        else at(issue.path, issue.origin === "array" ? `must list at most ${issue.maximum} item(s)` : `must be at most ${issue.maximum}, got ${describe(value)}`);
        break;
      case "invalid_union":
        at(issue.path, `has an unexpected form, got ${describe(value)}`);
        break;
      case "invalid_key":
        at(issue.path, issue.issues.map((i) => `key ${JSON.stringify(String(issue.path.at(-1) ?? ""))} ${i.message}`).join("; "));
        break;
      default:
        // Show the offending scalar first, unless the message already quotes it.
        at(
          issue.path,
          value !== undefined && value !== null && typeof value !== "object" && !issue.message.includes(JSON.stringify(value))
            ? `${JSON.stringify(value)} ${issue.message}`
            : issue.message,
        );
    }
  }
  return lines;
}
