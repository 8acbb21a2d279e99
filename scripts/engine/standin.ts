/**
 * A stand-in resource provider plugin (no cloud is reachable here), served with
 * @pulumi/pulumi/provider: `standin.ts <package> <version> <engine address>`. It answers check,
 * diff, create, read, update, delete and invoke from the fake cloud the offline plan's mocks use
 * (scripts/lib/fakeCloud.ts), and its diff replaces where scripts/lib/review/replacement.ts says a
 * change forces a replacement. Installed by scripts/engine/run.ts under the name and version the
 * SDK in node_modules requests.
 */
import { ReadRequest } from "@pulumi/pulumi/proto/provider_pb";
import { main, type Provider } from "@pulumi/pulumi/provider";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { computedOutputs, fakeAnswers, placeholderNumber } from "../lib/fakeCloud";
import { replacementReasons } from "../lib/review/replacement";
import { adoptedObject, readWorld, recordObject, WORLD_ENV } from "./world";

const [pkg, version, ...rest] = process.argv.slice(2);
const worldDir = process.env[WORLD_ENV];
if (!pkg || !version || !worldDir) {
  console.error(`usage: ${WORLD_ENV}=DIR standin.ts <package> <version> <engine address>`);
  process.exit(2);
}

// The SDK's provider server reads a Read request's properties unconditionally (provider/server.js,
// `req.getProperties().toJavaScript()`), but the Read of `pulumi import` sends none: an import
// failed with "Cannot read properties of undefined (reading 'toJavaScript')". Absent properties
// are read as empty ones, which is what the request means.
const readProperties = ReadRequest.prototype.getProperties;
ReadRequest.prototype.getProperties = function (this: ReadRequest) {
  return readProperties.call(this) ?? new Struct();
};

/** `urn:pulumi:stack::project::parent$type::name` -> type and name. */
function parseUrn(urn: string): { type: string; name: string } {
  const parts = urn.split("::");
  return { type: (parts[2] ?? "").split("$").pop() ?? "", name: parts.slice(3).join("::") };
}

/** Paths (dotted, [i] for list items) where `a` and `b` differ, as replacement rules name inputs. */
function changedPaths(a: unknown, b: unknown, at = ""): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((k) => changedPaths(a[k], b[k], at ? `${at}.${k}` : k));
  }
  return [at];
}

const label = (_what: string, ...parts: string[]) => placeholderNumber(...parts);

const provider: Provider = {
  version,
  async check(_urn, _olds, news) {
    return { inputs: news };
  },
  async diff(_id, urn, olds, news) {
    const { type, name } = parseUrn(urn);
    // The engine sends the old outputs: what the cloud computed is no input that went away.
    const computed = new Set(Object.keys(computedOutputs(type, name, olds)).filter((k) => !(k in news)));
    const oldInputs = Object.fromEntries(Object.entries(olds).filter(([k]) => !computed.has(k)));
    const changed = changedPaths(oldInputs, news).filter((p) => p !== "");
    const { reasons } = replacementReasons({ type, replaceOnChanges: [] }, changed);
    const replaces = [...new Set(reasons.flatMap((r) => r.path.split(", ")).map((p) => p.split(/[.[]/)[0]))];
    return { changes: changed.length > 0, replaces };
  },
  async create(urn, inputs) {
    const { type, name } = parseUrn(urn);
    const computed = computedOutputs(type, name, inputs);
    recordObject(worldDir, type, inputs, true);
    return { id: typeof computed.id === "string" ? computed.id : `${name}-id`, outs: { ...inputs, ...computed } };
  },
  async read(id, urn, props) {
    // A refresh keeps the state; an import (no state yet) finds the adopted object as the stack file declares it.
    if (props && Object.keys(props).length > 0) return { id, props, inputs: props };
    const { type, name } = parseUrn(urn);
    const found = adoptedObject(worldDir, id);
    if (!found) throw new Error(`${type} ${id} does not exist in the fake cloud`);
    return { id, props: { ...found, ...computedOutputs(type, name, found) }, inputs: found };
  },
  async update(_id, urn, _olds, news) {
    const { type, name } = parseUrn(urn);
    recordObject(worldDir, type, news, true);
    return { outs: { ...news, ...computedOutputs(type, name, news) } };
  },
  async delete(_id, urn, props) {
    recordObject(worldDir, parseUrn(urn).type, props, false);
  },
  async invoke(token, inputs) {
    const answer = fakeAnswers(readWorld(worldDir))[token];
    if (!answer) throw new Error(`the stand-in ${pkg} provider has no fake answer for ${token}; add one to scripts/lib/fakeCloud.ts`);
    return { outputs: answer(inputs, label) };
  },
};

main(provider, rest).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
