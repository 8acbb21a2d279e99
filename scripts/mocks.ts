import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import type { Alias } from "@pulumi/pulumi/proto/alias_pb";
import type { RegisterResourceRequest, RegisterResourceResponse } from "@pulumi/pulumi/proto/resource_pb";
import { ARM_ENDPOINTS, PUBLIC_ARM_ENDPOINT } from "../components/arm";
import { ARM_GET, armRequest, armResponse, computedOutputs, fakeAnswers, placeholderNumber, type FakeWorld, type Label, type Placeholder } from "./lib/fakeCloud";

/**
 * Pulumi's mock runtime, set up the way the offline plan and the tests need it: data sources
 * answer with deterministic placeholders built from their arguments (the fake cloud of
 * scripts/lib/fakeCloud.ts), and every registered resource is recorded with the options the
 * engine would receive (parent, dependsOn, protect, ...).
 */
export { ARM_GET, placeholderNumber, SUBSCRIPTION_ID, TENANT_ID } from "./lib/fakeCloud";

/** A JSON value as the engine receives it, with secrets and unknowns in their wire form. */
export type WireValue = null | boolean | number | string | WireValue[] | { [key: string]: WireValue };

/** One resource registration, as the engine would receive it. */
export interface RecordedResource {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  parent: string | null;
  /** Inputs in wire form: see `plainValue` to read them. */
  inputs: Record<string, WireValue>;
  dependsOn: string[];
  protect: boolean;
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  ignoreChanges: string[];
  /** Provider reference (`urn::id`) when the resource uses an explicit provider. */
  provider: string | null;
  /** Input paths whose change replaces the resource (the `replaceOnChanges` option, as the engine receives it). */
  replaceOnChanges: string[];
  /** URNs the resource was known by under another name or parent (the SDKs' type-only aliases left out). */
  aliases: string[];
}

/** A data source answer, for tests that need a cluster or team to look a certain way. */
export type CallOverride = (inputs: Record<string, unknown>) => Record<string, unknown>;

export interface MockOptions extends Pick<FakeWorld, "repositories" | "creates"> {
  /** Stack name (also the default stage). */
  stack: string;
  /** true: behave like `pulumi preview` (outputs computed by the cloud are unknown). */
  preview: boolean;
  /** Replace the placeholder answer of a data source token. */
  calls?: Record<string, CallOverride>;
  /**
   * Logical names of resources already in the stack's state (imported, or created by an earlier
   * update): a preview registers them with their id, as the engine does, not as creates.
   */
  inState?: string[];
}

export interface MockSession {
  /** Registered resources, in registration order. */
  resources: RecordedResource[];
  /** Data source calls: token and arguments. */
  invokes: { token: string; inputs: Record<string, unknown> }[];
  /** What each placeholder number the data sources answered with stands for, e.g. "<id of team release-managers>". */
  placeholders: Record<string, string>;
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** A wire value as plain JSON: secrets become "[secret]", unknowns "[unknown]", resource references their URN. */
export function plainValue(value: WireValue): WireValue {
  if (value === UNKNOWN) return "[unknown]";
  if (Array.isArray(value)) return value.map(plainValue);
  if (value !== null && typeof value === "object") {
    if (value[SIG_KEY] === SECRET_SIG) return "[secret]";
    if (value[SIG_KEY] === RESOURCE_SIG) return typeof value.urn === "string" ? value.urn : "[resource]";
    const out: Record<string, WireValue> = {};
    for (const key of Object.keys(value).sort()) out[key] = plainValue(value[key]);
    return out;
  }
  return value;
}

/** The URN an alias stands for, built the way MockMonitor builds URNs (the parent's own type, then the type), so it matches the plan's URNs. */
function aliasUrn(alias: Alias, req: RegisterResourceRequest, urn: string): string {
  const spec = alias.getSpec();
  if (alias.hasUrn() || !spec) return alias.getUrn();
  const [stack, project] = urn.slice("urn:pulumi:".length).split("::");
  const parent = spec.getNoparent() ? "" : spec.getParenturn() || req.getParent();
  const type = spec.getType() || req.getType();
  const qualified = parent ? `${parent.split("::")[2].split("$").pop()}$${type}` : type;
  return `urn:pulumi:${spec.getStack() || stack}::${spec.getProject() || project}::${qualified}::${spec.getName() || req.getName()}`;
}

/**
 * Whether an alias only renames the resource's own type, as the SDKs add for every API version or
 * module rename: the same name under a parent of the same type (URNs hold parents' types, not names).
 */
function typeOnlyAlias(alias: string, urn: string): boolean {
  const parts = (u: string) => {
    const [, , chain = "", name = ""] = u.slice("urn:pulumi:".length).split("::");
    const parents = chain.split("$").slice(0, -1).filter((t) => t !== "pulumi:pulumi:Stack");
    return { name, parent: parents.pop() ?? "" };
  };
  const a = parts(alias);
  const r = parts(urn);
  return a.name === r.name && a.parent === r.parent;
}

function recordRequest(req: RegisterResourceRequest, urn: string): RecordedResource {
  const object = req.getObject();
  const inputs = (object ? object.toJavaScript() : {}) as Record<string, WireValue>;
  const aliases = [...req.getAliasurnsList(), ...req.getAliasesList().map((a) => aliasUrn(a, req, urn))].filter((a) => a !== urn && !typeOnlyAlias(a, urn));
  return {
    urn,
    type: req.getType(),
    name: req.getName(),
    custom: req.getCustom(),
    parent: req.getParent() || null,
    inputs,
    dependsOn: [...req.getDependenciesList()].sort(),
    protect: req.getProtect() === true,
    retainOnDelete: req.getRetainondelete() === true,
    deleteBeforeReplace: req.getDeletebeforereplace(),
    ignoreChanges: [...req.getIgnorechangesList()],
    provider: req.getProvider() || null,
    replaceOnChanges: [...req.getReplaceonchangesList()].sort(),
    aliases: [...new Set(aliases)].sort(),
  };
}

const realFetch = globalThis.fetch;

/** Answers the program's ARM requests (any Azure cloud's) from `calls[ARM_GET]`; every other request goes out as usual. */
function mockArm(session: MockSession, calls: Record<string, Placeholder>, label: Label): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    // A metadata host (azure-native:metadataHost) names the public cloud's ARM, whose reads are answered here.
    if (url.pathname === "/metadata/endpoints") return new Response(JSON.stringify({ resourceManager: PUBLIC_ARM_ENDPOINT }), { status: 200 });
    if (!Object.values<string>(ARM_ENDPOINTS).includes(url.origin)) return realFetch(input, init);
    const inputs = armRequest(url);
    session.invokes.push({ token: ARM_GET, inputs });
    const { status, body } = armResponse(calls[ARM_GET](inputs, label));
    return new Response(body, { status, headers: { "content-type": "application/json" } });
  };
}

