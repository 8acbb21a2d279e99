/**
 * The offline plan of one stack: runs the real program (index.ts) under Pulumi's mock runtime in
 * preview mode against a stack file, and returns what the engine would receive (the plan JSON).
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { checkResources, type Violation } from "../../policy/check";
import type { StageConfig } from "../../policy/policies";
import type { StackConfig } from "../../config/load";
import { installMocks, plainValue, type RecordedResource, type WireValue } from "../mocks";
import type { FakeWorld } from "./fakeCloud";
import { githubApiCalls, type GithubApiCalls } from "./githubApiCalls";
import { policyConfigOf, readStackSet } from "../../config/stackSet";
import { validateStackFile } from "./stackFile";
import { duplicateUrnProblems } from "./duplicateUrns";
import { ConfigError } from "../../config/errors";

/** A resource of the plan: what the engine would receive, inputs as plain JSON. */
export type PlannedResource = Omit<RecordedResource, "provider"> & {
  /** URN of the explicit provider the resource is registered with (a cluster's Kubernetes provider). */
  provider?: string;
  /** The config adopts the object: `pulumi import` reads it by this id (npm run plan -- --import-file). */
  importId?: string;
};

/** A data-source call a real preview would make (each is at least one API request). */
export interface PlannedInvoke {
  /** Function token, e.g. `github:index/getTeam:getTeam`. */
  token: string;
  /** Arguments as plain JSON, secrets masked as in resources. */
  args: Record<string, WireValue>;
}

export interface PlanDocument {
  project: "release-infra";
  stack: string;
  resources: PlannedResource[];
  outputs: Record<string, WireValue>;
  warnings: string[];
  /** Every data-source call, by token and then arguments. */
  invokes: PlannedInvoke[];
  /** GitHub API requests a real preview and a refresh of this stack make (scripts/lib/githubApiCalls.ts). */
  githubApiCalls: GithubApiCalls;
  /** The policy config the plan is evaluated with (the stack's stage, and whether it is the pipeline stack): a saved plan is checked with the same one. */
  policyConfig: StageConfig;
  /** With --policy: the policy pack's findings, mandatory first. */
  policy?: Violation[];
  /** What each placeholder number of the data sources stands for; the plan shows these labels instead of the numbers. */
  placeholders?: Record<string, string>;
}

const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

/** Config as the engine passes it to a program: strings, objects as JSON; secure values undecryptable. */
function engineConfig(values: Record<string, unknown>): { config: Record<string, string>; secretKeys: string[] } {
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  const containsSecure = (v: unknown): boolean =>
    typeof v === "object" && v !== null && (("secure" in v && Object.keys(v).length === 1) || Object.values(v).some(containsSecure));
  for (const [key, value] of Object.entries(values)) {
    if (containsSecure(value)) secretKeys.push(key);
    const isTopLevelSecure = typeof value === "object" && value !== null && "secure" in value && Object.keys(value).length === 1;
    config[key] = typeof value === "string" ? value : isTopLevelSecure ? "[secret]" : JSON.stringify(value);
  }
  return { config, secretKeys };
}

