/**
 * Every role, permission and operation the pipeline grants, checked against the clouds' published
 * catalogues (trimmed snapshots with their source repository and commit in test/fixtures/catalogues/),
 * and every pipeline identity checked to hold what its stack needs and nothing that writes where it
 * only reads.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { readStackSet } from "../config/stackSet";
import { NAMESPACE_DEPLOYER_PERMISSIONS, namespaceDeployerRoleId } from "../components/aksCluster";
import { FILL_PERMISSIONS, INVALIDATION_PERMISSIONS } from "../components/cdnSite";
import { CUSTOM_ROLES, derivePipeline, roleAssignmentCondition, type AzureGrant, type GcpGrant } from "../components/pipelineGrants";
import { AZURE_BUILT_IN_ROLES, GCP_ROLES, type AzureBuiltInRole } from "../components/roleCatalogue";

interface AzureCatalogue {
  roles: Record<string, { id: string; actions: string[]; notActions: string[]; dataActions: string[]; notDataActions: string[] }>;
  /** Per provider: operation names, data actions prefixed with `data `. */
  operations: Record<string, string[]>;
}
interface GcpCatalogue {
  roles: Record<string, { title: string; stage: string; includedPermissions: string[] }>;
}

const CATALOGUES = path.join(__dirname, "fixtures", "catalogues");
const azure = JSON.parse(fs.readFileSync(path.join(CATALOGUES, "azure.json"), "utf8")) as AzureCatalogue;
const gcp = JSON.parse(fs.readFileSync(path.join(CATALOGUES, "gcp.json"), "utf8")) as GcpCatalogue;
const gcpServices = JSON.parse(fs.readFileSync(path.join(CATALOGUES, "gcp-services.json"), "utf8")) as { services: Record<string, string> };

const FIXTURES = path.join(__dirname, "fixtures", "pipeline");
const set = readStackSet(FIXTURES);
const pipeline = set.pipeline?.config.pipeline ?? assert.fail("the fixture folder has a pipeline stack");
const base = set.stacks.find((s) => s.stack === "dev") ?? assert.fail("dev");
const cdn = base.config.cdn ?? assert.fail("dev has a CDN");
// The fixtures plus a dns-authorized CDN stack, so every role the derivation can emit is checked.
const dns = { ...base, stack: "dns", config: { ...base.config, cdn: { ...cdn, project: "contoso-web-dns", bucket: "contoso-dns-assets", certificateAuthorization: "dns" as const } } };
const plan = derivePipeline([...set.stacks, dns], pipeline, set.pipeline?.stack ?? "pipeline");
const azureGrants = plan.grants.filter((g): g is AzureGrant => g.cloud === "azure");
const gcpGrants = plan.grants.filter((g): g is GcpGrant => g.cloud === "gcp");

/** An action pattern (`*` matches within and across segments, as Azure's wildcards do) as a RegExp. */
const pattern = (action: string) => new RegExp(`^${action.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "i");
const operationsOf = (dataAction: boolean) => Object.values(azure.operations).flat().filter((o) => o.startsWith("data ") === dataAction).map((o) => o.replace(/^data /, ""));
/** Whether an action (or wildcard) names at least one published operation of its kind. */
const known = (action: string, dataAction: boolean) => action === "*/read" || operationsOf(dataAction).some((o) => pattern(action).test(o));

/** What a role grants on Azure: a built-in role's permissions from the catalogue, or a custom role's own. */
function azurePermissions(role: AzureGrant["role"]): { actions: readonly string[]; notActions: readonly string[]; dataActions: readonly string[] } {
  if (role in CUSTOM_ROLES) return CUSTOM_ROLES[role as keyof typeof CUSTOM_ROLES];
  return azure.roles[role] ?? assert.fail(`${role} is not in the catalogue snapshot`);
}
const allows = (granted: readonly string[], denied: readonly string[], action: string) => granted.some((g) => pattern(g).test(action)) && !denied.some((d) => pattern(d).test(action));

test("every Azure built-in role the program names has the id Azure publishes", () => {
  for (const [name, role] of Object.entries(AZURE_BUILT_IN_ROLES)) {
    assert.equal(role.id, azure.roles[name]?.id, name);
  }
});

test("every Azure role the pipeline grants is a published built-in role or a custom role of published operations", () => {
  for (const g of azureGrants) {
    if (g.role in CUSTOM_ROLES) continue;
    assert.ok(azure.roles[g.role], `${g.environment}: ${g.role}`);
  }
  const custom = [...Object.values(CUSTOM_ROLES), NAMESPACE_DEPLOYER_PERMISSIONS];
  for (const role of custom) {
    for (const action of [...role.actions, ...("notActions" in role ? role.notActions : [])]) assert.ok(known(action, false), `action ${action}`);
    for (const action of role.dataActions) assert.ok(known(action, true), `data action ${action}`);
  }
});

test("the role-assignment condition names published operations and built-in role ids", () => {
  const condition = roleAssignmentCondition([AZURE_BUILT_IN_ROLES.AcrPull.id]);
  for (const [, action] of condition.matchAll(/ActionMatches\{'([^']+)'\}/g)) assert.ok(known(action, false), action);
  for (const [, attribute] of condition.matchAll(/@(?:Request|Resource)\[([^:\]]+):/g)) assert.ok(known(`${attribute}/write`, false), attribute);
  // A condition allows published built-in roles and the namespace deployer roles the pipeline stack defines, nothing else.
  const ids = new Set([
    ...Object.values(azure.roles).map((r) => r.id),
    ...plan.namespaceDeployerRoles.map((r) => namespaceDeployerRoleId(r.cluster, r.ownerResourceGroup)),
  ]);
  for (const g of azureGrants.filter((g) => g.condition)) {
    for (const [, list] of (g.condition ?? "").matchAll(/GuidEquals \{([^}]*)\}/g)) {
      for (const id of list.split(", ")) assert.ok(ids.has(id), `${g.environment}: ${id}`);
    }
  }
});

test("every GCP role the pipeline grants is published, listed in the catalogue, and every custom role permission exists", () => {
  for (const g of gcpGrants) {
    assert.ok(gcp.roles[g.role], `${g.environment}: ${g.role} is not in the catalogue snapshot`);
    assert.ok(g.role in GCP_ROLES, `${g.role} is not in the program's role catalogue`);
  }
  const published = new Set(Object.values(gcp.roles).flatMap((r) => r.includedPermissions));
  for (const permission of [...FILL_PERMISSIONS, ...INVALIDATION_PERMISSIONS]) assert.ok(published.has(permission), permission);
});

