import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { crossStackProblems } from "../config/ownership";
import type { PlanDocument, PlannedResource } from "../scripts/lib/planStack";
import { validateStackFile } from "../scripts/lib/stackFile";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";

// The example systems, from the test's own copies of their stack files (a fork may change or
// delete examples/): each is planned once, all in parallel, and every test reads the cached plan.
const ROOT = path.resolve(__dirname, "..");
const PLAN = path.join(ROOT, "scripts", "plan.ts");

const EXAMPLES = {
  mystiraProd: "test/fixtures/systems/mystira/Pulumi.prod.yaml",
  mystiraStaging: "test/fixtures/systems/mystira/Pulumi.staging.yaml",
  eventForge: "test/fixtures/systems/event-forge/Pulumi.prod.yaml",
  navi: "test/fixtures/systems/navi/Pulumi.prod.yaml",
  azora: "test/fixtures/systems/azora/Pulumi.staging.yaml",
  consolidatedStaging: "test/fixtures/systems/consolidated/Pulumi.staging.yaml",
  consolidatedProd: "test/fixtures/systems/consolidated/Pulumi.prod.yaml",
} as const;

const AZORA_SECRETS = ["STAGING_DATABASE_URL", "DOCKER_USERNAME", "DOCKER_PASSWORD", "STAGING_HOST", "STAGING_USER", "STAGING_KEY", "SLACK_WEBHOOK"];

/** Built-in Azure role definition ids (components/containerRegistry.ts). */
const ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec";
const ACR_IMPORTER = "577a9874-89fd-4f24-9dbd-b5034d0ad23a";
const READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

interface Planned {
  doc: PlanDocument;
  stdout: string;
  code: number | null;
}

/**
 * `plan --config <file> --json --policy` as a user runs it. Exit 5 (a mandatory policy finding)
 * still yields the plan, so only the policy test fails; any other failure rejects with stderr.
 */
function runPlan(file: string): Promise<Planned> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...FAST_TS_NODE_ARGS, PLAN, "--config", file, "--json", "--policy"], { cwd: ROOT });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      const stdout = Buffer.concat(out).toString("utf8");
      if (code !== 0 && code !== 5) reject(new Error(`plan --config ${file} exited ${code}:\n${Buffer.concat(err).toString("utf8")}`));
      else resolve({ doc: JSON.parse(stdout) as PlanDocument, stdout, code });
    });
  });
}

const plans = new Map<string, Promise<Planned>>();
function planned(file: string): Promise<Planned> {
  let plan = plans.get(file);
  if (!plan) {
    plan = runPlan(file);
    // A failure is reported by the tests that await it, not as an unhandled rejection.
    plan.catch(() => undefined);
    plans.set(file, plan);
  }
  return plan;
}
const planOf = async (file: string) => (await planned(file)).doc;
for (const file of Object.values(EXAMPLES)) planned(file);

/** Azora's example with every secret set as ciphertext, as `pulumi config set --secret` leaves it. */
const CIPHERTEXT = (name: string) => `v1:AAAAAAAAAAAAAAAA:ciphertext-of-${name}`;
const azoraWithSecrets = planned(
  (() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azora-"));
    const file = path.join(dir, "Pulumi.staging.yaml");
    const secrets = AZORA_SECRETS.map((name) => `    ${name}: { secure: "${CIPHERTEXT(name)}" }`).join("\n");
    fs.writeFileSync(file, `${fs.readFileSync(path.join(ROOT, EXAMPLES.azora), "utf8")}\n  release-infra:secrets:\n${secrets}\n`);
    return file;
  })(),
);
azoraWithSecrets.catch(() => undefined);

const ofType = (doc: PlanDocument, type: string) => doc.resources.filter((r) => r.type === type);
function named(doc: PlanDocument, name: string): PlannedResource {
  const found = doc.resources.find((r) => r.name === name);
  assert.ok(found, `no resource named ${name}`);
  return found;
}
const input = (r: PlannedResource, key: string) => r.inputs[key];
const roleAssignments = (doc: PlanDocument, roleId: string) =>
  ofType(doc, "azure-native:authorization:RoleAssignment").filter((r) => String(input(r, "roleDefinitionId")).endsWith(`/roleDefinitions/${roleId}`));
const registryScope = (resourceGroup: string, registry: string) =>
  `/subscriptions/<subscription-id>/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${registry}`;
/** Deployment policies of one GitHub environment, as `branch:<pattern>` / `tag:<pattern>`. */
const policiesOf = (doc: PlanDocument, environment: string) =>
  ofType(doc, "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy")
    .filter((r) => input(r, "environment") === environment)
    .map((r) => (input(r, "branchPattern") !== undefined ? `branch:${input(r, "branchPattern")}` : `tag:${input(r, "tagPattern")}`));
const environmentResource = (doc: PlanDocument, environment: string) => {
  const found = ofType(doc, "github:index/repositoryEnvironment:RepositoryEnvironment").find((r) => input(r, "environment") === environment);
  assert.ok(found, `no GitHub environment ${environment}`);
  return found;
};
const environmentVariables = (doc: PlanDocument, environment: string) =>
  Object.fromEntries(
    ofType(doc, "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")
      .filter((r) => input(r, "environment") === environment)
      .map((r) => [String(input(r, "variableName")), input(r, "value")]),
  );
/** Every secret name the plan sets, repository- or environment-wide. */
const secretNames = (doc: PlanDocument) =>
  [...ofType(doc, "github:index/actionsSecret:ActionsSecret"), ...ofType(doc, "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret")].map((r) =>
    String(input(r, "secretName")),
  );