/** The policy pack's findings over a plan, live or saved, with the policy config the plan carries. */
export function policyFindings(plan: Pick<PlanDocument, "resources" | "policyConfig">): Violation[] {
  return checkResources(plan.resources, plan.policyConfig);
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** An alias the SDK declares for the same type in another API version: `azure-native:authorization/v20220401:RoleAssignment`. */
function isVersionAlias(alias: pulumi.Input<pulumi.URN | pulumi.Alias>, type: string): boolean {
  if (typeof alias !== "object" || alias instanceof Promise || pulumi.Output.isInstance(alias)) return false;
  if (Object.keys(alias).join() !== "type" || typeof alias.type !== "string") return false;
  const [pkg, module, name] = alias.type.split(":");
  const [typePkg, typeModule, typeName] = type.split(":");
  return pkg === typePkg && name === typeName && module !== typeModule;
}

/**
 * Drops the SDKs' API-version aliases (nine on every azure-native RoleAssignment, each resolved
 * through several outputs per resource: a quarter of a large plan's CPU time). Aliases only carry
 * existing state over to a new type; the plan shows none and the mock engine ignores them.
 * Aliases the program sets itself are kept.
 */
const withoutVersionAliases: pulumi.ResourceTransformation = ({ type, props, opts }) => {
  const aliases = opts.aliases?.filter((alias) => !isVersionAlias(alias, type));
  return aliases && aliases.length !== opts.aliases?.length ? { props, opts: { ...opts, aliases } } : undefined;
};

/**
 * The world a stack's offline plan assumes (the engine runs' stand-ins assume it too): repositories
 * with the configured ids and reviewer teams, and nothing the stack declares exists yet.
 */
export function offlineWorld(file: string, stackConfig: StackConfig): Required<Pick<FakeWorld, "repositories" | "creates">> {
  // Offline the config stands: repositories have the configured ids, and reviewer teams have access.
  const repositories = Object.fromEntries(
    [
      ...(stackConfig.github?.repositories ?? []).map((r) => [r.name.toLowerCase(), { id: r.id, teams: [...r.environments, ...r.trustedPublishing].flatMap((e) => e.reviewers?.teams ?? []) }] as const),
      ...(stackConfig.pipeline ? [[stackConfig.pipeline.repository.name.toLowerCase(), { id: stackConfig.pipeline.repository.id, teams: stackConfig.pipeline.reviewers.teams }] as const] : []),
    ],
  );
  // Offline the stack has no earlier update and nothing it declares exists yet, adopted objects
  // included: the import (--import-file) is a step of its own, and the take-over checks pass.
  const azure = stackConfig.azure;
  const creates = {
    registries: azure?.registry && !azure.registry.existing ? [azure.registry.name] : [],
    // The pipeline stack creates its own group and the deploy stacks' groups.
    resourceGroups: azure
      ? [azure.resourceGroup]
      : stackConfig.pipeline
        ? [stackConfig.pipeline.azure.resourceGroup, ...readStackSet(path.dirname(path.resolve(file))).stacks.flatMap((s) => (s.config.azure ? [s.config.azure.resourceGroup] : []))]
        : [],
  };
  return { repositories, creates };
}

/**
 * Runs the program under mocks for one stack file and returns the plan document. Once per
 * process: the Pulumi runtime is process-global. Throws ConfigError for an invalid stack file.
 */
export async function planStack(file: string, stack: string, display: string, policy = false): Promise<PlanDocument> {
  const { values, config: stackConfig, warnings: configWarnings } = validateStackFile(file, stack, display);
  process.env.RELEASE_INFRA_OFFLINE_PLAN = "1";
  process.env.RELEASE_INFRA_CONFIG_FILE = display;
  // The pipeline stack reads the deploy stack files beside its own.
  process.env.RELEASE_INFRA_CONFIG_DIR = path.dirname(path.resolve(file));
  const { repositories, creates } = offlineWorld(file, stackConfig);
  const session = installMocks({ stack, preview: true, repositories, creates });
  const { config, secretKeys } = engineConfig(values);
  pulumi.runtime.setAllConfig(config, secretKeys);

  // pulumi.log.warn writes "warning: [runtime] ..." to console.warn when no engine is attached.
  const runtimeWarnings: string[] = [];
  const warn = console.warn;
  console.warn = (...parts: unknown[]) => {
    const text = parts.map(String).join(" ");
    const match = /^warning: \[runtime\] ([\s\S]*)$/.exec(text);
    if (match) runtimeWarnings.push(match[1]);
    else warn(...parts);
  };
  // Pulumi keeps a stack string on every promise it makes (runtime/debuggable.js), thousands per
  // resource graph; the source positions it sends with a registration it takes with the limit raised
  // (Resource.callsites). Errors of the program are reported by their message.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  // require, not import(): a dynamic import goes through the ESM loader, past scripts/register.js.
  const program = async (): Promise<Record<string, unknown>> => {
    pulumi.runtime.registerStackTransformation(withoutVersionAliases);
    return require(path.join(PROJECT_ROOT, "index"));
  };
  try {
    await pulumi.runtime.runInPulumiStack(program);
    await pulumi.runtime.disconnect();
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    console.warn = warn;
  }

  const duplicates = duplicateUrnProblems(session.resources, values, display);
  if (duplicates.length > 0) throw new ConfigError(duplicates);

  const monitor = pulumi.runtime.getMonitor();
  const stackUrn = session.resources.find((r) => r.type === "pulumi:pulumi:Stack")?.urn;
  const registered = monitor && "getRegisteredResources" in monitor ? (monitor.getRegisteredResources as () => Map<string, { state: unknown }>)() : undefined;
  const stackState = stackUrn ? registered?.get(stackUrn)?.state : undefined;
  const stackOutputs =
    stackState && typeof stackState === "object" && "toJavaScript" in stackState && typeof stackState.toJavaScript === "function"
      ? (stackState.toJavaScript() as Record<string, WireValue>)
      : {};

  const importIds = new Map<string, string>();
  for (const item of Array.isArray(stackOutputs.adopted) ? stackOutputs.adopted : []) {
    if (typeof item === "object" && item !== null && !Array.isArray(item) && typeof item.urn === "string" && typeof item.importId === "string") importIds.set(item.urn, item.importId);
  }
  const resources: PlannedResource[] = session.resources
    // In the plan contract's field order.
    .map((r) => ({
      urn: r.urn,
      type: r.type,
      name: r.name,
      parent: r.parent,
      custom: r.custom,
      inputs: plainValue(r.inputs) as Record<string, WireValue>,
      dependsOn: r.dependsOn,
      protect: r.protect,
      retainOnDelete: r.retainOnDelete,
      deleteBeforeReplace: r.deleteBeforeReplace,
      ignoreChanges: [...r.ignoreChanges].sort(),
      replaceOnChanges: r.replaceOnChanges,
      aliases: r.aliases,
      // A provider reference is `<urn>::<id>`; the id of a mock provider means nothing.
      ...(r.provider ? { provider: r.provider.slice(0, r.provider.lastIndexOf("::")) } : {}),
      ...(importIds.has(r.urn) ? { importId: importIds.get(r.urn) } : {}),
    }))
    .sort((a, b) => byString(a.urn, b.urn));
  const invokes = session.invokes
    .map((call) => ({ token: call.token, args: plainValue(call.inputs as Record<string, WireValue>) as Record<string, WireValue> }))
    .map((call) => ({ call, key: `${call.token}\u0000${JSON.stringify(call.args)}` }))
    .sort((a, b) => byString(a.key, b.key))
    .map(({ call }) => call);
  const policyConfig = policyConfigOf(stackConfig);
  return {
    project: "release-infra",
    stack,
    resources,
    outputs: plainValue(stackOutputs) as Record<string, WireValue>,
    warnings: [...new Set([...configWarnings, ...runtimeWarnings])].sort(),
    invokes,
    githubApiCalls: githubApiCalls(resources, invokes),
    policyConfig,
    ...(policy ? { policy: policyFindings({ resources, policyConfig }) } : {}),
    placeholders: session.placeholders,
  };
}

/** How many mandatory policy findings the plan has. */
export function mandatoryFindings(plan: PlanDocument): number {
  return (plan.policy ?? []).filter((v) => v.enforcement === "mandatory").length;
}
