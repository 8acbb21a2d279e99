import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { CallOverride } from "../scripts/mocks";
import { PREVIEW_CHECKS_FAILED } from "../components/takeOver";
import { build } from "./harness";

// The whole program (index.ts) as a real `pulumi preview` runs it, under the mock runtime: what
// the components report is gathered into one failure. One run per file, since Node caches the
// program module.

const ENVIRONMENTS = "github:index/getRepositoryEnvironments:getRepositoryEnvironments";
const VARIABLES = "github:index/getActionsVariables:getActionsVariables";

const CONFIG = {
  "github:owner": "acme",
  "release-infra:stage": "prod",
  "release-infra:github": JSON.stringify({
    repositories: [
      {
        name: "shop",
        visibility: "public",
        plan: "team",
        variables: { LOG_LEVEL: "info" },
        environments: [{ name: "production", deployFrom: { branches: ["main"] } }],
      },
    ],
  }),
};

test("a preview that would create objects that exist already fails with one line per object, each naming its adopt key", async () => {
  const calls: Record<string, CallOverride> = {
    [ENVIRONMENTS]: () => ({ id: "shop", repository: "shop", environments: [{ name: "production", nodeId: "node-production" }] }),
    [VARIABLES]: () => ({ id: "shop", name: "shop", fullName: "acme/shop", variables: [{ name: "LOG_LEVEL", value: "debug", createdAt: "", updatedAt: "" }] }),
  };
  const { errors } = await build(
    () => {
      pulumi.runtime.setAllConfig(CONFIG);
      return require(path.join(__dirname, "..", "index"));
    },
    { stack: "prod", preview: true, calls, expectErrors: true },
  );
  const steps = "npm run plan -- --stack prod --import-file prod-import.json, then pulumi import --file prod-import.json --stack prod --generate-code=false (docs/migration.md)";
  // The same rejection may arrive more than once under the mocks.
  assert.deepEqual([...new Set(errors)], [
    [
      PREVIEW_CHECKS_FAILED,
      `GitHub environment acme/shop:production exists already and this stack does not manage it: set release-infra:github.repositories[shop].environments[production].adopt: true and import it (${steps}), or rename it in the config`,
      `GitHub repository variable LOG_LEVEL of acme/shop exists already and this stack does not manage it: set release-infra:github.repositories[shop].adoptVariables: [LOG_LEVEL] and import it (${steps}), or rename it in the config`,
    ].join("\n"),
  ]);
});
