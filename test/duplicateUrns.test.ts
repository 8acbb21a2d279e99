import assert from "node:assert/strict";
import { test } from "node:test";
import { duplicateUrnProblems } from "../scripts/lib/duplicateUrns";

test("a duplicate URN is refused, naming the config entries that gave the name", () => {
  // The schema refuses a repeated deployFrom pattern first; this is the plan's own last guard for
  // any two entries that end up with one resource name.
  const type = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy";
  const urn = `urn:pulumi:dev::release-infra::release-infra:github:Environment$${type}::repo-shop-env-dev-branch-main`;
  const values = {
    "release-infra:github": {
      repositories: [
        { name: "shop", environments: [{ name: "dev", deployFrom: { branches: ["main", "main"] } }] },
        { name: "web", environments: [{ name: "dev", deployFrom: { branches: ["main"] } }] },
      ],
    },
  };
  const registration = { urn, type, name: "repo-shop-env-dev-branch-main", aliases: [] };
  const problems = duplicateUrnProblems([registration, registration], values, "Pulumi.dev.yaml");
  assert.equal(problems.length, 1);
  const env = "release-infra:github.repositories[shop].environments[dev]";
  assert.ok(problems[0].startsWith(`Pulumi.dev.yaml: ${env}.deployFrom.branches[0] and ${env}.deployFrom.branches[1]: `), problems[0]);
  assert.ok(problems[0].includes(`Pulumi refuses a duplicate resource URN (${urn})`));
});

test("an alias that names another resource's URN is refused, as the engine refuses it", () => {
  const urn = (name: string) => `urn:pulumi:dev::release-infra::github:index/actionsVariable:ActionsVariable::${name}`;
  const values = { "release-infra:github": { repositories: [{ name: "shop", variables: { NEW: "1", OLD: "2" } }] } };
  const problems = duplicateUrnProblems(
    [
      { urn: urn("repo-shop-var-old"), type: "github:index/actionsVariable:ActionsVariable", name: "repo-shop-var-old", aliases: [] },
      { urn: urn("repo-shop-var-new"), type: "github:index/actionsVariable:ActionsVariable", name: "repo-shop-var-new", aliases: [urn("repo-shop-var-old")] },
    ],
    values,
    "Pulumi.dev.yaml",
  );
  assert.equal(problems.length, 1);
  assert.match(problems[0], /^Pulumi\.dev\.yaml: .*"repo-shop-var-new" keeps the state of its earlier name .*repo-shop-var-old, which another resource of this stack has now/);
});

test("unique URNs and aliases to names no longer in use pass", () => {
  const urn = (name: string) => `urn:pulumi:dev::release-infra::t:m:T::${name}`;
  assert.deepEqual(duplicateUrnProblems([{ urn: urn("a"), type: "t:m:T", name: "a", aliases: [urn("gone")] }, { urn: urn("b"), type: "t:m:T", name: "b", aliases: [] }], {}, "f"), []);
});