const trustedPublishers = (doc: PlanDocument) => doc.outputs.trustedPublishers as Record<string, string>[];
const publishersFor = (doc: PlanDocument, registry: string) => trustedPublishers(doc).filter((p) => p.registry === registry);
/** What an npm publisher output must say for `pkg` published by `owner/repository`'s `workflow` in environment npm. */
const npmPublisher = (owner: string, repository: string, workflow: string, pkg: string, permission = "--allow-publish") => ({
  registry: "npm",
  package: pkg,
  owner,
  repository,
  workflow,
  environment: "npm",
  settingsUrl: `https://www.npmjs.com/package/${pkg}/access`,
  command: `npm trust github ${pkg} --repository ${owner}/${repository} --file ${workflow} --env npm ${permission}`,
});
/** An npm publisher output in npmPublisher's shape: its note reduced to the `npm trust` command it names. */
const withCommand = ({ note, ...publisher }: Record<string, string>) => ({ ...publisher, command: /npm trust github \S+ --repository \S+ --file \S+ --env \S+ --allow-[a-z-]+/.exec(note)?.[0] });

// ---------------------------------------------------------------------------------------------
// All example systems

test("every example plans (exit 0) as the stack its file name says", async () => {
  for (const file of Object.values(EXAMPLES)) {
    const { doc, code } = await planned(file);
    assert.equal(code, 0, file);
    assert.equal(doc.stack, /Pulumi\.(.+)\.yaml$/.exec(file)?.[1], file);
    assert.ok(doc.resources.some((r) => r.custom), `${file} plans no cloud resource`);
  }
});

test("no example violates a mandatory policy of the policy pack", async () => {
  for (const file of Object.values(EXAMPLES)) {
    const mandatory = ((await planOf(file)).policy ?? []).filter((v) => v.enforcement === "mandatory");
    assert.deepEqual(mandatory, [], file);
  }
});

test("no two stack files of one system manage the same object", () => {
  for (const dir of ["mystira", "event-forge", "navi", "azora", "consolidated"]) {
    const folder = path.join(ROOT, "test", "fixtures", "systems", dir);
    const files = fs.readdirSync(folder).filter((f) => /^Pulumi\..+\.yaml$/.test(f));
    const configs = files.map((f) => ({ file: f, config: validateStackFile(path.join(folder, f), f.split(".")[1], f).config }));
    assert.deepEqual(crossStackProblems(configs), [], dir);
  }
});

