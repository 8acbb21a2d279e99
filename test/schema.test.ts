import assert from "node:assert/strict";
import { test } from "node:test";
import { stackFileJsonSchema } from "../scripts/schema";

type Node = { properties?: Record<string, Node>; items?: Node; additionalProperties?: Node | boolean; anyOf?: Node[]; description?: string; required?: string[] };

/** Every property of the JSON Schema without a description, as a dotted path. */
function undescribed(node: Node, path: string, out: string[] = []): string[] {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (!child.description && !(child.anyOf ?? []).some((a) => a.description)) out.push(`${path}.${key}`);
    undescribed(child, `${path}.${key}`, out);
  }
  for (const child of [node.items, typeof node.additionalProperties === "object" ? node.additionalProperties : undefined, ...(node.anyOf ?? [])]) {
    if (child) undescribed(child, `${path}[]`, out);
  }
  return out;
}

test("every key of the stack file's JSON Schema has a description for editors' hover help", () => {
  assert.deepEqual(undescribed(stackFileJsonSchema() as Node, "file"), []);
});

test("release-infra:stage is optional in the JSON Schema, since it defaults to the stack name", () => {
  const config = (stackFileJsonSchema() as Node).properties?.config;
  assert.ok(config?.properties?.["release-infra:stage"]);
  assert.ok(!(config?.required ?? []).includes("release-infra:stage"));
});

test("defaults in the JSON Schema are the schema's own, e.g. restricted Pod Security and one-year immutable caching", () => {
  const text = JSON.stringify(stackFileJsonSchema());
  assert.match(text, /"podSecurity":\{"default":"restricted"/);
  assert.match(text, /"immutableMaxAgeSeconds":\{"default":31536000/);
});
