/** The offline plan as text: the resource tree with each resource's inputs, outputs, warnings and policy findings. */
import { formatViolations } from "../../policy/check";
import type { WireValue } from "../mocks";
import { mandatoryFindings, type PlanDocument, type PlannedResource } from "./planStack";

export function flatten(value: WireValue, prefix: string, out: string[]): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) out.push(`${prefix}: {}`);
    for (const key of keys) flatten(value[key], prefix ? `${prefix}.${key}` : key, out);
  } else if (Array.isArray(value) && value.some((v) => v !== null && typeof v === "object")) {
    value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  } else {
    out.push(`${prefix}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
}

export function renderTree(plan: PlanDocument): string {
  const lines = [`release-infra · stack ${plan.stack} · ${plan.resources.filter((r) => r.custom).length} cloud resources in ${plan.resources.length} registrations`];
  if (plan.githubApiCalls.preview + plan.githubApiCalls.refresh > 0) {
    lines.push(`GitHub API: ${plan.githubApiCalls.preview} requests per preview, ${plan.githubApiCalls.refresh} per refresh`);
  }
  const children = new Map<string | null, PlannedResource[]>();
  const urns = new Set(plan.resources.map((r) => r.urn));
  for (const r of plan.resources) {
    const parent = r.parent && urns.has(r.parent) ? r.parent : null;
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const walk = (parent: string | null, indent: string) => {
    const list = children.get(parent) ?? [];
    list.forEach((r, i) => {
      const last = i === list.length - 1;
      const flags = [r.protect && "protect", r.retainOnDelete && "retainOnDelete", r.deleteBeforeReplace && "deleteBeforeReplace", r.ignoreChanges.length > 0 && `ignoreChanges=${r.ignoreChanges.join(",")}`].filter(Boolean);
      lines.push(`${indent}${last ? "└─ " : "├─ "}${r.type}  ${r.name}${flags.length ? `  [${flags.join(", ")}]` : ""}`);
      const detailIndent = `${indent}${last ? "   " : "│  "}${children.has(r.urn) ? "│ " : "  "}   `;
      if (r.custom && r.type !== "pulumi:pulumi:Stack") {
        const props: string[] = [];
        flatten(r.inputs, "", props);
        for (const p of props) lines.push(`${detailIndent}${p}`);
        for (const d of r.dependsOn) lines.push(`${detailIndent}dependsOn: ${d.split("::").pop()}`);
      }
      walk(r.urn, `${indent}${last ? "   " : "│  "}`);
    });
  };
  walk(null, "");
  const outputLines: string[] = [];
  flatten(plan.outputs, "", outputLines);
  if (outputLines.length) lines.push("", "Outputs:", ...outputLines.map((l) => `  ${l}`));
  if (plan.warnings.length) lines.push("", "Warnings:", ...plan.warnings.map((w) => `  ! ${w}`));
  if (plan.policy) {
    lines.push("", `Policy: ${mandatoryFindings(plan)} mandatory, ${plan.policy.length - mandatoryFindings(plan)} advisory finding(s)`, ...formatViolations(plan.policy).map((l) => `  ${l}`));
  }
  return lines.join("\n");
}