test("the examples set no secret value: each unset secret is a warning with its pulumi config set command", async () => {
  for (const file of Object.values(EXAMPLES)) {
    const doc = await planOf(file);
    const stack = doc.stack;
    for (const name of new Set(secretNames(doc))) {
      assert.ok(
        doc.warnings.some((w) => w.startsWith(`${file}: release-infra:secrets.${name}: is not set`) && w.endsWith(`run: pulumi config set --secret --path 'release-infra:secrets.${name}' --stack ${stack}`)),
        `${file}: no warning for ${name}`,
      );
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Mystira

test("Mystira: the prod stack creates mysprodacr with the admin user and anonymous pull off, protected", async () => {
  const registries = ofType(await planOf(EXAMPLES.mystiraProd), "azure-native:containerregistry:Registry");
  assert.equal(registries.length, 1);
  const [acr] = registries;
  assert.equal(input(acr, "registryName"), "mysprodacr");
  assert.equal(input(acr, "adminUserEnabled"), false);
  assert.equal(input(acr, "anonymousPullEnabled"), false);
  assert.equal(acr.protect, true);
});

test("Mystira: the staging stack creates its own registry mysnonprodacr and grants nothing on mysprodacr", async () => {
  const doc = await planOf(EXAMPLES.mystiraStaging);
  assert.deepEqual(ofType(doc, "azure-native:containerregistry:Registry").map((r) => input(r, "registryName")), ["mysnonprodacr"]);
  const scopes = new Set(ofType(doc, "azure-native:authorization:RoleAssignment").filter((r) => String(input(r, "scope")).includes("/registries/")).map((r) => input(r, "scope")));
  assert.deepEqual([...scopes], [registryScope("mys-release-staging", "mysnonprodacr")]);
});

test("Mystira: dev, staging and production each get an identity trusted only for its own GitHub environment", async () => {
  const credentials = [
    ...ofType(await planOf(EXAMPLES.mystiraStaging), "azure-native:managedidentity:FederatedIdentityCredential"),
    ...ofType(await planOf(EXAMPLES.mystiraProd), "azure-native:managedidentity:FederatedIdentityCredential"),
  ];
  assert.deepEqual(
    credentials.map((c) => input(c, "subject")).sort(),
    ["dev", "production", "staging"].map((env) => `repo:phoenixvc/Mystira.workspace:environment:${env}`),
  );
  for (const c of credentials) {
    assert.equal(input(c, "issuer"), "https://token.actions.githubusercontent.com");
    assert.deepEqual(input(c, "audiences"), ["api://AzureADTokenExchange"]);
  }
});

test("Mystira: dev and staging push to mysnonprodacr only; nothing pushes to mysprodacr, which mys-prod pulls from", async () => {
  const staging = await planOf(EXAMPLES.mystiraStaging);
  const prod = await planOf(EXAMPLES.mystiraProd);
  const pushes = [...roleAssignments(staging, ACR_PUSH), ...roleAssignments(prod, ACR_PUSH)];
  assert.deepEqual(pushes.map((r) => [input(r, "description"), input(r, "scope")]).sort(), [
    ["release-infra: acrpush for ci:mystira.workspace-dev", registryScope("mys-release-staging", "mysnonprodacr")],
    ["release-infra: acrpush for ci:mystira.workspace-staging", registryScope("mys-release-staging", "mysnonprodacr")],
  ]);
  for (const r of pushes) assert.equal(input(r, "principalType"), "ServicePrincipal");
  const kubeletPulls = ofType(prod, "azure-native:authorization:RoleAssignment").filter((r) => String(input(r, "description")).startsWith("release-infra: acrpull for kubelet:"));
  assert.deepEqual(kubeletPulls.map((r) => input(r, "scope")), [registryScope("mys-release-prod", "mysprodacr")]);
});

test("Mystira: production promotes from mysnonprodacr into mysprodacr by digest: importer on the target, Reader on the source", async () => {
  const prod = await planOf(EXAMPLES.mystiraProd);
  assert.deepEqual(roleAssignments(prod, ACR_IMPORTER).map((r) => input(r, "scope")), [registryScope("mys-release-prod", "mysprodacr")]);
  assert.deepEqual(roleAssignments(prod, READER).map((r) => input(r, "scope")), [registryScope("mys-release-staging", "mysnonprodacr")]);
  const [promotion] = prod.outputs.promotion as { importCommand: string }[];
  assert.equal(
    promotion.importCommand,
    `az acr import --name mysprodacr --registry ${registryScope("mys-release-staging", "mysnonprodacr")} --source <repository>@sha256:<digest> --image <repository>:<version>`,
  );
});

test("Mystira: the namespaces live on the existing clusters mys-staging and mys-prod, each deployer scoped to its namespace", async () => {
  const writers = [
    ...ofType(await planOf(EXAMPLES.mystiraStaging), "azure-native:authorization:RoleAssignment"),
    ...ofType(await planOf(EXAMPLES.mystiraProd), "azure-native:authorization:RoleAssignment"),
  ]
    .map((r) => String(input(r, "scope")))
    .filter((scope) => scope.includes("/namespaces/"))
    .sort();
  const cluster = (rg: string, name: string) => `/subscriptions/<subscription-id>/resourceGroups/${rg}/providers/Microsoft.ContainerService/managedClusters/${name}`;
  assert.deepEqual(writers, [
    `${cluster("mys-prod-rg", "mys-prod")}/namespaces/mystira`,
    `${cluster("mys-staging-rg", "mys-staging")}/namespaces/mystira-dev`,
    `${cluster("mys-staging-rg", "mys-staging")}/namespaces/mystira-staging`,
  ]);
  assert.equal(input(named(await planOf(EXAMPLES.mystiraProd), "mys-prod-k8s"), "clusterIdentifier"), cluster("mys-prod-rg", "mys-prod").toLowerCase());
});

test("Mystira: AZURE_CREDENTIALS is replaced by AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_SUBSCRIPTION_ID variables per environment", async () => {
  const staging = await planOf(EXAMPLES.mystiraStaging);
  const prod = await planOf(EXAMPLES.mystiraProd);
  for (const [doc, env] of [[staging, "dev"], [staging, "staging"], [prod, "production"]] as const) {
    const variables = environmentVariables(doc, env);
    for (const name of ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"]) assert.ok(name in variables, `${env}: ${name}`);
  }
  assert.ok(![...secretNames(staging), ...secretNames(prod)].includes("AZURE_CREDENTIALS"));
});

test("Mystira: NUGET_API_KEY is replaced by a NuGet trusted publisher for story-generator-ci.yml in environment nuget", async () => {
  const doc = await planOf(EXAMPLES.mystiraProd);
  const [publisher] = publishersFor(doc, "nuget");
  assert.deepEqual(
    { registry: publisher.registry, owner: publisher.owner, repository: publisher.repository, workflow: publisher.workflow, environment: publisher.environment },
    { registry: "nuget", owner: "phoenixvc", repository: "Mystira.workspace", workflow: "story-generator-ci.yml", environment: "nuget" },
  );
  assert.deepEqual(policiesOf(doc, "nuget"), ["branch:main"]);
  assert.ok(!secretNames(doc).includes("NUGET_API_KEY"));
});

test("Mystira: NPM_TOKEN is replaced by an npm trusted publisher for @mystira/publisher from release.yml in environment npm, main only", async () => {
  const staging = await planOf(EXAMPLES.mystiraStaging);
  const prod = await planOf(EXAMPLES.mystiraProd);
  assert.deepEqual(publishersFor(prod, "npm").map(withCommand), [npmPublisher("phoenixvc", "Mystira.workspace", "release.yml", "@mystira/publisher")]);
  assert.deepEqual(policiesOf(prod, "npm"), ["branch:main"]);
  assert.ok(![...secretNames(staging), ...secretNames(prod)].includes("NPM_TOKEN"));
});

test("Mystira: main takes pull requests with one approval", async () => {
  const rules = named(await planOf(EXAMPLES.mystiraProd), "repo-mystira.workspace-ruleset-protect-main").inputs;
  assert.deepEqual(rules.conditions, { refName: { includes: ["refs/heads/main"], excludes: [] } });
  assert.equal((rules.rules as { pullRequest: { requiredApprovingReviewCount: number } }).pullRequest.requiredApprovingReviewCount, 1);
});

test("Mystira: the production environment deploys only from main", async () => {
  const doc = await planOf(EXAMPLES.mystiraProd);
  assert.deepEqual(policiesOf(doc, "production"), ["branch:main"]);
  assert.equal((input(environmentResource(doc, "production"), "deploymentBranchPolicy") as { protectedBranches: boolean }).protectedBranches, false);
});

// ---------------------------------------------------------------------------------------------
// Event-Forge

test("Event-Forge: the pypi environment has exactly one custom deployment policy, branch main", async () => {
  const doc = await planOf(EXAMPLES.eventForge);
  assert.deepEqual(input(environmentResource(doc, "pypi"), "deploymentBranchPolicy"), { customBranchPolicies: true, protectedBranches: false });
  assert.deepEqual(policiesOf(doc, "pypi"), ["branch:main"]);
});

test("Event-Forge: the trusted-publisher output holds the values to enter on PyPI", async () => {
  const [publisher] = publishersFor(await planOf(EXAMPLES.eventForge), "pypi");
  assert.deepEqual(
    { ...publisher, note: undefined },
    {
      registry: "pypi",
      package: "event-forge-inbox-outbox",
      owner: "event-forge",
      repository: "Event-Forge",
      workflow: "release.yml",
      environment: "pypi",
      settingsUrl: "https://pypi.org/manage/project/event-forge-inbox-outbox/settings/publishing/",
      note: undefined,
    },
  );
});

test("Event-Forge: a pypi deployment waits for a maintainer other than the one who triggered it", async () => {
  const env = environmentResource(await planOf(EXAMPLES.eventForge), "pypi");
  assert.equal(input(env, "preventSelfReview"), true);
  assert.equal((input(env, "reviewers") as { teams: unknown[] }[])[0].teams.length, 1);
});

test("Event-Forge: each of the five npm packages gets a trusted publisher for release.yml in environment npm", async () => {
  const publishers = publishersFor(await planOf(EXAMPLES.eventForge), "npm");
  assert.deepEqual(
    publishers.map(withCommand),
    ["core", "typeorm", "mongoose", "rabbitmq", "nestjs"].map((name) => npmPublisher("event-forge", "Event-Forge", "release.yml", `@event-forge/inbox-outbox-${name}`)),
  );
});

test("Event-Forge: the five npm packages share one npm environment, which only main may use, without reviewers", async () => {
  const doc = await planOf(EXAMPLES.eventForge);
  const environments = ofType(doc, "github:index/repositoryEnvironment:RepositoryEnvironment").filter((r) => input(r, "environment") === "npm");
  assert.equal(environments.length, 1);
  assert.deepEqual(input(environments[0], "deploymentBranchPolicy"), { customBranchPolicies: true, protectedBranches: false });
  assert.equal(input(environments[0], "reviewers"), undefined);
  assert.deepEqual(policiesOf(doc, "npm"), ["branch:main"]);
});

test("Event-Forge: main, which npm publishes from without reviewers, takes only pull requests approved by someone other than their last pusher", async () => {
  const ruleset = named(await planOf(EXAMPLES.eventForge), "repo-event-forge-ruleset-protect-main").inputs;
  assert.deepEqual(ruleset.conditions, { refName: { includes: ["refs/heads/main"], excludes: [] } });
  assert.deepEqual((ruleset.rules as { pullRequest: unknown }).pullRequest, {
    dismissStaleReviewsOnPush: true,
    requireCodeOwnerReview: false,
    requireLastPushApproval: true,
    requiredApprovingReviewCount: 1,
  });
});

test("Event-Forge: no NPM_TOKEN anywhere: no secret, no secret warning, nothing in the plan", async () => {
  const { doc, stdout } = await planned(EXAMPLES.eventForge);
  assert.deepEqual(secretNames(doc), []);
  assert.ok(!stdout.includes("NPM_TOKEN"));
});

// ---------------------------------------------------------------------------------------------
// Navi

test("Navi: versioned paths keep their uploaded one-year immutable Cache-Control, which the CDN clamps to a year and never adds itself", async () => {
  const backend = named(await planOf(EXAMPLES.navi), "cdn-immutable").inputs;
  assert.equal(backend.bucketName, "cdn-navi-com");
  assert.equal(backend.customResponseHeaders, undefined);
  const policy = backend.cdnPolicy as Record<string, unknown>;
  assert.deepEqual([policy.cacheMode, policy.maxTtl, policy.clientTtl], ["CACHE_ALL_STATIC", 31536000, 31536000]);
});

test("Navi: the v1/ latest pointer is cached at most an hour at the edge and in browsers, whatever it was uploaded with", async () => {
  const backend = named(await planOf(EXAMPLES.navi), "cdn-latest").inputs;
  assert.equal(backend.bucketName, "cdn-navi-com");
  assert.equal(backend.customResponseHeaders, undefined);
  const policy = backend.cdnPolicy as Record<string, unknown>;
  assert.deepEqual([policy.cacheMode, policy.maxTtl, policy.clientTtl], ["CACHE_ALL_STATIC", 3600, 3600]);
});

test("Navi: the URL map sends only /v1/* to a separate backend and everything else to the default", async () => {
  const map = named(await planOf(EXAMPLES.navi), "cdn-url-map");
  const [matcher] = map.inputs.pathMatchers as { routeRules: { matchRules: unknown[]; service?: string }[] }[];
  assert.deepEqual(matcher.routeRules.filter((rule) => rule.service).map((rule) => rule.matchRules), [[{ prefixMatch: "/v1/" }]]);
  assert.deepEqual(map.dependsOn.map((urn) => urn.split("::").pop()).sort(), ["cdn-immutable", "cdn-latest"]);
});

test("Navi: the bucket is private and only Cloud CDN's fill agent of awell-navi-cdn reads it", async () => {
  const doc = await planOf(EXAMPLES.navi);
  assert.equal(named(doc, "cdn-bucket").inputs.publicAccessPrevention, "enforced");
  assert.match(String(named(doc, "cdn-fill-read").inputs.member), /^serviceAccount:service-<number of project awell-navi-cdn>@cloud-cdn-fill\.iam\.gserviceaccount\.com$/);
  assert.deepEqual(named(doc, "cdn-fill-role").inputs.permissions, ["storage.objects.get"]);
  assert.deepEqual(doc.invokes.filter((i) => i.token === "gcp:organizations/getProject:getProject").map((i) => i.args.projectId), ["awell-navi-cdn"]);
});

test("Navi: the publisher creates versioned files and may replace only the v1/ pointers", async () => {
  const doc = await planOf(EXAMPLES.navi);
  assert.equal(named(doc, "cdn-publisher-navi-cdn-production").inputs.role, "roles/storage.objectCreator");
  const latest = named(doc, "cdn-publisher-navi-cdn-production-latest").inputs;
  assert.equal(latest.role, "roles/storage.objectAdmin");
  assert.equal((latest.condition as { expression: string }).expression, 'resource.name.startsWith("projects/_/buckets/cdn-navi-com/objects/v1/")');
});

test("Navi: the publisher may invalidate the cdn-navi-com-map URL map only, through a custom role with only URL-map permissions", async () => {
  const doc = await planOf(EXAMPLES.navi);
  const role = named(doc, "cdn-invalidator-role").inputs;
  assert.equal(role.project, "awell-navi-cdn");
  assert.deepEqual(role.permissions, ["compute.urlMaps.get", "compute.urlMaps.invalidateCache"]);
  const grant = named(doc, "cdn-invalidator-navi-cdn-production");
  assert.ok(grant.dependsOn.some((urn) => urn.endsWith("::cdn-invalidator-role")));
  assert.equal((grant.inputs.condition as { expression: string }).expression, 'resource.name == "projects/awell-navi-cdn/global/urlMaps/cdn-navi-com-map"');
});

test("Navi: cdn.awellhealth.com moves with a DNS-authorized Certificate Manager certificate, not one that waits for DNS", async () => {
  const doc = await planOf(EXAMPLES.navi);
  assert.deepEqual(ofType(doc, "gcp:compute/managedSslCertificate:ManagedSslCertificate"), []);
  assert.equal(named(doc, "cdn-certificates-dns-authorization-cdn.awellhealth.com").inputs.domain, "cdn.awellhealth.com");
  assert.deepEqual((named(doc, "cdn-certificates-certificate-cdn.awellhealth.com").inputs.managed as { domains: string[] }).domains, ["cdn.awellhealth.com"]);
  assert.equal(named(doc, "cdn-certificates-map-entry-cdn.awellhealth.com").inputs.hostname, "cdn.awellhealth.com");
  const proxy = named(doc, "cdn-https-proxy");
  assert.ok(proxy.dependsOn.some((urn) => urn.endsWith("::cdn-certificates-map-entry-cdn.awellhealth.com")));
  assert.equal(proxy.inputs.sslCertificates, undefined);
});

test("Navi: cdn-production deploys only from v* tags and receives the CDN and workload identity variables", async () => {
  const doc = await planOf(EXAMPLES.navi);
  assert.deepEqual(policiesOf(doc, "cdn-production"), ["tag:v*"]);
  assert.deepEqual(Object.keys(environmentVariables(doc, "cdn-production")).sort(), [
    "CDN_BASE_URL",
    "CDN_BUCKET",
    "CDN_URL_MAP",
    "GCP_SERVICE_ACCOUNT",
    "GCP_WORKLOAD_IDENTITY_PROVIDER",
  ]);
  assert.equal(environmentVariables(doc, "cdn-production").CDN_BASE_URL, "https://cdn.awellhealth.com");
});

test("Navi: the npm packages are staged through trusted publishers in environment npm, only from v* tags, without NPM_TOKEN", async () => {
  const doc = await planOf(EXAMPLES.navi);
  assert.deepEqual(
    publishersFor(doc, "npm").map(withCommand),
    ["core", "js", "react"].map((name) => npmPublisher("awell-health", "navi", "release.yml", `@awell-health/navi-${name}`, "--allow-stage-publish")),
  );
  assert.deepEqual(policiesOf(doc, "npm"), ["tag:v*"]);
  assert.ok(!secretNames(doc).includes("NPM_TOKEN"));
});

test("Navi: only repository admins may create v* release tags", async () => {
  const ruleset = named(await planOf(EXAMPLES.navi), "repo-navi-ruleset-release-tags").inputs;
  assert.deepEqual(ruleset.conditions, { refName: { includes: ["refs/tags/v*"], excludes: [] } });
  assert.equal((ruleset.rules as { creation: boolean }).creation, true);
  assert.deepEqual(ruleset.bypassActors, [{ actorId: 5, actorType: "RepositoryRole", bypassMode: "always" }]);
});

// ---------------------------------------------------------------------------------------------
// Azora

test("Azora: the staging environment holds the team's seven secrets, each masked", async () => {
  const secrets = ofType(await planOf(EXAMPLES.azora), "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret");
  assert.deepEqual(secrets.map((s) => input(s, "secretName")).sort(), [...AZORA_SECRETS].sort());
  for (const s of secrets) {
    assert.equal(input(s, "environment"), "staging");
    assert.equal(input(s, "value"), "[secret]");
  }
});

test("Azora: with the secrets set, no secret value appears anywhere in the plan JSON", async () => {
  const { doc, stdout } = await azoraWithSecrets;
  for (const name of AZORA_SECRETS) assert.ok(!stdout.includes(`ciphertext-of-${name}`), name);
  assert.deepEqual(doc.warnings.filter((w) => w.includes("is not set")), []);
  const values = ofType(doc, "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret").map((s) => input(s, "value"));
  assert.deepEqual(values, AZORA_SECRETS.map(() => "[secret]"));
});

test("Azora: the staging environment carries the health-check variables", async () => {
  assert.deepEqual(environmentVariables(await planOf(EXAMPLES.azora), "staging"), {
    DEPLOYMENT_LOG_DIR: "deployment-logs",
    HEALTH_CHECK_TIMEOUT: "300",
    HEALTH_CHECK_RETRIES: "5",
    HEALTH_CHECK_INTERVAL: "10",
  });
});

test("Azora: the staging environment deploys only from main", async () => {
  assert.deepEqual(policiesOf(await planOf(EXAMPLES.azora), "staging"), ["branch:main"]);
});

test("Azora: main requires the status checks, up to date, before anything merges and deploys", async () => {
  const rules = named(await planOf(EXAMPLES.azora), "repo-azora-os-ruleset-protect-main").inputs.rules as {
    requiredStatusChecks: { requiredChecks: { context: string }[]; strictRequiredStatusChecksPolicy: boolean };
  };
  assert.deepEqual(rules.requiredStatusChecks.requiredChecks.map((c) => c.context), ["code-quality", "tests", "security-scan"]);
  assert.equal(rules.requiredStatusChecks.strictRequiredStatusChecksPolicy, true);
});

// ---------------------------------------------------------------------------------------------
// Consolidated staging-to-production pipeline

test("consolidated: the promote identity may import into production only, and only read the staging registry", async () => {
  const doc = await planOf(EXAMPLES.consolidatedProd);
  const importer = roleAssignments(doc, ACR_IMPORTER);
  assert.deepEqual(importer.map((r) => input(r, "scope")), [registryScope("lumen-release-prod", "lumenprodacr")]);
  assert.deepEqual(importer.map((r) => input(r, "description")), ["release-infra: importer for ci:lumen-production"]);
  assert.deepEqual(roleAssignments(doc, READER).map((r) => input(r, "scope")), [registryScope("lumen-release-staging", "lumenstagingacr")]);
});

test("consolidated: the plan outputs the promotion command by digest with the real registry names", async () => {
  assert.deepEqual((await planOf(EXAMPLES.consolidatedProd)).outputs.promotion, [
    {
      source: "lumenstagingacr",
      target: "lumenprodacr",
      importCommand: `az acr import --name lumenprodacr --registry ${registryScope("lumen-release-staging", "lumenstagingacr")} --source <repository>@sha256:<digest> --image <repository>:<version>`,
      lockCommand: "az acr repository update --name lumenprodacr --image <repository>:<version> --write-enabled false --delete-enabled false",
    },
  ]);
});

test("consolidated: the promote identity cannot push to production directly", async () => {
  assert.deepEqual(roleAssignments(await planOf(EXAMPLES.consolidatedProd), ACR_PUSH), []);
});

test("consolidated: the staging registry purges staged images older than three days on a schedule", async () => {
  const task = named(await planOf(EXAMPLES.consolidatedStaging), "registry-purge").inputs;
  assert.equal(task.registryName, "lumenstagingacr");
  assert.deepEqual(task.trigger, { timerTriggers: [{ name: "purge-schedule", schedule: "0 4 * * *", status: "Enabled" }] });
  const step = task.step as { encodedTaskContent: string };
  assert.match(Buffer.from(step.encodedTaskContent, "base64").toString("utf8"), /cmd: "mcr\.microsoft\.com\/acr\/acr-cli:0\.18 purge --registry \{\{\.Run\.Registry\}\} --filter '\.\*:\.\*' --ago 3d --keep 3 --untagged"/);
});

test("consolidated: the staging identity pushes to the staging registry only", async () => {
  const pushes = roleAssignments(await planOf(EXAMPLES.consolidatedStaging), ACR_PUSH);
  assert.deepEqual(pushes.map((r) => input(r, "scope")), [registryScope("lumen-release-staging", "lumenstagingacr")]);
});

test("consolidated: production publishing is possible only from main", async () => {
  assert.deepEqual(policiesOf(await planOf(EXAMPLES.consolidatedProd), "production"), ["branch:main"]);
});

test("consolidated: Docker Hub's DOCKER_PASSWORD is replaced by the production identity's OIDC variables", async () => {
  const doc = await planOf(EXAMPLES.consolidatedProd);
  assert.ok(!secretNames(doc).includes("DOCKER_PASSWORD"));
  assert.ok("AZURE_CLIENT_ID" in environmentVariables(doc, "production"));
  assert.ok("REGISTRY_LOGIN_SERVER" in environmentVariables(doc, "production"));
});

// ---------------------------------------------------------------------------------------------
// Adoption: the import file of each example

interface ImportEntry {
  type: string;
  name: string;
  logicalName: string;
  id?: string;
  parent?: string;
  provider?: string;
  component?: boolean;
}
interface ImportFile {
  nameTable?: Record<string, string>;
  resources: ImportEntry[];
  providerInputs?: Record<string, Record<string, string>>;
}

/** `plan --config <file> --import-file <tmp>` (or other arguments before it) as a user runs it: exit code, stderr and the file written. */
function runImportFile(file: string, args: string[] = ["--config", file]): Promise<{ code: number | null; stderr: string; written?: ImportFile }> {
  const target = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "import-")), "import.json");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...FAST_TS_NODE_ARGS, PLAN, ...args, "--import-file", target], { cwd: ROOT });
    const err: Buffer[] = [];
    child.stdout.resume();
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({ code, stderr: Buffer.concat(err).toString("utf8"), written: fs.existsSync(target) ? (JSON.parse(fs.readFileSync(target, "utf8")) as ImportFile) : undefined }),
    );
  });
}

