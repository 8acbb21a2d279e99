import assert from "node:assert/strict";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { build } from "./harness";

class Probe extends pulumi.ComponentResource {
  constructor(name: string) {
    super("release-infra:test:Probe", name, {}, {});
    this.registerOutputs({});
  }
}

test("two builds in one process each record only their own resources", async () => {
  const first = await build(() => new Probe("one"));
  const second = await build(() => new Probe("two"), { stack: "prod" });
  assert.deepEqual(first.resources.map((r) => r.urn), ["urn:pulumi:dev::release-infra::release-infra:test:Probe::one"]);
  assert.deepEqual(second.resources.map((r) => r.urn), ["urn:pulumi:prod::release-infra::release-infra:test:Probe::two"]);
});

test("a build whose resources fail to resolve rejects with the error, unless errors are expected", async () => {
  const failing = () =>
    new (class extends pulumi.ComponentResource {
      constructor() {
        super("release-infra:test:Failing", "failing", {}, {});
        this.registerOutputs({ broken: pulumi.output("x").apply((): string => { throw new Error("cluster is not usable"); }) });
      }
    })();
  await assert.rejects(build(failing), /cluster is not usable/);
  const { errors } = await build(failing, { expectErrors: true });
  assert.ok(errors.some((e) => e.includes("cluster is not usable")));
});
