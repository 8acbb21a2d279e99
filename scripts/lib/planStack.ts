/**
 * The offline plan of one stack: runs the real program (index.ts) under Pulumi's mock runtime in
 * preview mode against a stack file, and returns what the engine would receive (the plan JSON).
 */
import * as path from "path";
import { checkResources, type Violation } from "../../policy/check";
import { installMocks, plainValue, type RecordedResource, type WireValue } from "../mocks";
import { validateStackFile } from "./stackFile";

/** A resource of the plan: what the engine would receive, inputs as plain JSON. */
export type PlannedResource = Omit<RecordedResource, "provider">;

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
  /** With --policy: the policy pack's findings, mandatory first. */
  policy?: Violation[];
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

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Runs the program under mocks for one stack file and returns the plan document. Once per
 * process: the Pulumi runtime is process-global. Throws ConfigError for an invalid stack file.
 */
export async function planStack(file: string, stack: string, display: string, policy = false): Promise<PlanDocument> {
  const { values, config: stackConfig, warnings: configWarnings } = validateStackFile(file, stack, display);
  const pulumi = await import("@pulumi/pulumi");
  process.env.RELEASE_INFRA_OFFLINE_PLAN = "1";
  process.env.RELEASE_INFRA_CONFIG_FILE = display;
  // The pipeline stack reads the deploy stack files beside its own.
  process.env.RELEASE_INFRA_CONFIG_DIR = path.dirname(path.resolve(file));
  // Offline the plan cannot see team access: it assumes reviewer teams can access the stack's repositories.
  const teamRepositories = [...(stackConfig.github?.repositories.map((r) => r.name) ?? []), ...(stackConfig.pipeline ? [stackConfig.pipeline.repository.name] : [])];
  const session = installMocks({ stack, preview: true, teamRepositories });
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
  try {
    await pulumi.runtime.runInPulumiStack(async () => import(path.join(PROJECT_ROOT, "index")));
    await pulumi.runtime.disconnect();
  } finally {
    console.warn = warn;
  }

  const monitor = pulumi.runtime.getMonitor();
  const stackUrn = session.resources.find((r) => r.type === "pulumi:pulumi:Stack")?.urn;
  const registered = monitor && "getRegisteredResources" in monitor ? (monitor.getRegisteredResources as () => Map<string, { state: unknown }>)() : undefined;
  const stackState = stackUrn ? registered?.get(stackUrn)?.state : undefined;
  const stackOutputs =
    stackState && typeof stackState === "object" && "toJavaScript" in stackState && typeof stackState.toJavaScript === "function"
      ? (stackState.toJavaScript() as Record<string, WireValue>)
      : {};

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
    }))
    .sort((a, b) => byString(a.urn, b.urn));
  const invokes = session.invokes
    .map((call) => ({ token: call.token, args: plainValue(call.inputs as Record<string, WireValue>) as Record<string, WireValue> }))
    .map((call) => ({ call, key: `${call.token}\u0000${JSON.stringify(call.args)}` }))
    .sort((a, b) => byString(a.key, b.key))
    .map(({ call }) => call);
  return {
    project: "release-infra",
    stack,
    resources,
    outputs: plainValue(stackOutputs) as Record<string, WireValue>,
    warnings: [...new Set([...configWarnings, ...runtimeWarnings])].sort(),
    invokes,
    ...(policy ? { policy: checkResources(resources, { stage: stackConfig.stage, pipelineStack: stackConfig.pipeline !== undefined }) } : {}),
  };
}

/** How many mandatory policy findings the plan has. */
export function mandatoryFindings(plan: PlanDocument): number {
  return (plan.policy ?? []).filter((v) => v.enforcement === "mandatory").length;
}