/** Each example's invented subscription (azure-native:subscriptionId in its stack file). */
const SUBSCRIPTION = "5b0f3c2e-8a41-4d6b-9f27-3c1e8d7a6b90";
const GUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
/**
 * Import id formats, from each resource's "Import" section: the Pulumi Registry pages of
 * azure-native (Registry, RoleAssignment: `/{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`),
 * the @pulumi/github .d.ts files (`myrepo:myenv`, `myrepo:myenv:myvariable`, `myrepo:myvariable`,
 * ruleset `example:12345`), google_storage_bucket (`{{bucket}}`, the id its read sets) and a cluster-scoped
 * Kubernetes object (its name).
 */
const ID_FORMATS: Record<string, RegExp> = {
  "azure-native:containerregistry:Registry": new RegExp(`^/subscriptions/${SUBSCRIPTION}/resourceGroups/[-\\w.()]+/providers/Microsoft\\.ContainerRegistry/registries/[a-zA-Z0-9]{5,50}$`),
  "azure-native:authorization:RoleAssignment": new RegExp(`^/subscriptions/${SUBSCRIPTION}/resourceGroups/[-\\w.()]+/providers/Microsoft\\.ContainerRegistry/registries/[a-zA-Z0-9]{5,50}/providers/Microsoft\\.Authorization/roleAssignments/${GUID}$`),
  "azure-native:resources:ResourceGroup": new RegExp(`^/subscriptions/${SUBSCRIPTION}/resourceGroups/[-\\w.()]+$`),
  "github:index/repositoryEnvironment:RepositoryEnvironment": /^[\w.-]+:[^:]+$/,
  "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable": /^[\w.-]+:[^:]+:[A-Za-z_][A-Za-z0-9_]*$/,
  "github:index/actionsVariable:ActionsVariable": /^[\w.-]+:[A-Za-z_][A-Za-z0-9_]*$/,
  "github:index/repositoryRuleset:RepositoryRuleset": /^[\w.-]+:\d+$/,
  "gcp:storage/bucket:Bucket": /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/,
  "kubernetes:core/v1:Namespace": /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
};

