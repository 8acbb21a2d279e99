/**
 * The offline plan's resource tree as text. By default repeated boilerplate is folded: labels and
 * tags every resource of a provider carries are printed once, inputs and dependencies that every
 * sibling of a type shares are printed once above them, `apiVersion`/`kind` implied by the type
 * token are left out, and each resource's dependencies fit on one line. `full` prints every input
 * and every dependency of every resource.
 */
import type { WireValue } from "../mocks";
import type { PlanDocument, PlannedResource } from "./planStack";
import { flattenInputs, shortType, T } from "./review/inputs";
import { annotateRoles, bypassActorName, nameOf } from "./review/names";

export interface TreeOptions {
  /** Every input and dependency, nothing folded. */
  full: boolean;
}

/** A resource's inputs as `path: value` lines, role GUIDs and bypass actors named. */
export function inputLines(r: Pick<PlannedResource, "inputs">): Map<string, string> {
  const flat = flattenInputs(r.inputs);
  const lines = new Map<string, string>();
  for (const [path, value] of flat) {
    const actor = /^(.*bypassActors\[\d+\])\.actorId$/.exec(path);
    const named = actor ? `${value} (${bypassActorName(flat.get(`${actor[1]}.actorType`), Number(value))})` : annotateRoles(value);
    lines.set(path, `${path}: ${named}`);
  }
  return lines;
}

/** `apiVersion` and `kind` of a Kubernetes type token: `kubernetes:networking.k8s.io/v1:NetworkPolicy`. */
function impliedByType(type: string): Record<string, string> {
  const match = /^kubernetes:([^:]+)\/([^:/]+):(\w+)$/.exec(type);
  if (!match) return {};
  return { apiVersion: match[1] === "core" ? match[2] : `${match[1]}/${match[2]}`, kind: match[3] };
}

const FOLDED_PREFIXES = ["metadata.labels.", "tags.", "labels."];

/**
 * Label and tag lines that are the same on every resource of a provider that has any: printed
 * once. Returns the folded lines per provider and the set of folded `provider path` keys.
 */
function stackWideLabels(resources: readonly PlannedResource[], lines: ReadonlyMap<string, Map<string, string>>) {
  const folded = new Map<string, string[]>();
  const keys = new Set<string>();
  for (const prefix of FOLDED_PREFIXES) {
    const byProvider = new Map<string, PlannedResource[]>();
    for (const r of resources) {
      if (![...(lines.get(r.urn)?.keys() ?? [])].some((k) => k.startsWith(prefix))) continue;
      const provider = r.type.split(":")[0];
      byProvider.set(provider, [...(byProvider.get(provider) ?? []), r]);
    }
    for (const [provider, members] of byProvider) {
      if (members.length < 2) continue;
      const first = lines.get(members[0].urn) ?? new Map<string, string>();
      for (const [path, line] of first) {
        if (!path.startsWith(prefix)) continue;
        if (members.every((m) => lines.get(m.urn)?.get(path) === line)) {
          folded.set(provider, [...(folded.get(provider) ?? []), line]);
          keys.add(`${provider} ${path}`);
        }
      }
    }
  }
  return { folded, keys, countOf: (provider: string) => resources.filter((r) => r.type.split(":")[0] === provider && r.custom).length };
}

