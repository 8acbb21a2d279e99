import assert from "node:assert/strict";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { RepositoryConfig, TrustedPublishingConfig } from "../config/load";
import { GithubLookups } from "../components/githubLookups";
import { RepositoryGovernance } from "../components/repositoryGovernance";
import { TrustedPublishing, type TrustedPublishingArgs } from "../components/trustedPublishing";
import { placeholderNumber } from "../scripts/mocks";
import { build, named, ofType, valueOf } from "./harness";

const ENV = "github:index/repositoryEnvironment:RepositoryEnvironment";
const POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy";

const PUBLIC: Pick<RepositoryConfig, "name" | "visibility" | "plan"> = { name: "event-forge", visibility: "public", plan: "team" };

function entry(overrides: Partial<TrustedPublishingConfig> = {}): TrustedPublishingConfig {
  return {
    registry: "pypi",
    package: "event-forge-inbox-outbox",
    workflow: "release.yml",
    environment: "pypi",
    deployFrom: { branches: ["main"], tags: ["v*"] },
    reviewers: { teams: ["release-managers"], users: [] },
    reusableWorkflow: false,
    stagedPublishing: false,
    adopt: false,
    ...overrides,
  };
}

function args(overrides: Partial<TrustedPublishingArgs> = {}): TrustedPublishingArgs {
  const entries = overrides.entries ?? [entry()];
  return { owner: "acme", repository: PUBLIC, entries, environment: pulumi.output(entries[0].environment), ...overrides };
}

const publish = (a: TrustedPublishingArgs = args()) => build(() => new TrustedPublishing("event-forge-pypi", a), { stack: "prod" });

/** The repository whose governance creates the publishing environment of `entries`. */
function governedRepository(entries: TrustedPublishingConfig[]): RepositoryConfig {
  return { ...PUBLIC, environments: [], rulesets: [], secrets: [], variables: {}, notSecret: [], adoptVariables: [], retiredSecrets: [], trustedPublishing: entries, actionsDefaults: false };
}

const govern = (entries: TrustedPublishingConfig[], teams: string[] = ["release-managers"], preview = false) =>
  build(
    () =>
      new RepositoryGovernance("repo-event-forge", {
        owner: "acme",
        repository: governedRepository(entries),
        stage: "prod",
        secrets: {},
        wiredVariables: {},
        lookups: new GithubLookups("acme"),
      }),
    { stack: "prod", preview, repositories: { "event-forge": { teams } }, expectErrors: true },
  );

/** The publisher of a component built from a single entry. */
async function onlyPublisher(component: TrustedPublishing) {
  const publishers = await valueOf(component.publishers);
  assert.equal(publishers.length, 1);
  return publishers[0];
}

/** npm entries of one monorepo release job, all in environment npm. */
const npmEntries = (...packages: string[]) => packages.map((pkg) => entry({ registry: "npm", package: pkg, environment: "npm" }));