/** The chain of `type::name` from an import entry up through its parent entries. */
function entryChain(file: ImportFile, entry: ImportEntry): string[] {
  const byName = new Map(file.resources.map((e) => [e.name, e]));
  const chain: string[] = [];
  for (let e: ImportEntry | undefined = entry; e; e = e.parent ? byName.get(e.parent) : undefined) chain.push(`${e.type}::${e.logicalName}`);
  return chain;
}
/** The same chain for a plan resource, from its parents in the plan. */
function planChain(doc: PlanDocument, resource: PlannedResource): string[] {
  const byUrn = new Map(doc.resources.map((r) => [r.urn, r]));
  const chain: string[] = [];
  for (let r: PlannedResource | undefined = resource; r && r.type !== "pulumi:pulumi:Stack"; r = r.parent ? byUrn.get(r.parent) : undefined) chain.push(`${r.type}::${r.name}`);
  return chain;
}

const ADOPTING = { mystiraProd: EXAMPLES.mystiraProd, mystiraStaging: EXAMPLES.mystiraStaging, eventForge: EXAMPLES.eventForge, navi: EXAMPLES.navi } as const;
const importFiles = Object.fromEntries(Object.entries(ADOPTING).map(([key, file]) => [key, runImportFile(file)])) as Record<keyof typeof ADOPTING, ReturnType<typeof runImportFile>>;

