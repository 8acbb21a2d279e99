/**
 * The difference between two plans of one stack (e.g. the base branch's and a pull request's):
 * each cloud resource created, updated (which inputs), replaced (which inputs force it, and where
 * that rule comes from) or deleted, and first what the change does to access: rights granted and
 * revoked, who can use an identity, reviewers, deployable refs, ruleset rules, admin bypass,
 * protected resources.
 */
import type { PlanDocument, PlannedResource } from "../planStack";
import { renderTree } from "../render";
import { accessMap, type AccessMap, approvalOf, grantLine, parseSubject, refsOf, rulesetLine } from "./accessMap";
import { flattenInputs, UNKNOWN } from "./inputs";
import { nameOf } from "./names";
import { type ReplaceReason, replacementReasons, REPLACEMENT_RULES } from "./replacement";

export interface InputChange {
  path: string;
  /** Absent when the input is added. */
  before?: string;
  /** Absent when the input is removed. */
  after?: string;
  /** One side is only known after apply: the value may or may not change. */
  uncertain: boolean;
}

export interface ResourceChange {
  op: "create" | "update" | "replace" | "delete";
  type: string;
  name: string;
  urn: string;
  inputs: InputChange[];
  /** Resource option changes: `protect: true → false`. */
  options: string[];
  replaceReasons: ReplaceReason[];
  /** The base resource this one was known as (an alias, or a rename without one). */
  previous?: string;
  notes: string[];
}

export type AccessChangeKind = "weakens" | "grants" | "revokes" | "strengthens" | "changes";

export interface AccessChange {
  kind: AccessChangeKind;
  text: string;
}

export interface PlanDiff {
  stack: string;
  access: AccessChange[];
  resources: ResourceChange[];
  unchanged: number;
}

const cloud = (r: PlannedResource) => r.custom && r.type !== "pulumi:pulumi:Stack";

/** Whether `path` is `ignored` or inside it (`tags` covers `tags.team`, `rules` covers `rules[0].x`). */
const within = (path: string, ignored: string) => path === ignored || path.startsWith(`${ignored}.`) || path.startsWith(`${ignored}[`);

/**
 * The inputs that differ. For an object in state the engine sends its old value for every
 * `ignoreChanges` path of the new registration (pulumi/pulumi pkg/resource/deploy
 * step_generator.go, processIgnoreChanges), so those are no change at all.
 */
function compareInputs(base: PlannedResource, head: PlannedResource): InputChange[] {
  const before = flattenInputs(base.inputs);
  const after = flattenInputs(head.inputs);
  const changes: InputChange[] = [];
  for (const path of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const b = before.get(path);
    const a = after.get(path);
    if (b === a || head.ignoreChanges.some((ignored) => within(path, ignored))) continue;
    changes.push({ path, before: b, after: a, uncertain: b === UNKNOWN || a === UNKNOWN });
  }
  return changes;
}

function optionChanges(base: PlannedResource, head: PlannedResource): string[] {
  const out: string[] = [];
  for (const option of ["protect", "retainOnDelete", "deleteBeforeReplace"] as const) {
    if (base[option] !== head[option]) out.push(`${option}: ${String(base[option])} → ${String(head[option])}`);
  }
  if (base.ignoreChanges.join(",") !== head.ignoreChanges.join(",")) out.push(`ignoreChanges: [${base.ignoreChanges.join(", ")}] → [${head.ignoreChanges.join(", ")}]`);
  return out;
}

/** The values that identify the cloud object: the inputs whose change would replace it (names when there are none). */
function identityOf(r: PlannedResource): string | undefined {
  const paths = [...(REPLACEMENT_RULES[r.type] ?? []).flatMap((rule) => rule.paths), ...(r.type.startsWith("kubernetes:") ? ["metadata.name", "metadata.namespace"] : [])];
  const flat = flattenInputs(r.inputs);
  const values = (paths.length > 0 ? paths : ["name", "repository"]).map((p) => flat.get(p)).filter((v): v is string => v !== undefined);
  return values.length > 0 && !values.includes(UNKNOWN) ? `${r.type} ${values.join(" ")}` : undefined;
}

