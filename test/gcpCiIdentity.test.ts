import assert from "node:assert/strict";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";
import * as iam from "@pulumi/gcp/iam";
import { GcpCiIdentity } from "../components/gcpCiIdentity";
import { GcpWorkloadIdentityPool, type GcpWorkloadIdentityPoolArgs } from "../components/gcpWorkloadIdentityPool";
import { environmentSubject } from "../components/githubOidc";
import { placeholderNumber } from "../scripts/mocks";
import { build, named, ofType, valueOf } from "./harness";

const PROJECT = "acme-web-prod";
const POOL_NAME = `projects/${placeholderNumber("project", PROJECT)}/locations/global/workloadIdentityPools/github-prod`;

const T = {
  pool: "gcp:iam/workloadIdentityPool:WorkloadIdentityPool",
  provider: "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
  account: "gcp:serviceaccount/account:Account",
  saMember: "gcp:serviceaccount/iAMMember:IAMMember",
};

const POOL: GcpWorkloadIdentityPoolArgs = {
  project: PROJECT,
  poolId: "github-prod",
  owner: "acme",
  repositories: [
    { name: "navi", id: "777" },
    { name: "shop", id: pulumi.output("888") },
  ],
};

function pool(args: Partial<GcpWorkloadIdentityPoolArgs> = {}) {
  return build(() => new GcpWorkloadIdentityPool("github", { ...POOL, ...args }), { stack: "prod" });
}

function identity(repository: string, environment: string, subjects = [environmentSubject("name-only", { owner: "acme", repository, environment })], trustAfter?: pulumi.Output<unknown>[]) {
  return build(
    () =>
      new GcpCiIdentity(`${repository}-${environment}`, {
        project: PROJECT,
        owner: "acme",
        repository,
        environment,
        poolName: POOL_NAME,
        providerName: pulumi.output(`${POOL_NAME}/providers/github`),
        subjects,
        trustAfter,
      }),
    { stack: "prod", expectErrors: trustAfter !== undefined },
  );
}

test("the provider trusts GitHub Actions' issuer only", async () => {
  const { resources } = await pool();
  const provider = named(resources, T.provider, "github-github").plain;
  assert.deepEqual(provider.oidc, { issuerUri: "https://token.actions.githubusercontent.com" });
  assert.equal(provider.workloadIdentityPoolId, "github-prod");
});

test("the attribute condition pins the owner and each listed repository by id and by name", async () => {
  const { resources } = await pool();
  assert.equal(
    named(resources, T.provider, "github-github").plain.attributeCondition,
    `assertion.repository_owner == "acme" && assertion.repository_id in ["777", "888"] && assertion.repository in ["acme/navi", "acme/shop"]`,
  );
});

test("the attribute condition output is the provider's condition", async () => {
  const { resources, result } = await pool();
  assert.equal(await valueOf(result.attributeCondition), named(resources, T.provider, "github-github").plain.attributeCondition);
});

test("repository ids from GitHub's repository data source pin the condition", async () => {
  const { resources } = await pool({
    repositories: ["navi", "shop"].map((name) => ({ name, id: github.getRepositoryOutput({ fullName: `acme/${name}` }).repoId.apply(String) })),
  });
  const ids = ["navi", "shop"].map((name) => JSON.stringify(String(placeholderNumber("repository", `acme/${name}`))));
  const condition = String(named(resources, T.provider, "github-github").plain.attributeCondition);
  assert.ok(condition.includes(`assertion.repository_id in [${ids.join(", ")}]`), condition);
});

test("repository ids unknown in a preview leave the condition unknown, not the preview failed", async () => {
  const { resources } = await build(
    () => {
      // A resource's id is unknown until apply in a preview: stands in for an id known only then.
      const unknownId = new iam.WorkloadIdentityPool("unknown-id", { workloadIdentityPoolId: "unknown-id" }).id;
      return new GcpWorkloadIdentityPool("github", { ...POOL, repositories: [{ name: "navi", id: unknownId }] });
    },
    { stack: "prod", preview: true },
  );
  const provider = named(resources, T.provider, "github-github").plain;
  assert.equal(provider.attributeCondition, "[unknown]");
  assert.deepEqual(provider.oidc, { issuerUri: "https://token.actions.githubusercontent.com" });
});

