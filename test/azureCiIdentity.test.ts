import assert from "node:assert/strict";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { AzureCiIdentity, type AzureCiIdentityArgs } from "../components/azureCiIdentity";
import { environmentSubject } from "../components/githubOidc";
import { SUBSCRIPTION_ID, TENANT_ID } from "../scripts/mocks";
import { build, named, ofType, valueOf } from "./harness";

const IDENTITY = "azure-native:managedidentity:UserAssignedIdentity";
const CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential";
const IDENTITY_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$/;
const CREDENTIAL_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$/;

function args(overrides: Partial<AzureCiIdentityArgs> = {}): AzureCiIdentityArgs {
  const repository = overrides.repository ?? "shop";
  const environment = overrides.environment ?? "production";
  return {
    owner: "acme",
    repository,
    environment,
    subjects: [environmentSubject("name-only", { owner: "acme", repository, environment })],
    resourceGroupName: "acme-release-prod",
    location: "westeurope",
    tags: { team: "platform" },
    ...overrides,
  };
}

test("one user-assigned identity named after the repository and environment", async () => {
  const { resources } = await build(() => new AzureCiIdentity("shop-production", args()));
  const identities = ofType(resources, IDENTITY);
  assert.equal(identities.length, 1);
  assert.equal(identities[0].plain.resourceName, "id-shop-production");
  assert.equal(identities[0].plain.resourceGroupName, "acme-release-prod");
  assert.equal(identities[0].plain.location, "westeurope");
});

test("the federated credential trusts exactly the environment's subject, GitHub's issuer and Azure's audience", async () => {
  const { resources } = await build(() => new AzureCiIdentity("shop-production", args()));
  const credentials = ofType(resources, CREDENTIAL);
  assert.equal(credentials.length, 1);
  const c = credentials[0].plain;
  assert.equal(c.subject, "repo:acme/shop:environment:production");
  assert.equal(c.issuer, "https://token.actions.githubusercontent.com");
  assert.deepEqual(c.audiences, ["api://AzureADTokenExchange"]);
  assert.equal(c.resourceName, "id-shop-production");
  assert.equal(c.resourceGroupName, "acme-release-prod");
  assert.match(String(c.federatedIdentityCredentialResourceName), CREDENTIAL_NAME);
});

test("credentials on one identity are created one after another", async () => {
  const subjects = ["repo:acme/shop:environment:production", "repo:acme@123/shop@456:environment:production", "repo:acme/shop:environment:production-eu"];
  const { resources } = await build(() => new AzureCiIdentity("shop-production", args({ subjects })));
  const identity = named(resources, IDENTITY, "shop-production-identity");
  const credentials = ofType(resources, CREDENTIAL);
  assert.deepEqual(credentials.map((c) => c.plain.subject), subjects);
  assert.ok(credentials[0].dependsOn.includes(identity.urn));
  assert.ok(credentials[1].dependsOn.includes(credentials[0].urn));
  assert.ok(credentials[2].dependsOn.includes(credentials[1].urn));
});

test("a subject listed twice gets one credential (Azure rejects duplicate issuer and subject)", async () => {
  const subject = "repo:acme/shop:environment:production";
  const { resources } = await build(() => new AzureCiIdentity("shop-production", args({ subjects: [subject, subject] })));
  assert.equal(ofType(resources, CREDENTIAL).length, 1);
});

test("only the immutable subject is trusted when the repository's identities trust only that form", async () => {
  const immutable = environmentSubject("immutable", { owner: "acme", ownerId: 71234567, repository: "shop", repositoryId: 812345678, environment: "production" });
  const { resources } = await build(() => new AzureCiIdentity("shop-production", args({ subjects: [immutable] })));
  assert.deepEqual(ofType(resources, CREDENTIAL).map((c) => c.plain.subject), ["repo:acme@71234567/shop@812345678:environment:production"]);
});

test("no credential is registered while a check of the subjects fails (e.g. GitHub spells the repository differently)", async () => {
  const check = pulumi.output("acme/shop").apply((name): string => {
    throw new Error(`GitHub spells ${name} as acme/Shop`);
  });
  const { resources, errors } = await build(() => new AzureCiIdentity("shop-production", args({ trustAfter: [check] })), { expectErrors: true });
  assert.ok(errors.some((e) => e.includes("GitHub spells acme/shop as acme/Shop")), errors.join("\n"));
  assert.deepEqual(ofType(resources, CREDENTIAL), []);
});

test("an identity without a subject to trust is an error before anything is registered", async () => {
  const { resources, result } = await build(() => {
    try {
      return new AzureCiIdentity("shop-production", args({ subjects: [] }));
    } catch (err) {
      return err;
    }
  });
  assert.ok(result instanceof Error && /no subject to trust/.test(result.message));
  assert.deepEqual(resources, []);
});

test("more than 20 subjects is an error", async () => {
  const subjects = Array.from({ length: 21 }, (_, i) => `repo:acme/shop:environment:e${i}`);
  await assert.rejects(build(() => new AzureCiIdentity("shop-production", args({ subjects }))), /at most 20/);
});

test("identity and credential names stay within Azure's rules for dotted and very long names", async () => {
  const environment = `e${"x".repeat(200)}.v2`;
  const { resources } = await build(() => new AzureCiIdentity("long", args({ repository: "event-forge.inbox", environment })));
  const identityName = String(ofType(resources, IDENTITY)[0].plain.resourceName);
  assert.match(identityName, IDENTITY_NAME);
  const credential = ofType(resources, CREDENTIAL)[0].plain;
  assert.match(String(credential.federatedIdentityCredentialResourceName), CREDENTIAL_NAME);
  assert.equal(credential.resourceName, identityName);
  assert.equal(credential.subject, `repo:acme/event-forge.inbox:environment:${environment}`);
});

test("dotted names that sanitise alike still get distinct identity names", async () => {
  const dotted = await build(() => new AzureCiIdentity("a", args({ repository: "web.app" })));
  const dashed = await build(() => new AzureCiIdentity("a", args({ repository: "web-app" })));
  assert.notEqual(ofType(dotted.resources, IDENTITY)[0].plain.resourceName, ofType(dashed.resources, IDENTITY)[0].plain.resourceName);
});

test("outputs resolve to the identity's client, principal and tenant ids and the subscription", async () => {
  const { result } = await build(() => new AzureCiIdentity("shop-production", args()));
  assert.equal(await valueOf(result.clientId), "<client-id of id-shop-production>");
  assert.equal(await valueOf(result.principalId), "<principal-id of id-shop-production>");
  assert.equal(await valueOf(result.tenantId), TENANT_ID);
  assert.equal(await valueOf(result.subscriptionId), SUBSCRIPTION_ID);
});

test("in a preview, the credential already names the identity it trusts", async () => {
  const { resources } = await build(() => new AzureCiIdentity("shop-production", args()), { preview: true });
  assert.equal(ofType(resources, CREDENTIAL)[0].plain.resourceName, "id-shop-production");
});
