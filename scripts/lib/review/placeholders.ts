/**
 * Offline, data sources answer with deterministic placeholder numbers (scripts/mocks.ts). They look
 * like real ids, so the plan shows what each stands for instead: `<id of team release-managers>`,
 * `<id of repository acme/web>`, `<number of project acme-web-prod>`, in values and inside strings.
 */
import type { WireValue } from "../../mocks";
import type { PlanDocument } from "../planStack";

/** Placeholder numbers are 8 digits (placeholderNumber); only whole 8-digit tokens are candidates. */
const CANDIDATE = /\b\d{8}\b/g;

/** `value` with every placeholder number (a number, or a token inside a string) replaced by its label. */
export function labelValue(value: WireValue, labels: Readonly<Record<string, string>>): WireValue {
  if (typeof value === "number") return labels[String(value)] ?? value;
  if (typeof value === "string") return value.replace(CANDIDATE, (digits) => labels[digits] ?? digits);
  if (Array.isArray(value)) return value.map((v) => labelValue(v, labels));
  if (value !== null && typeof value === "object") {
    const out: Record<string, WireValue> = {};
    for (const key of Object.keys(value)) out[key] = labelValue(value[key], labels);
    return out;
  }
  return value;
}

const labelText = (text: string, labels: Readonly<Record<string, string>>) => text.replace(CANDIDATE, (digits) => labels[digits] ?? digits);

/**
 * The plan with its placeholder numbers replaced by their labels everywhere (inputs, outputs,
 * data-source arguments, warnings, policy messages). `extra` adds labels of another plan, so a
 * base plan written before labels existed compares with a labelled one.
 */
export function labelPlaceholders(plan: PlanDocument, extra: Readonly<Record<string, string>> = {}): PlanDocument {
  const labels = { ...extra, ...(plan.placeholders ?? {}) };
  const sorted = Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  if (Object.keys(labels).length === 0) return { ...plan, placeholders: sorted };
  return {
    ...plan,
    resources: plan.resources.map((r) => ({ ...r, inputs: labelValue(r.inputs, labels) as Record<string, WireValue> })),
    outputs: labelValue(plan.outputs, labels) as Record<string, WireValue>,
    invokes: plan.invokes.map((call) => ({ ...call, args: labelValue(call.args, labels) as Record<string, WireValue> })),
    warnings: plan.warnings.map((w) => labelText(w, labels)),
    ...(plan.policy ? { policy: plan.policy.map((v) => ({ ...v, message: labelText(v.message, labels) })) } : {}),
    placeholders: sorted,
  };
}

/** What a label names: `<id of team release-managers>` is team `release-managers`. */
export function labelSubject(label: string): { kind: string; name: string } | undefined {
  const match = /^<(?:id|number) of (\w+) (.+)>$/.exec(label);
  return match ? { kind: match[1], name: match[2] } : undefined;
}
