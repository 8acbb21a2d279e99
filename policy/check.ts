/**
 * Runs the policy pack offline over planned resources (the `resources` of the offline plan's
 * JSON document), the way the CrossGuard server runs it during `pulumi preview`: each resource
 * policy per resource with its inputs and options, each stack policy once over all resources.
 * Inputs the plan shows as "[unknown]" behave like unknowns in a preview: a policy that reads
 * one is not evaluated for that resource and an advisory says so.
 */
import type {
  PolicyResource,
  PolicyResourceOptions,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { policies as allPolicies, type Stage, type StageConfig } from "./policies";

/** A planned resource: the fields of the offline plan's resources that policies read. */
export interface CheckedResource {
  type: string;
  name: string;
  urn: string;
  /** Inputs as plain JSON; secrets "[secret]", values known only after apply "[unknown]". */
  inputs: Record<string, unknown>;
  protect: boolean;
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
}

export interface Violation {
  policy: string;
  /** The resource in violation; "" for the stack as a whole. */
  urn: string;
  message: string;
  enforcement: "mandatory" | "advisory";
}

type Policy = ResourceValidationPolicy | StackValidationPolicy;

const UNKNOWN = "[unknown]";

class UnknownInput extends Error {
  constructor(readonly path: string) {
    super(`${path} is only known after apply`);
  }
}

class NotApplicable extends Error {}

/** Wraps inputs so that reading an "[unknown]" value throws, as CrossGuard's unknownCheckingProxy does. */
function guard<T extends object>(value: T, path: string): T {
  return new Proxy(value, {
    get(target, key, receiver) {
      const found: unknown = Reflect.get(target, key, receiver);
      if (typeof key === "symbol") return found;
      const at = `${path}.${key}`;
      if (found === UNKNOWN) throw new UnknownInput(at);
      // A Proxy must return non-configurable, non-writable properties unchanged (V8 invariant).
      const descriptor = Reflect.getOwnPropertyDescriptor(target, key);
      if (descriptor && descriptor.configurable === false && descriptor.writable === false) return found;
      return typeof found === "object" && found !== null ? guard(found, at) : found;
    },
  });
}

function optionsOf(resource: CheckedResource): PolicyResourceOptions {
  return {
    protect: resource.protect,
    deleteBeforeReplace: resource.deleteBeforeReplace,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
  };
}

// Policies here match on type tokens; isType/asType would need provider classes loaded.
const byClass = (): never => {
  throw new Error("the offline policy check does not support isType/asType; match on args.type");
};

function enforcementOf(policy: Policy): Violation["enforcement"] | undefined {
  if (policy.enforcementLevel === "disabled") return undefined;
  return policy.enforcementLevel === "advisory" ? "advisory" : "mandatory";
}

/** Runs one validation; unknown inputs become an advisory, notApplicable a no-op. */
function run(policy: Policy, urn: string, validate: () => Promise<void> | void, out: Violation[]): void {
  try {
    if (validate() instanceof Promise) throw new Error(`policy ${policy.name} is asynchronous; the offline check runs synchronous policies only`);
  } catch (err) {
    if (err instanceof UnknownInput) out.push({ policy: policy.name, urn, message: `not checked: ${err.message}`, enforcement: "advisory" });
    else if (!(err instanceof NotApplicable)) throw err;
  }
}

function commonArgs(config: StageConfig) {
  return {
    stackTags: new Map<string, string>(),
    getConfig: <T extends object>(): T => ({ ...config }) as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
  };
}

/** What CrossGuard passes a resource validation for this resource; `config` is the policy config. */
export function resourceValidationArgs(resource: CheckedResource, config: StageConfig): ResourceValidationArgs {
  return {
    type: resource.type,
    name: resource.name,
    urn: resource.urn,
    props: guard(resource.inputs, ""),
    opts: optionsOf(resource),
    isType: byClass,
    asType: byClass,
    ...commonArgs(config),
  };
}

/** What CrossGuard passes a stack validation for these resources; `config` is the policy config. */
export function stackValidationArgs(resources: readonly CheckedResource[], config: StageConfig): StackValidationArgs {
  const policyResources: PolicyResource[] = resources.map((r) => ({
    type: r.type,
    name: r.name,
    urn: r.urn,
    props: guard(r.inputs, ""),
    opts: optionsOf(r),
    dependencies: [],
    propertyDependencies: {},
    isType: byClass,
    asType: byClass,
  }));
  return { resources: policyResources, ...commonArgs(config) };
}

/**
 * Every violation of the pack's policies by `resources` deployed in `stage` (or with that policy config), mandatory first,
 * then by resource URN. An empty list means the resources pass.
 */
export function checkResources(resources: readonly CheckedResource[], stage: Stage | StageConfig, policies: readonly Policy[] = allPolicies): Violation[] {
  // Every policy gets the same config, as from the file `npm run -s stacks -- --policy-config` writes.
  const config: StageConfig = typeof stage === "string" ? { stage } : stage;
  const violations: Violation[] = [];
  for (const policy of policies) {
    const enforcement = enforcementOf(policy);
    if (!enforcement) continue;
    const report = (fallbackUrn: string) => (message: string, urn?: string) => violations.push({ policy: policy.name, urn: urn ?? fallbackUrn, message, enforcement });
    if ("validateStack" in policy) {
      run(policy, "", () => policy.validateStack(stackValidationArgs(resources, config), report("")), violations);
      continue;
    }
    const validations = policy.validateResource === undefined ? [] : Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    for (const resource of resources) {
      const args = resourceValidationArgs(resource, config);
      for (const validate of validations) run(policy, resource.urn, () => validate(args, report(resource.urn)), violations);
    }
  }
  const rank = (v: Violation) => (v.enforcement === "mandatory" ? 0 : 1);
  return violations
    .map((v, order) => ({ v, order }))
    .sort((a, b) => rank(a.v) - rank(b.v) || (a.v.urn < b.v.urn ? -1 : a.v.urn > b.v.urn ? 1 : a.order - b.order))
    .map(({ v }) => v);
}

/** `<type>::<name>` of a URN (the last type of a parent chain); "(stack)" for "". */
function shortUrn(urn: string): string {
  if (!urn) return "(stack)";
  const parts = urn.split("::");
  return `${parts[parts.length - 2]?.split("$").pop() ?? ""}::${parts[parts.length - 1]}`;
}

/** One line per violation: `<enforcement> <policy> <type>::<name>: <message>`. */
export function formatViolations(violations: readonly Violation[]): string[] {
  return violations.map((v) => `${v.enforcement} ${v.policy} ${shortUrn(v.urn)}: ${v.message}`);
}
