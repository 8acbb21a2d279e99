/**
 * The engine refuses a program that registers one URN twice, or whose alias names another
 * resource's URN (pulumi/pulumi sdk/go/common/diag/errors.go, "Duplicate resource URN '%v'; try
 * giving it a unique name" and "... conflicting with alias on resource with URN '%v'"); the mock
 * runtime accepts both. The offline plan refuses it too, naming the config entries that gave the
 * resource its name, so the fix is in the stack file, not in a failed `pulumi up`.
 */
import { namedKeyPath } from "../../config/errors";

interface Registration {
  urn: string;
  type: string;
  name: string;
  /** URNs of the resource's earlier names (resource option `aliases`). */
  aliases: readonly string[];
}

interface Leaf {
  path: (string | number)[];
  value: string;
}

/** Every string leaf of the stack config with its path (keys and list positions). */
function leaves(value: unknown, path: (string | number)[] = []): Leaf[] {
  if (typeof value === "string") return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((item, i) => leaves(item, [...path, i]));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  return [];
}

/** The values of the list items above a leaf that name themselves (`name`), as the resource names are built from them. */
function ancestorNames(root: unknown, path: (string | number)[]): string[] {
  const names: string[] = [];
  let current: unknown = root;
  for (const part of path.slice(0, -1)) {
    current = current !== null && typeof current === "object" ? (current as Record<string | number, unknown>)[part] : undefined;
    if (typeof part === "number" && current !== null && typeof current === "object" && typeof (current as { name?: unknown }).name === "string") {
      names.push((current as { name: string }).name.toLowerCase());
    }
  }
  return names;
}

/**
 * The config entries that most likely gave `name` twice: leaves whose values are equal (ignoring
 * case, as the names are lower-cased) and occur in the name, preferring those whose enclosing
 * named entries (repository, environment, ...) occur in it too.
 */
function sources(name: string, values: Record<string, unknown>): string[] {
  const lower = name.toLowerCase();
  const scored = leaves(values)
    .filter((l) => l.value.length > 0 && lower.includes(l.value.toLowerCase()))
    .map((l) => ({ ...l, score: ancestorNames(values, l.path).filter((n) => lower.includes(n)).length }));
  const groups = new Map<string, typeof scored>();
  for (const l of scored) groups.set(l.value.toLowerCase(), [...(groups.get(l.value.toLowerCase()) ?? []), l]);
  let best: typeof scored = [];
  let bestRank = -1;
  for (const [value, group] of groups) {
    const top = Math.max(...group.map((l) => l.score));
    const members = group.filter((l) => l.score === top);
    // A repeated value that explains more of the name (more named ancestors, then a longer value) wins.
    const rank = top * 1000 + value.length;
    if (members.length >= 2 && rank > bestRank) {
      best = members;
      bestRank = rank;
    }
  }
  return best.map((l) => namedKeyPath(l.path, values));
}

/**
 * One line per URN registered more than once, and per alias that names another resource's URN:
 * `<file>: <paths>: ...`. Empty when the engine would accept every registration.
 */
export function duplicateUrnProblems(resources: readonly Registration[], values: Record<string, unknown>, file: string): string[] {
  const seen = new Map<string, Registration[]>();
  for (const r of resources) seen.set(r.urn, [...(seen.get(r.urn) ?? []), r]);
  const where = (name: string) => sources(name, values).join(" and ") || "config";
  const duplicates = [...seen.values()]
    .filter((rs) => rs.length > 1)
    .map(
      (rs) =>
        `${file}: ${where(rs[0].name)}: these give ${rs.length} resources one name (${rs[0].type} "${rs[0].name}"); Pulumi refuses a duplicate resource URN (${rs[0].urn}): make the entries differ or remove the repeat`,
    );
  const aliasClashes = resources.flatMap((r) =>
    r.aliases
      .filter((alias) => alias !== r.urn && seen.has(alias))
      .map((alias) => `${file}: ${where(r.name)}: ${r.type} "${r.name}" keeps the state of its earlier name ${alias}, which another resource of this stack has now; Pulumi refuses that alias: rename one of them`),
  );
  return [...duplicates, ...aliasClashes];
}
