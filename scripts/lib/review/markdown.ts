/**
 * The plan as a review document in GitHub Markdown, for a pull request comment: the summary, who
 * can do what as tables, a Mermaid graph (environment -> identity -> object), then the changes
 * against a base plan (access changes first) or the resource tree.
 *
 * Every value from the plan is written inside a code span or code block, so names cannot inject
 * Markdown, HTML or @mentions; Mermaid node ids are generated, labels entity-encoded. The document
 * fits GitHub's comment limit of 65,536 characters: the tree or resource changes, then the graph,
 * are cut with a note when it would not.
 */
import type { PlanDocument } from "../planStack";
import { renderTree } from "../render";
import { accessMap, type AccessMap, approvalOf, grantLine, identityLine, refsOf, rulesetLine } from "./accessMap";
import { counts, type InputChange, inputChangeText, opSign, type PlanDiff, renderCreated } from "./diff";
import { kindList, mandatoryCount, manualSteps, splitFindings, summarize } from "./summary";
import type { Review } from "./text";

/** GitHub rejects comments longer than 65,536 characters; the workflow adds a marker line. */
export const COMMENT_LIMIT = 65_536;
const DOCUMENT_LIMIT = COMMENT_LIMIT - 512;
/** Edges beyond this make the graph unreadable in a comment. */
const MAX_EDGES = 80;

/** `text` as an inline code span (table-safe: pipes escaped, no line breaks). */
export function code(text: string): string {
  const flat = text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = flat.startsWith("`") || flat.endsWith("`") || flat === "" ? " " : "";
  return `${fence}${pad}${flat}${pad}${fence}`;
}