for (const [key, file] of Object.entries(ADOPTING) as [keyof typeof ADOPTING, string][]) {
  test(`${key}: every import file entry names a resource of the plan (type, name, parents) with its import id in the provider's format`, async () => {
    const [doc, run] = await Promise.all([planOf(file), importFiles[key]]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.written);
    const objects = run.written.resources.filter((e) => !e.component);
    assert.deepEqual(objects.map((e) => e.logicalName).sort(), doc.resources.filter((r) => r.importId !== undefined).map((r) => r.name).sort(), "one entry per adopted resource");
    for (const entry of objects) {
      const resource = doc.resources.find((r) => r.type === entry.type && r.name === entry.logicalName);
      assert.ok(resource, `${entry.type} ${entry.logicalName} is not in the plan`);
      assert.deepEqual(entryChain(run.written, entry), planChain(doc, resource), `${entry.logicalName}: parents`);
      assert.ok(entry.id, `${entry.logicalName}: empty id`);
      assert.equal(entry.id, resource.importId?.replace("<subscription-id>", SUBSCRIPTION), `${entry.logicalName}: the plan JSON's importId`);
      assert.match(entry.id, ID_FORMATS[entry.type] ?? /^$/, `${entry.type} id format`);
      if (entry.provider) assert.equal(run.written.nameTable?.[entry.provider], resource.provider, `${entry.logicalName}: explicit provider URN`);
    }
    for (const component of run.written.resources.filter((e) => e.component)) assert.equal(component.id, undefined);
  });
}

