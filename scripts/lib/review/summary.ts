/**
 * The summary that opens every review: what the plan registers per kind, warnings, policy
 * findings, and the manual steps it implies (registry-side trusted publishers, secrets to set,
 * DNS records for the CDN, and with several stacks the order to apply them in).
 */
import { environmentOf } from "../../../components/pipelineGrants";
import { githubApiCalls, type GithubApiCalls } from "../githubApiCalls";
import { formatViolations, type Violation } from "../../../policy/check";
import type { PlanDocument } from "../planStack";
import { field, list, ofType, shortType, str, strings, T } from "./inputs";

export interface TrustedPublisherStep {
  registry: string;
  package: string;
  /** `owner acme, repository loader, workflow release.yml, environment npm`. */
  values: string;
  settingsUrl: string;
}

export interface Summary {
  stack: string;
  stage: string;
  cloudResources: number;
  registrations: number;
  /** Per provider package, the count of each resource type, most first. */
  kinds: { provider: string; count: number; types: [string, number][] }[];
  protectedResources: string[];
  /** Resources the config adopts: imported by `pulumi import --file` before the first update. */
  adopted: string[];
  warnings: string[];
  policy: Violation[];
  /** Whether the policy pack's findings decide the exit code (--policy). */
  policyEnforced: boolean;
  secretCommands: string[];
  trustedPublishers: TrustedPublisherStep[];
  /** CDN domains whose DNS must point at the load balancer's address. */
  dnsDomains: string[];
  /** CDN domains with a DNS-authorized certificate: the authorization record first, the address once it is ACTIVE. */
  dnsAuthorizedDomains: string[];
  /** GitHub API requests a real preview and a refresh make. */
  githubApiCalls: GithubApiCalls;
}