test("PyPI: the outputs are exactly what the publisher form asks for, with the project's publishing page", async () => {
  const { result } = await publish();
  const { note, ...publisher } = await onlyPublisher(result);
  assert.deepEqual(publisher, {
    registry: "pypi",
    package: "event-forge-inbox-outbox",
    owner: "acme",
    repository: "event-forge",
    workflow: "release.yml",
    environment: "pypi",
    settingsUrl: "https://pypi.org/manage/project/event-forge-inbox-outbox/settings/publishing/",
  });
  assert.match(note, /cannot be configured through Pulumi/);
  assert.match(note, /pypi\/warehouse#14456/);
  assert.match(note, /pending publisher for project event-forge-inbox-outbox at https:\/\/pypi\.org\/manage\/account\/publishing\//);
});

test("PyPI: the settings URL uses the normalised project name", async () => {
  const { result } = await publish(args({ entries: [entry({ package: "Event_Forge.Inbox" })] }));
  const publisher = await onlyPublisher(result);
  assert.equal(publisher.settingsUrl, "https://pypi.org/manage/project/event-forge-inbox/settings/publishing/");
  assert.equal(publisher.package, "Event_Forge.Inbox");
});

test("npm: the outputs name the package access page and the exact npm trust command", async () => {
  const { result } = await publish(args({ entries: npmEntries("@acme/widgets") }));
  const { note, ...publisher } = await onlyPublisher(result);
  assert.deepEqual(publisher, {
    registry: "npm",
    package: "@acme/widgets",
    owner: "acme",
    repository: "event-forge",
    workflow: "release.yml",
    environment: "npm",
    settingsUrl: "https://www.npmjs.com/package/@acme/widgets/access",
  });
  assert.match(note, /cannot be configured through Pulumi/);
  assert.ok(note.includes("npm trust github @acme/widgets --repository acme/event-forge --file release.yml --env npm --allow-publish"), note);
  assert.match(note, /npm >= 11\.15\.0/);
});

test("npm with stagedPublishing: the trusted publisher may only stage, and each version waits for a maintainer's approval", async () => {
  const { result } = await publish(args({ entries: npmEntries("@acme/widgets").map((e) => ({ ...e, stagedPublishing: true })) }));
  const { note } = await onlyPublisher(result);
  assert.ok(note.includes("npm trust github @acme/widgets --repository acme/event-forge --file release.yml --env npm --allow-stage-publish."), note);
  assert.match(note, /The workflow runs npm stage publish; each version is published only once a maintainer approves it with 2FA/);
});

test("NuGet: the outputs point to the account's trusted publishing page", async () => {
  const { result } = await publish(args({ entries: [entry({ registry: "nuget", package: "Acme.EventForge", environment: "nuget" })] }));
  const { note, ...publisher } = await onlyPublisher(result);
  assert.deepEqual(publisher, {
    registry: "nuget",
    package: "Acme.EventForge",
    owner: "acme",
    repository: "event-forge",
    workflow: "release.yml",
    environment: "nuget",
    settingsUrl: "https://www.nuget.org/account/trustedpublishing",
  });
  assert.match(note, /cannot be configured through Pulumi/);
});

test("the publishing job gets a dedicated environment of the repository, with reviewers by id and a policy per deploy-from pattern", async () => {
  const { resources } = await govern([entry()]);
  const env = named(resources, ENV, "repo-event-forge-env-pypi-environment");
  assert.equal(env.plain.environment, "pypi");
  assert.equal(env.plain.repository, "event-forge");
  assert.deepEqual(env.plain.reviewers, [{ teams: [placeholderNumber("team", "release-managers")], users: [] }]);
  assert.equal(env.plain.preventSelfReview, true);
  assert.equal(env.plain.canAdminsBypass, false);
  assert.deepEqual(env.plain.deploymentBranchPolicy, { customBranchPolicies: true, protectedBranches: false });
  assert.deepEqual(
    ofType(resources, POLICY).map((p) => [p.name, p.plain.environment, p.plain.branchPattern ?? p.plain.tagPattern]).sort(),
    [
      ["repo-event-forge-env-pypi-branch-main", "pypi", "main"],
      ["repo-event-forge-env-pypi-tag-v*", "pypi", "v*"],
    ],
  );
});

test("a reviewer team without access to the repository fails the build instead of leaving publishing unapproved", async () => {
  const { resources, errors } = await govern([entry()], [], true);
  const message =
    "team release-managers has no access to acme/event-forge: GitHub would silently drop it as a required reviewer of environment pypi; give the team at least read access to the repository";
  assert.ok(errors.length > 0);
  assert.ok(errors.every((e) => e.includes(message)), errors.join("\n"));
  assert.deepEqual(ofType(resources, ENV), []);
});

test("the registry values are known in a preview, so the offline plan can show them", async () => {
  const { result } = await govern([entry()], ["release-managers"], true);
  const known = await Promise.race([valueOf(result.trustedPublishers), new Promise<undefined>((resolve) => setTimeout(resolve, 2000, undefined).unref())]);
  assert.equal(known?.[0].environment, "pypi");
});

test("npm from a private repository warns that no provenance is generated", async () => {
  const repository = { ...PUBLIC, visibility: "private" as const };
  const { warnings } = await publish(args({ repository, entries: [entry({ registry: "npm", reviewers: undefined })] }));
  assert.ok(warnings.some((w) => /npm generates no provenance/.test(w)), warnings.join("\n"));
});

test("NuGet from a private repository warns about the 7-day activation window", async () => {
  const repository = { ...PUBLIC, visibility: "private" as const };
  const { warnings } = await publish(args({ repository, entries: [entry({ registry: "nuget", reviewers: undefined })] }));
  assert.ok(warnings.some((w) => /7 days/.test(w)), warnings.join("\n"));
});

test("a working public entry produces no warning", async () => {
  const { warnings } = await publish(args({ entries: [entry({ registry: "npm" })] }));
  assert.deepEqual(warnings, []);
});

test("several packages of one job share one environment and get one publisher each, in entry order", async () => {
  const { resources, result } = await govern(npmEntries("@acme/core", "@acme/react", "@acme/cli"));
  assert.deepEqual(
    ofType(resources, ENV).map((e) => [e.name, e.plain.environment]),
    [["repo-event-forge-env-npm-environment", "npm"]],
  );
  const publishers = await valueOf(result.trustedPublishers);
  assert.deepEqual(
    publishers.map((p) => [p.package, p.environment, p.workflow, p.settingsUrl]),
    ["@acme/core", "@acme/react", "@acme/cli"].map((pkg) => [pkg, "npm", "release.yml", `https://www.npmjs.com/package/${pkg}/access`]),
  );
  for (const p of publishers) {
    assert.ok(p.note.includes(`npm trust github ${p.package} --repository acme/event-forge --file release.yml --env npm --allow-publish`), p.note);
  }
});

test("reordering the entries keeps every child's name", async () => {
  const names = async (entries: TrustedPublishingConfig[]) => (await govern(entries)).resources.map((r) => `${r.type} ${r.name}`).sort();
  const forward = await names(npmEntries("@acme/core", "@acme/react", "@acme/cli"));
  assert.deepEqual(await names(npmEntries("@acme/cli", "@acme/core", "@acme/react")), forward);
  assert.ok(forward.length > 1, forward.join("\n"));
});

test("publishers wait for the checks they are given: a failed check leaves them unresolved, not wrong", async () => {
  const failed = pulumi.output("acme/event-forge").apply((name): string => {
    throw new Error(`GitHub spells ${name} as acme/Event-Forge`);
  });
  let resolved = false;
  const { errors } = await build(
    () =>
      new TrustedPublishing("event-forge-pypi", args({ trustAfter: [failed] })).publishers.apply((p) => {
        resolved = true;
        return p;
      }),
    { stack: "prod", expectErrors: true },
  );
  assert.ok(errors.some((e) => e.includes("GitHub spells acme/event-forge as acme/Event-Forge")), errors.join("\n"));
  assert.equal(resolved, false);
});

test("entries that cannot share an environment throw, naming the differing key, before anything is registered", async () => {
  const [core, react] = npmEntries("@acme/core", "@acme/react");
  const { resources, result } = await build(() => {
    try {
      return new TrustedPublishing("event-forge-npm", args({ entries: [core, { ...react, workflow: "publish.yml" }] }));
    } catch (err) {
      return err;
    }
  });
  assert.ok(result instanceof Error);
  assert.equal(result.message, "event-forge-npm: npm package @acme/react differs from npm package @acme/core in workflow, so they cannot share environment npm");
  assert.deepEqual(resources, []);
});