/** The tree, then the outputs. */
export function renderTree(plan: PlanDocument, options: TreeOptions): string[] {
  const resources = plan.resources;
  const urns = new Set(resources.map((r) => r.urn));
  const children = new Map<string | null, PlannedResource[]>();
  for (const r of resources) {
    const parent = r.parent && urns.has(r.parent) ? r.parent : null;
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const cloud = (r: PlannedResource) => r.custom && r.type !== T.stack;

  // Each cloud resource's lines, before sibling folding.
  const lines = new Map<string, Map<string, string>>();
  for (const r of resources.filter(cloud)) {
    const own = inputLines(r);
    if (!options.full) for (const [k, v] of Object.entries(impliedByType(r.type))) if (r.inputs[k] === v) own.delete(k);
    lines.set(r.urn, own);
  }
  const out: string[] = [];
  let foldedKeys = new Set<string>();
  if (!options.full) {
    const wide = stackWideLabels(resources.filter(cloud), lines);
    foldedKeys = wide.keys;
    for (const [provider, folded] of wide.folded) out.push(`Every ${provider} resource that has labels or tags carries: ${folded.join(", ")}`);
    for (const r of resources.filter(cloud)) {
      const own = lines.get(r.urn);
      for (const path of [...(own?.keys() ?? [])]) if (foldedKeys.has(`${r.type.split(":")[0]} ${path}`)) own?.delete(path);
    }
  }
  const dependsOnLines = (r: PlannedResource) => r.dependsOn.map((d) => `dependsOn: ${nameOf(d)}`);

  const walk = (parent: string | null, indent: string) => {
    const list = children.get(parent) ?? [];
    // Siblings of one type share some lines: print those once above the run (never with --full).
    const shared = new Map<number, { count: number; type: string; common: string[] }>();
    const commonOf = new Map<string, Set<string>>();
    if (!options.full) {
      for (let i = 0; i < list.length; ) {
        let j = i;
        while (j < list.length && list[j].type === list[i].type && cloud(list[j])) j++;
        if (j - i >= 2) {
          const run = list.slice(i, j);
          const all = (r: PlannedResource) => [...(lines.get(r.urn)?.values() ?? []), ...dependsOnLines(r)];
          const common = all(run[0]).filter((line) => run.every((r) => all(r).includes(line)));
          // Only where it saves lines: the shared line costs one.
          if (common.length * run.length - 1 >= 3) {
            shared.set(i, { count: run.length, type: shortType(run[0].type), common });
            for (const r of run) commonOf.set(r.urn, new Set(common));
          }
        }
        i = Math.max(j, i + 1);
      }
    }
    list.forEach((r, i) => {
      const last = i === list.length - 1;
      const group = shared.get(i);
      if (group) {
        const deps = group.common.filter((l) => l.startsWith("dependsOn: ")).map((l) => l.slice("dependsOn: ".length));
        const inputs = group.common.filter((l) => !l.startsWith("dependsOn: "));
        const text = [inputs.join(", "), deps.length ? `dependsOn: ${deps.join(", ")}` : ""].filter(Boolean).join("; ");
        out.push(`${indent}├┄ each of the next ${group.count} ${group.type}: ${text}`);
      }
      const flags = [r.importId !== undefined && `adopted: pulumi import reads ${r.importId}`, r.protect && "protect", r.retainOnDelete && "retainOnDelete", r.deleteBeforeReplace && "deleteBeforeReplace", r.ignoreChanges.length > 0 && `ignoreChanges=${r.ignoreChanges.join(",")}`].filter(Boolean);
      out.push(`${indent}${last ? "└─ " : "├─ "}${r.type}  ${r.name}${flags.length ? `  [${flags.join(", ")}]` : ""}`);
      const detailIndent = `${indent}${last ? "   " : "│  "}${children.has(r.urn) ? "│ " : "  "}   `;
      if (cloud(r)) {
        const skip = commonOf.get(r.urn) ?? new Set<string>();
        for (const line of lines.get(r.urn)?.values() ?? []) if (!skip.has(line)) out.push(`${detailIndent}${line}`);
        const deps = dependsOnLines(r).filter((l) => !skip.has(l));
        if (options.full) for (const d of deps) out.push(`${detailIndent}${d}`);
        else if (deps.length) out.push(`${detailIndent}dependsOn: ${deps.map((l) => l.slice("dependsOn: ".length)).join(", ")}`);
      }
      walk(r.urn, `${indent}${last ? "   " : "│  "}`);
    });
  };
  walk(null, "");
  const outputs = [...flattenInputs(plan.outputs as WireValue).entries()].map(([k, v]) => `  ${k}: ${annotateRoles(v)}`);
  if (outputs.length) out.push("", "Outputs:", ...outputs);
  return out;
}