export function summarize(plan: PlanDocument, policy: Violation[], policyEnforced: boolean): Summary {
  const custom = plan.resources.filter((r) => r.custom);
  const byProvider = new Map<string, Map<string, number>>();
  for (const r of custom) {
    const provider = r.type.startsWith("pulumi:providers:") ? "providers" : r.type.split(":")[0];
    const types = byProvider.get(provider) ?? new Map<string, number>();
    const name = r.type.startsWith("pulumi:providers:") ? r.type.slice("pulumi:providers:".length) : shortType(r.type);
    types.set(name, (types.get(name) ?? 0) + 1);
    byProvider.set(provider, types);
  }
  const kinds = [...byProvider.entries()]
    .map(([provider, types]) => ({
      provider,
      count: [...types.values()].reduce((a, b) => a + b, 0),
      types: [...types.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
    }))
    .sort((a, b) => (a.provider < b.provider ? -1 : 1));
  const trustedPublishers = list(plan.outputs, "trustedPublishers").map((p) => ({
    registry: str(p, "registry") ?? "",
    package: str(p, "package") ?? "",
    values: `owner ${str(p, "owner") ?? "?"}, repository ${str(p, "repository") ?? "?"}, workflow ${str(p, "workflow") ?? "?"}, environment ${str(p, "environment") ?? "?"}`,
    settingsUrl: str(p, "settingsUrl") ?? "",
  }));
  return {
    stack: plan.stack,
    stage: typeof plan.outputs.stage === "string" ? plan.outputs.stage : "?",
    cloudResources: custom.length,
    registrations: plan.resources.length,
    kinds,
    protectedResources: plan.resources.filter((r) => r.protect).map((r) => r.name),
    adopted: plan.resources.filter((r) => r.importId !== undefined).map((r) => r.name),
    warnings: plan.warnings,
    policy,
    policyEnforced,
    secretCommands: plan.warnings.map((w) => /; run: (pulumi config set --secret .+)$/.exec(w)?.[1]).filter((c): c is string => c !== undefined),
    trustedPublishers,
    dnsDomains: [...new Set(ofType(plan.resources, T.certificate).flatMap((c) => strings(c.inputs, "managed", "domains")))],
    dnsAuthorizedDomains: [...new Set(ofType(plan.resources, "gcp:certificatemanager/dnsAuthorization:DnsAuthorization").flatMap((a) => strings(a.inputs, "domain")))],
    githubApiCalls: githubApiCalls(plan.resources, plan.invokes),
  };
}

const count = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
export const mandatoryCount = (summary: Summary) => summary.policy.filter((v) => v.enforcement === "mandatory").length;

/** `RoleAssignment ×5, Registry` */
export const kindList = (types: [string, number][]) => types.map(([t, n]) => (n > 1 ? `${t} ×${n}` : t)).join(", ");

/** The DNS step in words; the address is only known once the load balancer's address exists. */
export function dnsStep(summary: Summary): string {
  return `DNS: point ${summary.dnsDomains.join(", ")} (A records) at the CDN's address, known after apply: pulumi stack output cdn --stack ${summary.stack} (ipAddress); each managed certificate stays PROVISIONING until its domain resolves there`;
}

/**
 * Findings to list one by one, and the advisories that only say a policy could not read an input
 * known after apply, as `policy ×count` (they are the same for every plan of the stack).
 */
export function splitFindings(policy: readonly Violation[]): { findings: Violation[]; notChecked: string[] } {
  const skipped = policy.filter((v) => v.enforcement === "advisory" && v.message.startsWith("not checked: "));
  const perPolicy = new Map<string, number>();
  for (const v of skipped) perPolicy.set(v.policy, (perPolicy.get(v.policy) ?? 0) + 1);
  return { findings: policy.filter((v) => !skipped.includes(v)), notChecked: [...perPolicy].map(([p, n]) => (n > 1 ? `${p} ×${n}` : p)) };
}

/** The summary as text lines. */
export function renderSummary(summary: Summary): string[] {
  const mandatory = mandatoryCount(summary);
  const lines = [
    `release-infra · stack ${summary.stack} · stage ${summary.stage} · ${summary.cloudResources} cloud resources in ${summary.registrations} registrations`,
    ...summary.kinds.map((k) => `  ${k.provider} ${k.count}: ${kindList(k.types)}`),
  ];
  if (summary.protectedResources.length) lines.push(`  protected from deletion: ${summary.protectedResources.join(", ")}`);
  if (summary.adopted.length) lines.push(`  adopted (imported, not created): ${summary.adopted.join(", ")}`);
  const api = summary.githubApiCalls;
  if (api.preview + api.refresh > 0) lines.push(`  GitHub API: ${api.preview} requests per preview, ${api.refresh} per refresh`);
  const { findings, notChecked } = splitFindings(summary.policy);
  lines.push(
    `Policy: ${mandatory} mandatory, ${summary.policy.length - mandatory} advisory finding(s)${summary.policyEnforced ? "" : " (exit code 5 on a mandatory finding only with --policy)"}`,
    ...formatViolations(findings).map((l) => `  ${l}`),
    ...(notChecked.length ? [`  not checked offline, inputs known only after apply: ${notChecked.join(", ")}`] : []),
  );
  if (summary.warnings.length) lines.push(`Warnings: ${summary.warnings.length}`, ...summary.warnings.map((w) => `  ! ${w}`));
  const steps = manualSteps(summary);
  lines.push(steps.length ? "Manual steps:" : "Manual steps: none", ...steps.map((s, i) => `  ${i + 1}. ${s}`));
  return lines;
}

/** The manual steps in words, one per entry (trusted publishers and secrets one per line below their heading). */
export function manualSteps(summary: Summary): string[] {
  const steps: string[] = [];
  if (summary.adopted.length) {
    const file = `${summary.stack}-import.json`;
    steps.push(
      `before the first update, import the ${count(summary.adopted.length, "adopted object")} (a preview fails until then): npm run plan -- --stack ${summary.stack} --import-file ${file} (in the folder of Pulumi.${summary.stack}.yaml, else --config FILE), then pulumi import --file ${file} --stack ${summary.stack} --generate-code=false (docs/migration.md)`,
    );
  }
  if (summary.secretCommands.length) steps.push(`set ${count(summary.secretCommands.length, "secret")}:\n${summary.secretCommands.map((c) => `       ${c}`).join("\n")}`);
  if (summary.trustedPublishers.length) {
    steps.push(
      `enter ${count(summary.trustedPublishers.length, "trusted publisher")} on the registries (Pulumi cannot; details in the trustedPublishers output):\n${summary.trustedPublishers
        .map((p) => `       ${p.registry} ${p.package}: ${p.values} at ${p.settingsUrl}`)
        .join("\n")}`,
    );
  }
  if (summary.dnsDomains.length) steps.push(dnsStep(summary));
  if (summary.dnsAuthorizedDomains.length) {
    steps.push(
      `DNS, moving ${summary.dnsAuthorizedDomains.join(", ")}: first create each DNS authorization's CNAME record, wait until the certificate is ACTIVE, then point the A records at the CDN's address (both known after apply: pulumi stack output cdn --stack ${summary.stack}, dnsRecords in order)`,
    );
  }
  return steps;
}

const roleDefinitionGuid = (id: unknown) => (typeof id === "string" ? /(?:^|\/)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i.exec(id)?.[1]?.toLowerCase() : undefined);

/**
 * What a plan creates that another stack may need, by key (`resource group acme-release-dev`,
 * `role definition <guid>`), with the words to name it in.
 */
function provides(plan: PlanDocument): Map<string, string> {
  const created = plan.resources.filter((r) => r.importId === undefined);
  const named = (kind: string, name: string | undefined): [string, string][] => (name ? [[`${kind} ${name}`, `${kind} ${name}`]] : []);
  return new Map([
    ...ofType(created, T.registry).flatMap((r) => named("registry", str(r.inputs, "registryName") ?? r.name)),
    ...ofType(created, T.resourceGroup).flatMap((r) => named("resource group", str(r.inputs, "resourceGroupName"))),
    ...ofType(created, T.roleDefinition).flatMap((r): [string, string][] => {
      const guid = roleDefinitionGuid(str(r.inputs, "roleDefinitionId"));
      return guid ? [[`role definition ${guid}`, `role "${str(r.inputs, "roleName") ?? r.name}"`]] : [];
    }),
    ...ofType(created, T.environment).flatMap((r) => named("environment", str(r.inputs, "environment"))),
  ]);
}

/**
 * The keys of what a plan needs to exist before its update: registries it grants on or imports
 * from, the resource group it adopts, role definitions it assigns, and the environment its deploys
 * run in (`pulumi-<stack>`, which the pipeline stack creates).
 */
function needs(plan: PlanDocument): Set<string> {
  return new Set([
    ...plan.invokes.filter((call) => call.token === "azure-native:containerregistry:getRegistry").map((call) => `registry ${String(field(call.args, "registryName"))}`),
    ...ofType(plan.resources, T.resourceGroup).filter((r) => r.importId !== undefined).map((r) => `resource group ${str(r.inputs, "resourceGroupName") ?? r.name}`),
    ...ofType(plan.resources, T.roleAssignment).flatMap((r) => {
      const guid = roleDefinitionGuid(field(r.inputs, "roleDefinitionId"));
      return guid ? [`role definition ${guid}`] : [];
    }),
    `environment ${environmentOf(plan.stack, "write")}`,
  ]);
}

const STAGE_RANK: Record<string, number> = { dev: 0, staging: 1, prod: 2 };

/**
 * The order to apply stacks in: a stack after every stack that creates something it needs (the
 * pipeline stack, which creates the deploy stacks' environments, groups and roles, first), else
 * by stage and name. Returns the order and, per such pair, the reason.
 */
export function applyOrder(plans: readonly PlanDocument[]): { order: string[]; reasons: string[] } {
  const creators = new Map<string, { stack: string; text: string }>();
  for (const plan of plans) for (const [key, text] of provides(plan)) if (!creators.has(key)) creators.set(key, { stack: plan.stack, text });
  const after = new Map<string, Set<string>>(plans.map((p) => [p.stack, new Set<string>()]));
  const reasons: string[] = [];
  for (const plan of plans) {
    const byCreator = new Map<string, string[]>();
    for (const need of needs(plan)) {
      const creator = creators.get(need);
      if (creator && creator.stack !== plan.stack) byCreator.set(creator.stack, [...(byCreator.get(creator.stack) ?? []), creator.text]);
    }
    for (const [creator, what] of [...byCreator].sort(([a], [b]) => (a < b ? -1 : 1))) {
      after.get(plan.stack)?.add(creator);
      reasons.push(`${plan.stack} after ${creator}: ${plan.stack} needs ${what.join(", ")}, which ${creator} creates`);
    }
  }
  const order: string[] = [];
  const visit = (stack: string, path: string[]) => {
    if (order.includes(stack) || path.includes(stack)) return;
    for (const first of [...(after.get(stack) ?? [])].sort()) visit(first, [...path, stack]);
    order.push(stack);
  };
  const rank = (p: PlanDocument) => STAGE_RANK[p.policyConfig.stage ?? "prod"];
  for (const plan of [...plans].sort((a, b) => rank(a) - rank(b) || (a.stack < b.stack ? -1 : 1))) visit(plan.stack, []);
  return { order, reasons };
}