test("each example adopts what its team already has", async () => {
  const adopted = async (key: keyof typeof ADOPTING) => ((await importFiles[key]).written?.resources ?? []).filter((e) => !e.component).map((e) => `${e.type.split(":").pop()} ${e.id}`);
  assert.deepEqual((await adopted("mystiraProd")).sort(), [
    "Namespace mystira",
    `Registry /subscriptions/${SUBSCRIPTION}/resourceGroups/mys-release-prod/providers/Microsoft.ContainerRegistry/registries/mysprodacr`,
    "RepositoryEnvironment Mystira.workspace:production",
    `ResourceGroup /subscriptions/${SUBSCRIPTION}/resourceGroups/mys-release-prod`,
    `RoleAssignment /subscriptions/${SUBSCRIPTION}/resourceGroups/mys-release-prod/providers/Microsoft.ContainerRegistry/registries/mysprodacr/providers/Microsoft.Authorization/roleAssignments/2c8e5f1a-7b3d-4e9c-a6f0-d41b8e2c7a95`,
  ]);
  assert.deepEqual((await adopted("mystiraStaging")).sort(), ["Namespace mystira-dev", "Namespace mystira-staging", "RepositoryEnvironment Mystira.workspace:dev", "RepositoryEnvironment Mystira.workspace:staging"]);
  assert.deepEqual(await adopted("eventForge"), ["RepositoryEnvironment Event-Forge:pypi"]);
  assert.deepEqual(await adopted("navi"), ["Bucket cdn-navi-com"]);
});

