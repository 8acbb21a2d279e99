import assert from "node:assert/strict";
import * as path from "node:path";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { PREVIEW_CHECKS_FAILED } from "../components/takeOver";
import { build } from "./harness";

// The whole program as a real `pulumi preview` runs it, for the stack's own resource group (a file
// of its own: Node caches the program module, so each file runs it once).

test("a preview whose resource group exists already fails naming adoptResourceGroup; adopted and in the state, it passes", async () => {
  const config = (adoptResourceGroup: boolean) => ({
    "azure-native:location": "westeurope",
    "release-infra:stage": "dev",
    "release-infra:azure": JSON.stringify({ resourceGroup: "acme-release-dev", adoptResourceGroup }),
  });
  const run = async (adopt: boolean, inState: string[]) => {
    // A fresh module each run: the program registers its resources when it is loaded.
    delete require.cache[require.resolve(path.join(__dirname, "..", "index"))];
    const { errors } = await build(
      () => {
        pulumi.runtime.setAllConfig(config(adopt));
        return require(path.join(__dirname, "..", "index"));
      },
      // Under the mocks ARM finds every resource group the options do not list as created.
      { stack: "dev", preview: true, inState, expectErrors: true },
    );
    return [...new Set(errors)];
  };
  assert.deepEqual(await run(false, []), [
    [
      PREVIEW_CHECKS_FAILED,
      "Azure resource group acme-release-dev exists already and this stack does not manage it: set release-infra:azure.adoptResourceGroup: true and import it (npm run plan -- --stack dev --import-file dev-import.json, then pulumi import --file dev-import.json --stack dev --generate-code=false (docs/migration.md)), or rename it in the config",
    ].join("\n"),
  ]);
  assert.deepEqual(await run(true, ["resource-group"]), []);
});

test("an adopted resource group keeps its managedBy, and its tags unless release-infra:tags sets them", async () => {
  const ignored = async (tags: Record<string, string> | undefined) => {
    delete require.cache[require.resolve(path.join(__dirname, "..", "index"))];
    const { resources } = await build(
      () => {
        pulumi.runtime.setAllConfig({
          "azure-native:location": "westeurope",
          "release-infra:stage": "dev",
          "release-infra:azure": JSON.stringify({ resourceGroup: "acme-release-dev", adoptResourceGroup: true }),
          ...(tags ? { "release-infra:tags": JSON.stringify(tags) } : {}),
        });
        return require(path.join(__dirname, "..", "index"));
      },
      { stack: "dev" },
    );
    return resources.find((r) => r.type === "azure-native:resources:ResourceGroup")?.ignoreChanges.sort();
  };
  assert.deepEqual(await ignored(undefined), ["managedBy", "tags"]);
  assert.deepEqual(await ignored({ team: "platform" }), ["managedBy"]);
});