/**
 * Pulumi takes a full stack trace (Error.stackTraceLimit raised to Infinity) in every resource's
 * constructor, to send the engine the source position of the registration (Resource.stackTrace,
 * private in the SDK's types). The mock engine drops it and the plan shows none, but formatting
 * and parsing that trace is a tenth of a large plan's CPU time and keeps an object per frame per
 * resource alive until the registration is sent. Under the mocks the resource has no position.
 */
function skipSourcePositions(): void {
  // Only if the SDK still has the method: otherwise registrations just stay slower.
  if (typeof Reflect.get(pulumi.Resource, "stackTrace") !== "function") return;
  Object.defineProperty(pulumi.Resource, "stackTrace", { value: (): never[] => [], configurable: true, writable: true });
}

/**
 * Installs the mock runtime for project `release-infra`. Call before the program or a component
 * module is loaded. Data sources without a placeholder fail loudly, naming the token.
 */
export function installMocks(options: MockOptions): MockSession {
  const session: MockSession = { resources: [], invokes: [], placeholders: {} };
  skipSourcePositions();
  const label: Label = (what, ...parts) => {
    const value = placeholderNumber(...parts);
    session.placeholders[String(value)] = what;
    return value;
  };
  const calls: Record<string, Placeholder> = {
    ...fakeAnswers({ repositories: options.repositories, creates: options.creates }),
    ...(options.calls ?? {}),
  };
  globalThis.fetch = mockArm(session, calls, label);
  pulumi.runtime.setMocks(
    {
      call(args) {
        session.invokes.push({ token: args.token, inputs: args.inputs });
        const answer = calls[args.token];
        if (!answer) throw new Error(`the offline plan has no placeholder for data source ${args.token}; add one to scripts/lib/fakeCloud.ts`);
        return answer(args.inputs, label);
      },
      newResource(args) {
        if (!args.custom) return { id: undefined, state: {} };
        // A reference to a stack (this one, for its last `managed` output) reads its outputs: none offline, as for a new stack.
        if (args.type === "pulumi:pulumi:StackReference") {
          return { id: typeof args.inputs.name === "string" && args.inputs.name !== "" ? args.inputs.name : args.name, state: { name: args.inputs.name, outputs: {}, secretOutputNames: [] } };
        }
        const inputs: Record<string, unknown> = args.inputs;
        if (options.preview && !options.inState?.includes(args.name)) {
          // As in `pulumi preview` of a create: inputs are known, the id and cloud-computed outputs are not.
          return { id: undefined, state: inputs };
        }
        const computed = computedOutputs(args.type, args.name, inputs);
        const id = typeof computed.id === "string" ? computed.id : `${args.name}-id`;
        return { id, state: { ...inputs, ...computed } };
      },
    },
    "release-infra",
    options.stack,
    options.preview,
    // What a self-managed backend calls every stack's organization.
    "organization",
  );

  const installed = pulumi.runtime.getMonitor();
  if (!(installed instanceof MockMonitor)) throw new Error("the Pulumi mock monitor is not installed");
  const monitor: MockMonitor = installed;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: RegisterResourceRequest, callback: (err: unknown, response: RegisterResourceResponse | undefined) => void) =>
    register(req, (err: unknown, response: RegisterResourceResponse | undefined) => {
      if (response) session.resources.push(recordRequest(req, response.getUrn()));
      callback(err, response);
    });
  return session;
}