/** A fenced code block that no line of `lines` can close. */
function block(lines: string[], info = "text"): { head: string; tail: string } {
  const longest = Math.max(2, ...lines.flatMap((l) => [...l.matchAll(/`+/g)].map((m) => m[0].length)));
  const fence = "`".repeat(longest + 1);
  return { head: `${fence}${info}`, tail: fence };
}

/** A Mermaid label: anything but plain characters as an entity code (#34; for "). */
export const mermaidLabel = (text: string) => `"${[...text].map((ch) => (/[A-Za-z0-9 ._:/@()\-,+*=~]/.test(ch) ? ch : `#${ch.codePointAt(0) ?? 32};`)).join("")}"`;

interface Section {
  /** Lower is cut first when the document is too long; Infinity is never cut. */
  priority: number;
  /** Put before the cut note, so it stays valid inside the section's block (`%% ` in Mermaid). */
  notePrefix?: string;
  head: string[];
  body: string[];
  tail: string[];
}

const section = (priority: number, head: string[], body: string[] = [], tail: string[] = []): Section => ({ priority, head, body, tail });
const text = (s: Section) => [...s.head, ...s.body, ...s.tail].join("\n");

/** Cuts the lowest-priority sections' bodies until the document fits, saying so where it cut. */
function fit(sections: Section[], limit: number, hint: string): string {
  const total = () => sections.map(text).join("\n\n").length;
  const note = (n: number) => `… ${n} more line(s) cut to fit GitHub's comment limit; ${hint}`;
  for (const s of sections.filter((x) => x.priority !== Infinity).sort((a, b) => a.priority - b.priority)) {
    const over = total() - limit;
    if (over <= 0) break;
    let kept = s.body.length;
    let removed = 0;
    while (kept > 0 && removed < over + note(s.body.length).length + 1) {
      kept--;
      removed += s.body[kept].length + 1;
    }
    s.body = [...s.body.slice(0, kept), `${s.notePrefix ?? ""}${note(s.body.length - kept)}`];
  }
  const document = sections.map(text).join("\n\n");
  // Only the uncut sections (title, summary, access changes) are left: cut the text itself.
  return document.length <= limit ? document : `${document.slice(0, limit - 300)}\n\n${note(document.slice(limit - 300).split("\n").length)}`;
}

function summarySection(review: Review): Section {
  const summary = summarize(review.plan, review.policy, review.policyEnforced);
  const mandatory = mandatoryCount(summary);
  const body = [
    ...summary.kinds.map((k) => `- ${code(k.provider)} ${k.count}: ${code(kindList(k.types))}`),
    ...(summary.protectedResources.length ? [`- protected from deletion: ${summary.protectedResources.map(code).join(", ")}`] : []),
    ...(summary.adopted.length ? [`- adopted (imported, not created): ${summary.adopted.map(code).join(", ")}`] : []),
    "",
    `**Policy:** ${mandatory} mandatory, ${summary.policy.length - mandatory} advisory finding(s)`,
    ...splitFindings(summary.policy).findings.map((v) => `- ${v.enforcement} ${code(v.policy)}: ${code(v.message)}`),
    ...(splitFindings(summary.policy).notChecked.length ? [`- not checked offline, inputs known only after apply: ${code(splitFindings(summary.policy).notChecked.join(", "))}`] : []),
    ...(summary.warnings.length ? ["", `**Warnings:** ${summary.warnings.length}`, ...summary.warnings.map((w) => `- ${code(w)}`)] : []),
    "",
    `**Manual steps:**${manualSteps(summary).length ? "" : " none"}`,
    ...manualSteps(summary).flatMap((step, i) => {
      const [first, ...more] = step.split("\n");
      return [`${i + 1}. ${code(first)}`, ...more.map((m) => `   - ${code(m.trim())}`)];
    }),
  ];
  return section(Infinity, ["### Summary"], body);
}

function accessSection(map: AccessMap): Section {
  const owner = map.owner ? `${map.owner}/` : "";
  const rows = map.repositories.flatMap((repo) =>
    repo.environments.map((env) => {
      const identities = env.identities.map((i) => code(identityLine(i))).join("<br>") || "none";
      const rights = [...env.identities.flatMap((i) => i.grants.map((g) => code(grantLine(g)))), ...env.publishes.map((p) => code(`publishes ${p}`))].join("<br>") || "none";
      return `| ${code(`${owner}${repo.repository}`)} | ${code(env.environment)} | ${code(refsOf(env))} | ${code(approvalOf(env))} | ${identities} | ${rights} |`;
    }),
  );
  const rulesets = map.repositories.flatMap((repo) => repo.rulesets.map((rs) => `| ${code(`${owner}${repo.repository}`)} | ${code(rulesetLine(rs))} |`));
  const others = [
    ...map.otherGrants.map((g) => `- ${code(`${g.principal}: ${grantLine(g.grant)}`)}`),
    ...map.publicGrants.map((g) => `- public ${code(`${g.principal}: ${grantLine(g.grant)}`)}`),
    ...map.unwiredIdentities.map((i) => `- no environment receives ${code(identityLine(i))}: ${i.grants.map((g) => code(grantLine(g))).join(", ")}`),
    ...map.repositories.filter((r) => r.actionsDefaults).map((r) => `- ${code(`${owner}${r.repository}`)} Actions: ${code(r.actionsDefaults ?? "")}`),
  ];
  const body = [
    ...(rows.length ? ["| repository | environment | deploys from | approval | CI identity | rights |", "|---|---|---|---|---|---|", ...rows] : ["No GitHub environments in this stack."]),
    ...(rulesets.length ? ["", "| repository | ruleset |", "|---|---|", ...rulesets] : []),
    ...(others.length ? ["", ...others] : []),
  ];
  return section(50, [`### Who can do what (stack ${code(map.stack)})`], body);
}

/** environment -> identity -> object, with role labels; clusters' and public grants too. */
function graphSection(map: AccessMap): Section {
  // Ids are generated (env0, id1, ...), never taken from names.
  const ids = new Map<string, string>();
  const node = (kind: string, label: string) => {
    const k = `${kind}\u0000${label}`;
    const id = ids.get(k) ?? `${kind}${ids.size}`;
    ids.set(k, id);
    return id;
  };
  const edges: string[] = [];
  const owner = map.owner ? `${map.owner}/` : "";
  for (const repo of map.repositories) {
    for (const env of repo.environments) {
      if (env.identities.length === 0 && env.publishes.length === 0) continue;
      const e = node("env", `${owner}${repo.repository} · ${env.environment}`);
      for (const identity of env.identities) {
        const i = node("id", `${identity.cloud} ${identity.name}`);
        edges.push(`  ${e} --> ${i}`);
        for (const g of identity.grants) edges.push(`  ${i} -->|${mermaidLabel(g.role.replace(/ \(.*\)$/, ""))}| ${node("obj", g.object)}`);
      }
      for (const p of env.publishes) edges.push(`  ${e} -->|${mermaidLabel("trusted publishing")}| ${node("pkg", p.replace(/ \(workflow .*\)$/, ""))}`);
    }
  }
  for (const { principal, grant } of [...map.otherGrants, ...map.publicGrants]) edges.push(`  ${node("id", principal)} -->|${mermaidLabel(grant.role)}| ${node("obj", grant.object)}`);
  if (edges.length === 0) return section(10, []);
  const shown = edges.slice(0, MAX_EDGES);
  const used = new Set(shown.flatMap((e) => [...e.matchAll(/\b(env|id|obj|pkg)\d+\b/g)].map((m) => m[0])));
  const declarations = [...ids.entries()].filter(([, id]) => used.has(id)).map(([k, id]) => `  ${id}[${mermaidLabel(k.split("\u0000")[1])}]`);
  const note = edges.length > MAX_EDGES ? [`${edges.length - MAX_EDGES} more edge(s) left out of the graph; the tables above list every right.`] : [];
  return { ...section(10, ["### Access graph", "```mermaid", "flowchart LR"], [...declarations, ...shown], ["```", ...note]), notePrefix: "%% " };
}

function inputChangeLines(changes: InputChange[], reasons: Map<string, string>): string[] {
  return changes.map((c) => `  - ${code(inputChangeText(c))}${reasons.has(c.path) ? ` replaces (${code(reasons.get(c.path) ?? "")})` : ""}`);
}

function changesSections(diff: PlanDiff, label: string, head: PlanDocument, full: boolean): { access: Section; resources: Section } {
  const c = counts(diff);
  const access = section(Infinity, [
    `**Against ${code(label)}:** ${c.create} to create, ${c.update} to update, ${c.replace} to replace, ${c.delete} to delete, ${c.unchanged} unchanged`,
    "",
    "### Access changes",
  ], diff.access.length ? diff.access.map((a) => `- **${a.kind}** ${code(a.text)}`) : ["None."]);
  const lines = diff.resources.filter((r) => r.op !== "create").flatMap((r) => {
    const reasons = new Map(r.replaceReasons.map((x) => [x.path, x.source]));
    return [
      // The sign in a code span: a bare "+" or "-" after the list marker would start a nested list.
      `- ${code(opSign(r.op))} **${r.op}** ${code(r.type)} ${code(r.name)}`,
      ...inputChangeLines(r.inputs, reasons),
      ...r.replaceReasons.filter((x) => !r.inputs.some((i) => i.path === x.path)).map((x) => `  - replaces: ${code(`${x.path}: ${x.source}`)}`),
      ...r.options.map((o) => `  - ${code(o)}`),
      ...r.notes.map((n) => `  - note: ${code(n)}`),
    ];
  });
  const created = renderCreated(diff, head, full);
  if (created.length) {
    const { head: open, tail } = block(created);
    lines.push("", `**Created (${c.create})**, with their inputs${full ? "" : " (repeated inputs folded)"}:`, "", open, ...created, tail);
  }
  return { access, resources: section(0, ["### Resource changes"], lines.length ? lines : ["None."]) };
}

/** The review document of one stack. */
export function renderMarkdown(review: Review): string {
  const plan: PlanDocument = review.plan;
  const map = accessMap(plan);
  const summary = summarize(plan, review.policy, review.policyEnforced);
  const title = section(Infinity, [
    `## release-infra offline plan: stack ${code(plan.stack)}`,
    "",
    `Stage ${code(summary.stage)} · ${summary.cloudResources} cloud resources in ${summary.registrations} registrations · planned without credentials from the stack file; values only a real preview can know show as ${code("[unknown]")}.`,
  ]);
  const hint = review.diff ? `run npm run plan -- --stack ${plan.stack} --diff BASE.json locally for all of it.` : `run npm run plan -- --stack ${plan.stack} locally for all of it.`;
  if (review.diff) {
    const { access, resources } = changesSections(review.diff.diff, review.diff.label, plan, review.full);
    return fit([title, access, summarySection(review), accessSection(map), graphSection(map), resources], DOCUMENT_LIMIT, hint);
  }
  const tree = renderTree(plan, { full: review.full });
  const { head, tail } = block(tree);
  const treeSection = section(0, [`<details><summary>Resource tree (${tree.length} lines${review.full ? "" : ", repeated inputs folded"})</summary>`, "", head], tree, [tail, "", "</details>"]);
  return fit([title, summarySection(review), accessSection(map), graphSection(map), treeSection], DOCUMENT_LIMIT, hint);
}
