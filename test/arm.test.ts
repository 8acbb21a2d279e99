import { test } from "node:test";
import * as assert from "node:assert/strict";
import { ARM_ENDPOINTS, armEndpoint } from "../components/arm";

test("the ARM endpoint follows azure-native's environment, public by default", async () => {
  assert.equal(await armEndpoint({}), "https://management.azure.com");
  assert.equal(await armEndpoint({ environment: "usgovernment" }), "https://management.usgovcloudapi.net");
  assert.equal(await armEndpoint({ environment: "china" }), ARM_ENDPOINTS.china);
});

test("a metadata host wins over the environment and names ARM in resourceManager", async () => {
  const realFetch = globalThis.fetch;
  const asked: string[] = [];
  globalThis.fetch = async (input) => {
    asked.push(String(input));
    return new Response(JSON.stringify({ resourceManager: "https://management.azurestack.example/", name: "AzureStack" }), { status: 200 });
  };
  try {
    assert.equal(await armEndpoint({ environment: "china", metadataHost: "metadata.azurestack.example" }), "https://management.azurestack.example");
    assert.deepEqual(asked, ["https://metadata.azurestack.example/metadata/endpoints?api-version=2022-09-01"]);
  } finally {
    globalThis.fetch = realFetch;
  }
});

test("a metadata host that names no ARM endpoint stops with the host and the answer", async () => {
  const realFetch = globalThis.fetch;
  globalThis.fetch = async () => new Response("not here", { status: 404 });
  try {
    await assert.rejects(armEndpoint({ metadataHost: "wrong.example" }), /wrong\.example named no resourceManager endpoint .*HTTP 404/);
  } finally {
    globalThis.fetch = realFetch;
  }
});
