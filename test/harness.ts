import * as pulumi from "@pulumi/pulumi";
import { engineUrn } from "../scripts/lib/importFile";
import { installMocks, plainValue, type CallOverride, type MockOptions, type MockSession, type RecordedResource, type WireValue } from "../scripts/mocks";

/** A registered resource with its inputs as plain JSON (secrets "[secret]", unknowns "[unknown]"). */
export interface Built extends RecordedResource {
  plain: Record<string, WireValue>;
}

export interface BuildOptions {
  /** Stack name; default "dev". */
  stack?: string;
  /** Behave like `pulumi preview`; default false (cloud-computed outputs get mock values). */
  preview?: boolean;
  /** Data source answers to replace. */
  calls?: Record<string, CallOverride>;
  /** Per repository name in lower case: its GitHub id and the teams with access; default a placeholder id and none. */
  repositories?: MockOptions["repositories"];
  /** Registries and resource groups ARM answers 404 for (MockOptions.creates). */
  creates?: MockOptions["creates"];
  /** Resources already in the stack's state (MockOptions.inState). */
  inState?: MockOptions["inState"];
  /** Return errors (a failed preview) in `errors` instead of rejecting. */
  expectErrors?: boolean;
  /**
   * Also wait for this before collecting errors: work the runtime does not wait for, such as a
   * component's read of an API server whose result only a stack output of the program awaits.
   */
  settled?: () => Promise<unknown>;
}

/**
 * Runs `create` under fresh Pulumi mocks, waits until every registration has reached the mock
 * engine, and returns what was registered plus what `create` returned.
 */
export async function build<T>(
  create: () => T,
  options: BuildOptions = {},
): Promise<{ resources: Built[]; result: T; warnings: string[]; errors: string[]; invokes: MockSession["invokes"] }> {
  const session = installMocks({ stack: options.stack ?? "dev", preview: options.preview ?? false, calls: options.calls, repositories: options.repositories, creates: options.creates, inState: options.inState });
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...parts: unknown[]) => {
    const match = /^warning: \[runtime\] ([\s\S]*)$/.exec(parts.map(String).join(" "));
    if (match) warnings.push(match[1]);
    else warn(...parts);
  };
  // An error thrown while resolving a resource's inputs fails `pulumi preview`/`up`; under the
  // mock runtime it surfaces as an unhandled rejection, collected here as the build's errors.
  const errors: string[] = [];
  const collect = (err: unknown) => errors.push(err instanceof Error ? err.message : String(err));
  // The test runner's own listener would fail the test on the first one: set it aside meanwhile.
  const listeners = process.listeners("unhandledRejection");
  process.removeAllListeners("unhandledRejection");
  process.on("unhandledRejection", collect);
  // As in the offline plan (scripts/lib/planStack.ts): no stack string on each of Pulumi's promises.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let result: T;
  try {
    result = create();
    await pulumi.runtime.disconnect();
    await options.settled?.();
    // Rejections of outputs registered last (registerOutputs) arrive a few ticks later.
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    console.warn = warn;
    process.off("unhandledRejection", collect);
    for (const listener of listeners) process.on("unhandledRejection", listener);
  }
  if (errors.length > 0 && !options.expectErrors) throw new Error(`the build failed:\n${[...new Set(errors)].join("\n")}`);
  // A failed registration leaves its promises pending forever. A real run logs the error, which
  // skips the runtime's leak report at exit; the mocks log nothing, so start a fresh runtime.
  if (errors.length > 0) installMocks({ stack: options.stack ?? "dev", preview: options.preview ?? false });
  const resources = session.resources.map((r) => ({ ...r, plain: plainValue(r.inputs) as Record<string, WireValue> }));
  return { resources, result, warnings, errors, invokes: session.invokes };
}

/** The resolved value of an output (do not use on values that stay unknown in a preview). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => { resolve(v); return v; }));
}

/** Resources of one type token. */
export function ofType(resources: Built[], type: string): Built[] {
  return resources.filter((r) => r.type === type);
}

/** The one resource of a type with a given logical name; throws naming what exists otherwise. */
export function named(resources: Built[], type: string, name: string): Built {
  const found = resources.find((r) => r.type === type && r.name === name);
  if (!found) throw new Error(`no ${type} named ${name}; have: ${ofType(resources, type).map((r) => r.name).join(", ") || "none"}`);
  return found;
}

/**
 * Each resource's URN as the Pulumi engine forms it (scripts/lib/importFile.ts engineUrn): the
 * mock monitor puts only the parent's type in a URN, so URNs of grandchildren differ from real ones.
 */
export function engineUrns(resources: readonly Built[]): Map<Built, string> {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  // urn:pulumi:<stack>::<project>::…
  const [stack, project] = (resources[0]?.urn ?? "urn:pulumi:::::").slice("urn:pulumi:".length).split("::");
  return new Map(resources.map((r) => [r, engineUrn(r, byUrn, stack, project)]));
}