test("a namespace's import entry uses its cluster's explicit provider, created by the import from the kubeconfig context", async () => {
  const { written } = await importFiles.mystiraProd;
  const namespace = written?.resources.find((e) => e.type === "kubernetes:core/v1:Namespace");
  assert.ok(namespace?.provider);
  assert.match(written?.nameTable?.[namespace.provider] ?? "", /^urn:pulumi:prod::[^:]+::release-infra:aks:Cluster\$pulumi:providers:kubernetes::mys-prod-k8s$/);
  assert.deepEqual(written?.providerInputs?.[namespace.provider], {
    context: "mys-prod",
    clusterIdentifier: `/subscriptions/${SUBSCRIPTION}/resourcegroups/mys-prod-rg/providers/microsoft.containerservice/managedclusters/mys-prod`,
    version: written?.providerInputs?.[namespace.provider]?.version,
  });
});

test("the provider's kubeconfig context keeps the cluster's spelling (context names are case-sensitive), its identifier is lower case", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "context-"));
  const file = path.join(dir, "Pulumi.prod.yaml");
  fs.writeFileSync(file, fs.readFileSync(path.join(ROOT, EXAMPLES.mystiraProd), "utf8").replaceAll("mys-prod", "Mys-Prod"));
  const { code, stderr, written } = await runImportFile(file);
  assert.equal(code, 0, stderr);
  const [inputs] = Object.values(written?.providerInputs ?? {});
  assert.equal(inputs?.context, "Mys-Prod");
  assert.equal(inputs?.clusterIdentifier, `/subscriptions/${SUBSCRIPTION}/resourcegroups/mys-prod-rg/providers/microsoft.containerservice/managedclusters/mys-prod`);
});

test("--import-file without azure-native:subscriptionId exits 2 saying so, and writes nothing", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nosub-"));
  const file = path.join(dir, "Pulumi.prod.yaml");
  fs.writeFileSync(file, fs.readFileSync(path.join(ROOT, EXAMPLES.mystiraProd), "utf8").replace(/^ {2}azure-native:subscriptionId: .*\n/m, ""));
  const run = await runImportFile(file);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /azure-native:subscriptionId is not set/);
  assert.equal(run.written, undefined);
});

test("--import-file of a stack that adopts nothing exits 2 and writes nothing", async () => {
  const run = await runImportFile(EXAMPLES.azora);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /adopts nothing/);
  assert.equal(run.written, undefined);
});

test("--import-file with --all is a usage error (exit 2)", async () => {
  const run = await runImportFile(EXAMPLES.navi, ["--all"]);
  assert.equal(run.written, undefined);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /--import-file writes the import file of one stack/);
});

test("the review lists the adopted objects, makes their import the first manual step, and flags each in the tree", async () => {
  const { stdout } = await planned(EXAMPLES.mystiraProd);
  const saved = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "review-")), "plan.json");
  fs.writeFileSync(saved, stdout);
  const text = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, PLAN, "--from", saved], { cwd: ROOT, encoding: "utf8" }).stdout;
  assert.match(text, /^ {2}adopted \(imported, not created\): resource-group, mys-prod-mystira-namespace, registry-kubelet-mys-prod-acrpull, registry-registry, repo-mystira\.workspace-env-production-environment$/m);
  assert.match(text, /^ {2}1\. before the first update, import the 5 adopted objects \(a preview fails until then\): npm run plan -- --stack prod --import-file prod-import\.json /m);
  assert.match(text, /azure-native:containerregistry:Registry {2}registry-registry {2}\[adopted: pulumi import reads \/subscriptions\/<subscription-id>\/resourceGroups\/mys-release-prod\/providers\/Microsoft\.ContainerRegistry\/registries\/mysprodacr, protect, ignoreChanges=dataEndpointEnabled,encryption,identity,location,networkRuleBypassOptions,networkRuleSet,policies,publicNetworkAccess,zoneRedundancy\]/);
});