test("every GCP role of the program's catalogue is a published predefined role", () => {
  for (const role of Object.keys(GCP_ROLES)) assert.ok(gcp.roles[role], role);
});

test("every GCP API the pipeline enables is a published Google API", () => {
  assert.ok(plan.gcpServices.length > 0);
  for (const { project, service } of plan.gcpServices) assert.ok(service in gcpServices.services, `${project}: ${service}`);
});

test("readers hold no Azure action that writes or acts, no data action but reads and decrypt, and no image pull", () => {
  const readOnly = /\/read$/;
  // Cluster User's one action fetches the user kubeconfig (nothing inside the cluster); Blob Data
  // Reader's issues a user delegation key, whose SAS carries no more than the reader's own rights.
  const allowedActions = new Set(["Microsoft.ContainerService/managedClusters/listClusterUserCredential/action", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"]);
  for (const g of azureGrants.filter((g) => g.access === "read")) {
    const p = azurePermissions(g.role);
    for (const action of p.actions) assert.ok(readOnly.test(action) || allowedActions.has(action), `${g.environment}: ${g.role} allows ${action}`);
    for (const action of p.dataActions) assert.ok(readOnly.test(action) || action === "Microsoft.KeyVault/vaults/keys/decrypt/action", `${g.environment}: ${g.role} allows data ${action}`);
    for (const pull of ["Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/quarantine/read"]) {
      assert.ok(!allows(p.actions, p.notActions, pull), `${g.environment}: ${g.role} allows ${pull}`);
    }
  }
});

test("readers hold no GCP permission that creates, changes, deletes or grants", () => {
  for (const g of gcpGrants.filter((g) => g.access === "read")) {
    for (const permission of gcp.roles[g.role]?.includedPermissions ?? []) {
      assert.doesNotMatch(permission, /\.(create|update|delete|setIamPolicy|undelete|patch)$/, `${g.environment}: ${g.role} allows ${permission}`);
    }
  }
});

/** The permissions an environment holds on GCP, in a project. */
const gcpPermissions = (environment: string, project: string) =>
  new Set(gcpGrants.filter((g) => g.environment === environment && g.project === project).flatMap((g) => gcp.roles[g.role]?.includedPermissions ?? []));

test("each CDN stack's identities can do what its stack needs on GCP: readers get the bucket, writers create and delete its objects", () => {
  for (const stack of [...set.stacks, dns].filter((s) => s.config.cdn)) {
    const project = stack.config.cdn?.project ?? "";
    const writer = gcpPermissions(`pulumi-${stack.stack}`, project);
    for (const permission of ["storage.buckets.create", "storage.buckets.setIamPolicy", "compute.backendBuckets.create", "compute.urlMaps.create", "compute.globalAddresses.create", "compute.globalForwardingRules.create"]) {
      assert.ok(writer.has(permission), `pulumi-${stack.stack} lacks ${permission}`);
    }
    assert.ok(![...writer].some((p) => p.startsWith("iam.roles.")), `pulumi-${stack.stack} administers roles`);
    for (const reader of [`pulumi-${stack.stack}-read`, `pulumi-${stack.stack}-preview`]) {
      const held = gcpPermissions(reader, project);
      for (const permission of ["storage.buckets.get", "storage.buckets.getIamPolicy", "compute.urlMaps.get", "compute.backendBuckets.get"]) assert.ok(held.has(permission), `${reader} lacks ${permission}`);
    }
    const certificates = ["certificatemanager.dnsauthorizations.create", "certificatemanager.dnsauthorizations.delete", "certificatemanager.certs.create", "certificatemanager.certs.delete"];
    assert.equal(certificates.every((p) => writer.has(p)), stack.config.cdn?.certificateAuthorization === "dns", `pulumi-${stack.stack}: Certificate Manager only for dns`);
  }
});

/** Whether an environment's identity may perform `action` (a data action when `data`) on `scope` or below. */
const holds = (environment: string, scope: string, action: string, data: boolean) =>
  azureGrants
    .filter((g) => g.environment === environment && (scope === g.scope || scope.startsWith(`${g.scope}/`)))
    .some((g) => {
      const p = azurePermissions(g.role);
      return data ? allows(p.dataActions, [], action) : allows(p.actions, p.notActions, action);
    });

test("each stack's writer can create what its config names on Azure, and its readers cannot", () => {
  for (const stack of set.stacks) {
    const azureConfig = stack.config.azure;
    if (!azureConfig) continue;
    const group = `/resourceGroups/${azureConfig.resourceGroup}`;
    const registry = `${group}/providers/Microsoft.ContainerRegistry/registries/${azureConfig.registry?.name ?? "none"}`;
    assert.ok(holds(`pulumi-${stack.stack}`, registry, "Microsoft.ContainerRegistry/registries/write", false), `pulumi-${stack.stack} creates its registry`);
    assert.ok(holds(`pulumi-${stack.stack}`, group, "Microsoft.Authorization/roleAssignments/write", false), `pulumi-${stack.stack} assigns its registry roles`);
    for (const cluster of azureConfig.clusters.filter((c) => c.namespaces.length > 0)) {
      const scope = `/resourceGroups/${cluster.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${cluster.name}`;
      assert.ok(holds(`pulumi-${stack.stack}`, scope, "Microsoft.ContainerService/managedClusters/namespaces/write", true), `pulumi-${stack.stack} creates namespaces on ${cluster.name}`);
      for (const ns of cluster.namespaces) {
        assert.ok(holds(`pulumi-${stack.stack}`, `${scope}/namespaces/${ns.name}`, "Microsoft.ContainerService/managedClusters/resourcequotas/write", true), `pulumi-${stack.stack} sets the quota of ${ns.name}`);
      }
    }
    for (const reader of [`pulumi-${stack.stack}-read`, `pulumi-${stack.stack}-preview`]) {
      assert.ok(!holds(reader, registry, "Microsoft.ContainerRegistry/registries/write", false), `${reader} writes the registry`);
      assert.ok(!holds(reader, group, "Microsoft.Authorization/roleAssignments/write", false), `${reader} assigns roles`);
    }
  }
});

test("each stack's Azure identities can write (writer) or read (reader) its state, decrypt its key, and read its namespaces", () => {
  for (const state of plan.stackState) {
    const container = azureGrants.find((g) => g.stack === state.stack && g.scope.endsWith(`/containers/${state.container}`))?.scope ?? assert.fail(state.container);
    const key = azureGrants.find((g) => g.stack === state.stack && g.scope.endsWith(`/keys/${state.key}`))?.scope ?? assert.fail(state.key);
    const blob = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs";
    assert.ok(holds(`pulumi-${state.stack}`, container, `${blob}/write`, true), `pulumi-${state.stack} writes its state`);
    for (const environment of [`pulumi-${state.stack}`, `pulumi-${state.stack}-read`, `pulumi-${state.stack}-preview`]) {
      assert.ok(holds(environment, container, `${blob}/read`, true), `${environment} reads its state`);
      assert.ok(holds(environment, key, "Microsoft.KeyVault/vaults/keys/decrypt/action", true), `${environment} decrypts`);
      assert.ok(!holds(environment, key, "Microsoft.KeyVault/vaults/keys/encrypt/action", true), `${environment} encrypts`);
    }
    for (const environment of [`pulumi-${state.stack}-read`, `pulumi-${state.stack}-preview`]) assert.ok(!holds(environment, container, `${blob}/write`, true), `${environment} writes state`);
  }
  for (const stack of set.stacks) {
    for (const cluster of stack.config.azure?.clusters ?? []) {
      for (const ns of cluster.namespaces) {
        const scope = `/resourceGroups/${cluster.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${cluster.name}/namespaces/${ns.name}`;
        for (const environment of [`pulumi-${stack.stack}-read`, `pulumi-${stack.stack}-preview`]) {
          for (const kind of ["namespaces", "resourcequotas", "limitranges", "networking.k8s.io/networkpolicies"]) {
            assert.ok(holds(environment, scope, `Microsoft.ContainerService/managedClusters/${kind}/read`, true), `${environment} reads ${kind} in ${ns.name}`);
          }
        }
      }
    }
  }
});

test("no built-in role of the catalogue is named differently in the program", () => {
  const names = Object.keys(AZURE_BUILT_IN_ROLES) as AzureBuiltInRole[];
  assert.deepEqual(names.filter((n) => !(n in azure.roles)), []);
});
