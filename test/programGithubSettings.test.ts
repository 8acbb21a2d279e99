import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { CallOverride } from "../scripts/mocks";
import { PREVIEW_CHECKS_FAILED } from "../components/takeOver";
import { build } from "./harness";

// The whole program (index.ts) as a real `pulumi preview` runs it: what only GitHub knows about a
// repository is compared with the config and fails the preview with the take-over problems.

const CONFIG = {
  "github:owner": "acme",
  "release-infra:stage": "prod",
  "release-infra:github": JSON.stringify({
    repositories: [{ name: "shop", visibility: "private", plan: "enterprise", environments: [{ name: "production", deployFrom: { branches: ["main"] } }] }],
  }),
};

test("a preview fails when GitHub says the repository's visibility or its owner's plan is not the configured one", async () => {
  const calls: Record<string, CallOverride> = {
    "github:index/getRepository:getRepository": () => ({ id: "shop", fullName: "acme/shop", name: "shop", repoId: 812345678, visibility: "public" }),
    "github:index/getRestApi:getRestApi": (a) => {
      const endpoint = String(a.endpoint);
      const body = endpoint === "orgs/acme" ? { login: "acme", plan: { name: "team" } } : [];
      return { id: endpoint, endpoint, code: 200, status: "200 OK", headers: "{}", body: JSON.stringify(body) };
    },
  };
  const { errors } = await build(
    () => {
      pulumi.runtime.setAllConfig(CONFIG);
      return require(path.join(__dirname, "..", "index"));
    },
    { stack: "prod", preview: true, calls, expectErrors: true },
  );
  assert.deepEqual([...new Set(errors)], [
    [
      PREVIEW_CHECKS_FAILED,
      "release-infra:github.repositories[shop].visibility is private, but GitHub says acme/shop is public: it decides which protection rules are sent; set visibility: public",
      "release-infra:github.repositories[shop].plan is enterprise, but GitHub says the plan of acme is team: it decides which protection rules are sent; set plan: team",
    ].join("\n"),
  ]);
});