test("the subject and the claims the condition uses are mapped", async () => {
  const { resources } = await pool();
  const mapping = named(resources, T.provider, "github-github").plain.attributeMapping;
  assert.ok(mapping !== null && typeof mapping === "object" && !Array.isArray(mapping));
  assert.equal(mapping["google.subject"], "assertion.sub");
  for (const claim of ["repository", "repository_id", "repository_owner", "environment"]) {
    assert.equal(mapping[`attribute.${claim}`], `assertion.${claim}`, claim);
  }
});

test("pool ids are deterministic and within GCP's limits", async () => {
  assert.equal(named((await pool()).resources, T.pool, "github-pool").plain.workloadIdentityPoolId, "github-prod");
  const long = named((await pool({ poolId: "github-Customer_Staging-Europe-West" })).resources, T.pool, "github-pool").plain.workloadIdentityPoolId;
  assert.equal(long, named((await pool({ poolId: "github-Customer_Staging-Europe-West" })).resources, T.pool, "github-pool").plain.workloadIdentityPoolId);
  assert.match(String(long), /^[a-z][-a-z0-9]{2,30}[a-z0-9]$/);
  assert.doesNotMatch(String(named((await pool({ poolId: "gcp-prod" })).resources, T.pool, "github-pool").plain.workloadIdentityPoolId), /^gcp-/);
});

test("pool outputs are the pool's and the provider's full resource names", async () => {
  const { result } = await pool();
  assert.equal(await valueOf(result.poolName), POOL_NAME);
  assert.equal(await valueOf(result.providerName), `${POOL_NAME}/providers/github`);
});

test("only the repository's environment may impersonate the service account, by its exact subject", async () => {
  const { resources } = await identity("navi", "production");
  const account = named(resources, T.account, "navi-production-account");
  const members = ofType(resources, T.saMember);
  assert.deepEqual(
    members.map((m) => [m.plain.serviceAccountId, m.plain.role, m.plain.member]),
    [
      [
        `projects/${PROJECT}/serviceAccounts/${account.plain.accountId}@${PROJECT}.iam.gserviceaccount.com`,
        "roles/iam.workloadIdentityUser",
        `principal://iam.googleapis.com/${POOL_NAME}/subject/repo:acme/navi:environment:production`,
      ],
    ],
  );
});

test("each trusted subject is one exact principal, e.g. both forms while a repository switches over", async () => {
  const immutable = "repo:acme@4242/navi@777:environment:production";
  const { resources } = await identity("navi", "production", ["repo:acme/navi:environment:production", immutable]);
  assert.deepEqual(
    ofType(resources, T.saMember).map((m) => m.plain.member).sort(),
    [
      `principal://iam.googleapis.com/${POOL_NAME}/subject/${immutable}`,
      `principal://iam.googleapis.com/${POOL_NAME}/subject/repo:acme/navi:environment:production`,
    ].sort(),
  );
});

test("no trust is repository-wide or a wildcard", async () => {
  const { resources } = await identity("navi", "production", ["repo:acme/navi:environment:production", "repo:acme@4242/navi@777:environment:production"]);
  for (const member of ofType(resources, T.saMember).map((m) => String(m.plain.member))) {
    assert.match(member, /^principal:\/\/iam\.googleapis\.com\/.+\/subject\/repo:[^*]+:environment:production$/);
  }
});

test("service account ids are deterministic, 6-30 characters and distinct per environment", async () => {
  const accountId = async (repository: string, environment: string) =>
    String(ofType((await identity(repository, environment)).resources, T.account)[0].plain.accountId);
  assert.equal(await accountId("navi", "production"), "ci-navi-production");
  const longA = await accountId("event-forge-inbox-outbox", "production");
  const longB = await accountId("event-forge-inbox-outbox", "production-eu");
  assert.equal(longA, await accountId("event-forge-inbox-outbox", "production"));
  assert.notEqual(longA, longB);
  for (const id of [longA, longB]) assert.match(id, /^[a-z][-a-z0-9]{4,28}[a-z0-9]$/);
});

test("outputs are the provider name and the service account email", async () => {
  const { result } = await identity("navi", "production");
  assert.equal(await valueOf(result.workloadIdentityProvider), `${POOL_NAME}/providers/github`);
  assert.equal(await valueOf(result.serviceAccountEmail), `ci-navi-production@${PROJECT}.iam.gserviceaccount.com`);
});

test("no subject is trusted while a check of the subjects fails (e.g. a custom OIDC subject template)", async () => {
  const check = pulumi.output("acme/navi").apply((name): string => {
    throw new Error(`${name} does not use GitHub's default OIDC subject template`);
  });
  const { resources } = await identity("navi", "production", undefined, [check]);
  assert.deepEqual(ofType(resources, T.saMember), []);
});