function updateOrReplace(base: PlannedResource, head: PlannedResource, previous?: string): ResourceChange | undefined {
  const inputs = compareInputs(base, head);
  const options = optionChanges(base, head);
  if (inputs.length === 0 && options.length === 0 && previous === undefined) return undefined;
  const { reasons, known } = replacementReasons(head, inputs.map((c) => c.path));
  const notes: string[] = [];
  if (!known && inputs.length > 0) notes.push(`no replacement rules known for ${head.type}: shown as an update`);
  const replace = reasons.length > 0;
  if (replace && reasons.every((r) => inputs.find((c) => c.path === r.path)?.uncertain)) notes.push("replaced only if the value known after apply differs");
  if (replace) notes.push(head.deleteBeforeReplace ? "deleted first, then created (deleteBeforeReplace)" : "the new one is created before the old one is deleted");
  const sameName = (REPLACEMENT_RULES[head.type] ?? []).flatMap((r) => r.paths).filter((p) => /(^n|N)ame$/.test(p) && !inputs.some((c) => c.path === p));
  if (replace && !head.deleteBeforeReplace && sameName.length > 0) {
    notes.push(`${sameName.join(", ")} stays the same, and the cloud may refuse a second object of that name while the old one exists: consider deleteBeforeReplace`);
  }
  if (replace && (base.protect || head.protect)) notes.push("protected: Pulumi refuses to replace it until protect is removed");
  if (previous) notes.push(`was ${nameOf(previous)} (kept by an alias)`);
  return { op: replace ? "replace" : "update", type: head.type, name: head.name, urn: head.urn, inputs, options, replaceReasons: reasons, previous, notes };
}

/** The resource changes from `base` to `head`, in URN order: creates, updates, replaces and deletes. */
function resourceChanges(base: PlanDocument, head: PlanDocument): { changes: ResourceChange[]; unchanged: number } {
  const before = new Map(base.resources.filter(cloud).map((r) => [r.urn, r]));
  const after = head.resources.filter(cloud);
  const matched = new Set<string>();
  const changes: ResourceChange[] = [];
  let unchanged = 0;
  const created: PlannedResource[] = [];
  for (const h of after) {
    const exact = before.get(h.urn);
    const aliased = exact ? undefined : (h.aliases ?? []).find((a) => before.has(a) && !matched.has(a));
    const b = exact ?? (aliased ? before.get(aliased) : undefined);
    if (!b) {
      created.push(h);
      continue;
    }
    matched.add(b.urn);
    const change = updateOrReplace(b, h, aliased);
    if (change) changes.push(change);
    else unchanged++;
  }
  const deleted = [...before.values()].filter((b) => !matched.has(b.urn));
  // A URN change without an alias is a delete and a create; when both are the same cloud object, say so.
  for (const h of created) {
    const identity = identityOf(h);
    const twin = identity === undefined ? undefined : deleted.find((d) => d.type === h.type && identityOf(d) === identity);
    if (twin) {
      deleted.splice(deleted.indexOf(twin), 1);
      const change = updateOrReplace(twin, h) ?? { op: "update" as const, type: h.type, name: h.name, urn: h.urn, inputs: [], options: [], replaceReasons: [], notes: [] };
      changes.push({
        ...change,
        op: "replace",
        previous: twin.urn,
        replaceReasons: [{ path: "name", source: `the logical name changed from ${twin.name} without an alias (a new URN)` }],
        notes: [
          `Pulumi creates ${h.name} and then deletes ${twin.name}, which are the same cloud object: the create fails or the delete removes it; add aliases: [{ name: "${twin.name}" }] to keep it`,
          ...change.notes.filter((n) => !n.startsWith("the new one") && !n.startsWith("deleted first")),
        ],
      });
    } else {
      changes.push({ op: "create", type: h.type, name: h.name, urn: h.urn, inputs: [], options: [], replaceReasons: [], notes: [] });
    }
  }
  for (const d of deleted) {
    changes.push({ op: "delete", type: d.type, name: d.name, urn: d.urn, inputs: [], options: [], replaceReasons: [], notes: d.protect ? ["protected: Pulumi refuses to delete it until protect is removed"] : [] });
  }
  const rank = { create: 0, update: 1, replace: 2, delete: 3 } as const;
  changes.sort((a, b) => rank[a.op] - rank[b.op] || (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
  return { changes, unchanged };
}

/** One statement about access, and whether its appearance weakens or strengthens control. */
interface Fact {
  key: string;
  text: string;
  /** What adding this fact does; removing it does the opposite. */
  added: AccessChangeKind;
  removed: AccessChangeKind;
  /** For ordered values (approvals, wait timer): larger is stronger. */
  level?: number;
  /** The environment or ruleset the fact belongs to: a new or removed one is one line, not one per fact. */
  scope?: string;
}

const OPPOSITE: Record<AccessChangeKind, AccessChangeKind> = { weakens: "strengthens", strengthens: "weakens", grants: "revokes", revokes: "grants", changes: "changes" };
const fact = (key: string, text: string, added: AccessChangeKind, extra: Partial<Fact> = {}): Fact => ({ key, text, added, removed: OPPOSITE[added], ...extra });

function facts(map: AccessMap, plan: PlanDocument): Map<string, Fact> {
  const out = new Map<string, Fact>();
  const add = (f: Fact) => out.set(f.key, f);
  const owner = map.owner ? `${map.owner}/` : "";
  for (const repo of map.repositories) {
    const r = `${owner}${repo.repository}`;
    for (const rs of repo.rulesets) {
      const scope = `ruleset ${r} ${rs.name}`;
      const of = `ruleset ${rs.name} of ${r}`;
      add(fact(scope, `${of}: ${rulesetLine(rs)}`, "strengthens"));
      const inScope = { scope };
      if (rs.enforcement !== "active") add(fact(`${scope} enforcement`, `${of} is not enforced (${rs.enforcement})`, "weakens", inScope));
      for (const ref of rs.refs) add(fact(`${scope} ref ${ref}`, `${of} covers ${ref}`, "strengthens", inScope));
      for (const ref of rs.excludes) add(fact(`${scope} exclude ${ref}`, `${of} excludes ${ref}`, "weakens", inScope));
      for (const [rule, words] of rs.rules) if (rule !== "requiredStatusChecks") add(fact(`${scope} rule ${rule}`, `rule "${rule === "pullRequest" ? "pull request" : words}" of ${of}`, "strengthens", inScope));
      if (rs.approvals !== undefined) add(fact(`${scope} approvals`, `${of} requires ${rs.approvals} approval(s)`, "strengthens", { ...inScope, level: rs.approvals }));
      for (const d of rs.pullRequestDetails) add(fact(`${scope} pr ${d}`, `pull request rule of ${of}: ${d}`, "strengthens", inScope));
      for (const check of rs.checks) add(fact(`${scope} check ${check}`, `required check ${check} of ${of}`, "strengthens", inScope));
      for (const actor of rs.bypass) add(fact(`${scope} bypass ${actor}`, `${actor} may bypass ${of}`, "weakens", inScope));
    }
    if (repo.actionsDefaults && !(repo.actionsDefaults.includes("read-only") && repo.actionsDefaults.includes("cannot"))) {
      add(fact(`actions ${r}`, `Actions defaults of ${r}: ${repo.actionsDefaults}`, "weakens"));
    }
    for (const env of repo.environments) {
      const scope = `env ${r} ${env.environment}`;
      const e = `environment ${r}:${env.environment}`;
      add(fact(scope, `${e} (deploys from ${refsOf(env)}; approval: ${approvalOf(env)})`, "changes"));
      const inScope = { scope };
      for (const b of env.branches) add(fact(`${scope} branch ${b}`, `${e} deploys from branch ${b}`, "weakens", inScope));
      for (const t of env.tags) add(fact(`${scope} tag ${t}`, `${e} deploys from tag ${t}`, "weakens", inScope));
      if (env.refPolicy !== "custom") add(fact(`${scope} refpolicy`, `${e} deploys from ${env.refPolicy}`, "weakens", inScope));
      for (const reviewer of env.reviewers) add(fact(`${scope} reviewer ${reviewer}`, `reviewer ${reviewer} of ${e}`, "strengthens", inScope));
      if (env.reviewers.length > 0 && env.preventSelfReview) add(fact(`${scope} selfreview`, `${e} forbids reviewers approving their own runs`, "strengthens", inScope));
      if (env.waitMinutes > 0) add(fact(`${scope} wait`, `${e} waits ${env.waitMinutes} min`, "strengthens", { ...inScope, level: env.waitMinutes }));
      if (env.adminsCanBypass) add(fact(`${scope} adminbypass`, `admins can bypass the protection rules of ${e}`, "weakens", inScope));
      for (const p of env.publishes) add(fact(`${scope} publish ${p}`, `${e} publishes ${p} by trusted publishing`, "grants", inScope));
      for (const identity of env.identities) add(fact(`${scope} identity ${identity.name}`, `${e} receives ${identity.cloud} identity ${identity.name}`, "grants", inScope));
    }
  }
  const identities = [...new Set([...map.repositories.flatMap((r) => r.environments.flatMap((e) => e.identities)), ...map.unwiredIdentities])];
  for (const identity of identities) {
    const users = map.repositories.flatMap((r) => r.environments.filter((e) => e.identities.includes(identity)).map((e) => `${r.repository}:${e.environment}`));
    const who = `${identity.cloud} identity ${identity.name}${users.length ? ` (${users.join(", ")})` : ""}`;
    for (const g of identity.grants) add(fact(`grant ${identity.name} ${grantLine(g)}`, `${grantLine(g)} to ${who}`, "grants"));
    for (const subject of identity.subjects) {
      // Anything but an exact environment subject lets jobs outside the environment's protection use the identity.
      add(fact(`trust ${identity.name} ${subject}`, `${who} trusts ${subject}`, parseSubject(subject) ? "grants" : "weakens"));
    }
  }
  for (const { principal, grant } of map.otherGrants) add(fact(`grant ${principal} ${grantLine(grant)}`, `${grantLine(grant)} to ${principal}`, "grants"));
  for (const { principal, grant } of map.publicGrants) add(fact(`public ${principal} ${grantLine(grant)}`, `${grantLine(grant)} to everyone (${principal})`, "weakens"));
  for (const r of plan.resources.filter((x) => x.protect)) add(fact(`protect ${r.urn}`, `${r.name} is protected (protect)`, "strengthens"));
  for (const r of plan.resources.filter((x) => x.retainOnDelete)) add(fact(`retain ${r.urn}`, `${r.name} is kept in the cloud when removed from the stack (retainOnDelete)`, "strengthens"));
  return out;
}

function describeRemoved(f: Fact): string {
  if (f.key.startsWith("protect ")) return `${f.text.replace(/ is protected \(protect\)$/, "")}: protect dropped`;
  if (f.key.startsWith("retain ")) return `${f.text.split(" is kept")[0]}: retainOnDelete dropped`;
  if (f.key.startsWith("env ") && !f.scope) return `environment removed: ${f.text}`;
  if (f.key.startsWith("ruleset ") && !f.scope) return `ruleset removed: ${f.text}`;
  if (/ reviewer /.test(f.key)) return f.text.replace(/^reviewer (.+) of (.+)$/, "reviewer $1 removed from $2");
  if (/ (rule|check|pr) /.test(f.key)) return `${f.text} removed`;
  if (f.key.startsWith("grant ") || f.key.startsWith("trust ")) return f.text;
  return `no longer: ${f.text}`;
}

function describeAdded(f: Fact): string {
  if (f.key.startsWith("grant ") || f.key.startsWith("trust ")) return f.text;
  if (f.key.startsWith("env ") && !f.scope) return `new environment: ${f.text}`;
  if (f.key.startsWith("ruleset ") && !f.scope) return `new ruleset: ${f.text}`;
  if (f.key.endsWith(" adminbypass")) return `admin bypass enabled: ${f.text}`;
  if (/ reviewer /.test(f.key)) return f.text.replace(/^reviewer (.+) of (.+)$/, "reviewer $1 added to $2");
  if (/ (branch|tag) /.test(f.key)) return `ref added: ${f.text}`;
  if (/ identity /.test(f.key)) return f.text.replace(" receives ", " now receives ");
  return `now: ${f.text}`;
}

/** Access changes from base to head, the ones that weaken control or grant rights first. */
function accessChanges(base: PlanDocument, head: PlanDocument): AccessChange[] {
  const before = facts(accessMap(base), base);
  const after = facts(accessMap(head), head);
  const changes: AccessChange[] = [];
  for (const [key, f] of after) {
    const old = before.get(key);
    if (!old) {
      // A new environment or ruleset is one line; its parts are in it.
      if (!f.scope || before.has(f.scope)) changes.push({ kind: f.added, text: describeAdded(f) });
    } else if (old.level !== undefined && f.level !== undefined && old.level !== f.level) {
      changes.push({ kind: f.level < old.level ? "weakens" : "strengthens", text: `${old.text} → ${f.text}` });
    }
  }
  for (const [key, f] of before) {
    if (after.has(key) || (f.scope && !after.has(f.scope))) continue;
    changes.push({ kind: f.removed, text: describeRemoved(f) });
  }
  const rank: Record<AccessChangeKind, number> = { weakens: 0, grants: 1, revokes: 2, strengthens: 3, changes: 4 };
  return changes.sort((a, b) => rank[a.kind] - rank[b.kind] || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
}

/** The diff of two plans of the same stack; throws if they are of different stacks. */
export function diffPlans(base: PlanDocument, head: PlanDocument): PlanDiff {
  if (base.stack !== head.stack) throw new Error(`the base plan is of stack ${base.stack}, not ${head.stack}`);
  const { changes, unchanged } = resourceChanges(base, head);
  return { stack: head.stack, access: accessChanges(base, head), resources: changes, unchanged };
}

export const counts = (diff: PlanDiff) => ({
  create: diff.resources.filter((c) => c.op === "create").length,
  update: diff.resources.filter((c) => c.op === "update").length,
  replace: diff.resources.filter((c) => c.op === "replace").length,
  delete: diff.resources.filter((c) => c.op === "delete").length,
  unchanged: diff.unchanged,
});

export function countsLine(diff: PlanDiff): string {
  const c = counts(diff);
  return `${c.create} to create, ${c.update} to update, ${c.replace} to replace, ${c.delete} to delete, ${c.unchanged} unchanged`;
}

const SIGN: Record<ResourceChange["op"], string> = { create: "+", update: "~", replace: "±", delete: "-" };
const KIND_WORD: Record<AccessChangeKind, string> = { weakens: "! weakens", grants: "+ grants", revokes: "- revokes", strengthens: "✓ strengthens", changes: "~ changes" };

export const opSign = (op: ResourceChange["op"]) => SIGN[op];

export function inputChangeText(c: InputChange): string {
  if (c.before === undefined) return `${c.path}: + ${c.after ?? ""}`;
  if (c.after === undefined) return `${c.path}: - ${c.before}`;
  return `${c.path}: ${c.before} → ${c.after}${c.uncertain ? " (known after apply)" : ""}`;
}

/** The access changes as text, one per line. */
export function renderAccessChanges(diff: PlanDiff): string[] {
  return [diff.access.length ? `Access changes: ${diff.access.length}` : "Access changes: none", ...diff.access.map((a) => `  ${KIND_WORD[a.kind].padEnd(13)} ${a.text}`)];
}

/**
 * The resources the change creates, with their inputs, as the resource tree shows them: under
 * their components, repeated inputs folded unless `full`. Empty when it creates none.
 */
export function renderCreated(diff: PlanDiff, head: PlanDocument, full: boolean): string[] {
  const created = diff.resources.filter((c) => c.op === "create").map((c) => c.urn);
  if (created.length === 0) return [];
  const parents = new Map(head.resources.map((r) => [r.urn, r.parent]));
  const shown = new Set<string>();
  for (const urn of created) for (let at: string | null | undefined = urn; at && !shown.has(at); at = parents.get(at)) shown.add(at);
  return renderTree({ ...head, resources: head.resources.filter((r) => shown.has(r.urn)), outputs: {} }, { full });
}

/** Each updated, replaced or deleted resource with its changed inputs, what forces a replacement, and notes; then the created ones with their inputs. */
export function renderResourceChanges(diff: PlanDiff, head: PlanDocument, full: boolean): string[] {
  if (diff.resources.length === 0) return ["Resources: no changes"];
  const lines = ["Resources:"];
  for (const c of diff.resources.filter((x) => x.op !== "create")) {
    lines.push(`  ${SIGN[c.op]} ${c.op.padEnd(8)} ${c.type}  ${c.name}`);
    const reasons = new Map(c.replaceReasons.map((r) => [r.path, r.source]));
    for (const input of c.inputs) lines.push(`      ${inputChangeText(input)}${reasons.has(input.path) ? `  [replaces: ${reasons.get(input.path) ?? ""}]` : ""}`);
    for (const r of c.replaceReasons.filter((x) => !c.inputs.some((i) => i.path === x.path))) lines.push(`      replaces: ${r.path}: ${r.source}`);
    for (const o of c.options) lines.push(`      ${o}`);
    for (const n of c.notes) lines.push(`      note: ${n}`);
  }
  const created = renderCreated(diff, head, full);
  if (created.length) lines.push(`  + created (${counts(diff).create}), with their inputs${full ? "" : " (repeated inputs folded; --full shows every input)"}:`, ...created.map((l) => `    ${l}`));
  return lines;
}
