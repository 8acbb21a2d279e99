import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { isMap, isScalar, isSeq, parseDocument } from "yaml";
import { AKS_ROLES, AksCluster, namespaceDeployerRoleId, type AksClusterArgs, type Deployer } from "../components/aksCluster";
import type { ClusterConfig, NamespaceConfig } from "../config/load";
import type { WireValue } from "../scripts/mocks";
import { build, named, ofType, valueOf, type Built } from "./harness";

const CLUSTER_ID = "/subscriptions/<subscription-id>/resourceGroups/acme-aks-prod/providers/Microsoft.ContainerService/managedClusters/acme-prod-aks";

function namespace(name: string, network: NamespaceConfig["network"]): NamespaceConfig {
  return { name, adopt: false, podSecurity: "restricted", quota: { cpu: "8", memory: "16Gi", pods: 60 }, containerDefaults: { cpu: "250m", memory: "256Mi" }, network };
}

function cluster(namespaces: NamespaceConfig[] = [namespace("shop", "default-deny")]): ClusterConfig {
  return { name: "acme-prod-aks", resourceGroup: "acme-aks-prod", pullFromRegistry: true, namespaces };
}

const deployer = (name: string): Deployer => ({ name, principalId: `<principal of ${name}>` });

function buildCluster(args: Partial<AksClusterArgs> = {}, options: Parameters<typeof build>[1] = {}) {
  return build(() => new AksCluster("acme-prod-aks", { cluster: cluster(), deployers: [], ownerResourceGroup: "acme-release-prod", ...args }), options);
}

/** A managed cluster answer with the given network profile. */
function managedCluster(networkProfile: Record<string, unknown> | undefined) {
  return () => ({ id: CLUSTER_ID, name: "acme-prod-aks", networkProfile, identityProfile: { kubeletidentity: { objectId: "<kubelet>" } } });
}

/** The exec args of every user of a kubeconfig. */
function execArgs(kubeconfig: string): string[][] {
  const users = parseDocument(kubeconfig).get("users");
  assert.ok(isSeq(users), "kubeconfig has users");
  return users.items.map((user) => {
    assert.ok(isMap(user));
    const args = user.getIn(["user", "exec", "args"]);
    assert.ok(isSeq(args), "user has exec args");
    return args.items.map((item) => (isScalar(item) ? String(item.value) : ""));
  });
}

/** The value inside a secret wire value (the plain view only shows "[secret]"). */
function secretValue(resource: Built, key: string): string {
  assert.equal(resource.plain[key], "[secret]", `${key} is a secret`);
  const wire: WireValue = resource.inputs[key];
  assert.ok(wire !== null && typeof wire === "object" && !Array.isArray(wire));
  const value = wire.value;
  assert.ok(typeof value === "string");
  return value;
}

const provider = (resources: Built[]) => named(resources, "pulumi:providers:kubernetes", "acme-prod-aks-k8s");

// The shape AKS returns for an Entra ID cluster with format=exec (block style, every flag).
const AKS_EXEC_KUBECONFIG = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EK
    server: https://acme-prod-aks-dns.hcp.westeurope.azmk8s.io:443
  name: acme-prod-aks
contexts:
- context:
    cluster: acme-prod-aks
    user: clusterUser_acme-aks-prod_acme-prod-aks
  name: acme-prod-aks
current-context: acme-prod-aks
kind: Config
preferences: {}
users:
- name: clusterUser_acme-aks-prod_acme-prod-aks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - get-token
      - --environment
      - AzurePublicCloud
      - --server-id
      - 6dae42f8-4368-4678-94ff-3960e28e3630
      - --client-id
      - 80faf920-1908-4b52-b5ef-a8e7bedfc67a
      - --tenant-id
      - 11111111-2222-3333-4444-555555555555
      - --login
      - devicecode
      command: kubelogin
      env: null
      installHint: install kubelogin
      interactiveMode: IfAvailable
      provideClusterInfo: false
`;

test("the provider's kubeconfig is a secret whose kubelogin user logs in with azurecli, not devicecode", async () => {
  const { resources } = await buildCluster();
  const kubeconfig = secretValue(provider(resources), "kubeconfig");
  assert.deepEqual(execArgs(kubeconfig), [["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]]);
  assert.doesNotMatch(kubeconfig, /devicecode/);
});

test("a block-style AKS exec kubeconfig is converted as kubelogin convert-kubeconfig -l azurecli would, keeping server and CA", async () => {
  let requested: Record<string, unknown> = {};
  const { resources } = await buildCluster(
    {},
    {
      calls: {
        "azure-native:containerservice:listManagedClusterUserCredentials": (a) => {
          requested = a;
          return { kubeconfigs: [{ name: "clusterUser", value: Buffer.from(AKS_EXEC_KUBECONFIG).toString("base64") }] };
        },
      },
    },
  );
  assert.equal(requested.format, "exec");
  const kubeconfig = secretValue(provider(resources), "kubeconfig");
  assert.deepEqual(execArgs(kubeconfig), [["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]]);
  const doc = parseDocument(kubeconfig);
  assert.equal(doc.getIn(["clusters", 0, "cluster", "server"]), "https://acme-prod-aks-dns.hcp.westeurope.azmk8s.io:443");
  assert.equal(doc.getIn(["clusters", 0, "cluster", "certificate-authority-data"]), "Q0EK");
  assert.equal(doc.getIn(["current-context"]), "acme-prod-aks");
});

test("the provider's clusterIdentifier is the cluster's resource id in lower case, so rotated credentials or ARM's casing do not replace it", async () => {
  const { resources } = await buildCluster();
  assert.equal(provider(resources).plain.clusterIdentifier, CLUSTER_ID.toLowerCase());
});

test("a cluster without Azure RBAC for Kubernetes fails the preview when it has deployers", async () => {
  const { errors } = await buildCluster(
    { deployers: [deployer("shop-production")] },
    {
      expectErrors: true,
      calls: { "azure-native:containerservice:getManagedCluster": () => ({ id: CLUSTER_ID, name: "acme-prod-aks", aadProfile: { managed: true, enableAzureRBAC: false } }) },
    },
  );
  assert.ok(errors.length > 0);
  assert.ok(errors.every((e) => e.includes("cluster acme-prod-aks (resource group acme-aks-prod) does not use Azure RBAC for Kubernetes authorization")), errors.join("\n"));
});

test("a cluster without Azure RBAC is fine when nobody deploys to it through this stack", async () => {
  const { errors } = await buildCluster({ deployers: [] }, { calls: { "azure-native:containerservice:getManagedCluster": managedCluster({ networkPolicy: "azure" }) } });
  assert.deepEqual(errors, []);
});

test("outputs identify the cluster and its kubelet identity from the existing cluster", async () => {
  const { result } = await buildCluster();
  assert.equal(await valueOf(result.clusterId), CLUSTER_ID);
  assert.equal(await valueOf(result.clusterName), "acme-prod-aks");
  assert.equal(result.resourceGroupName, "acme-aks-prod");
  assert.equal(await valueOf(result.kubeletObjectId), "<kubelet-object-id of acme-prod-aks>");
});

test("each deployer gets the Cluster User role on the cluster once, even when listed for several namespaces", async () => {
  const { resources, result } = await buildCluster({ deployers: [deployer("shop-production"), deployer("shop-staging"), deployer("shop-production")] });
  const assignments = ofType(resources, "azure-native:authorization:RoleAssignment");
  assert.deepEqual(assignments.map((a) => a.name).sort(), ["acme-prod-aks-cluster-user-shop-production", "acme-prod-aks-cluster-user-shop-staging"]);
  for (const a of assignments) {
    assert.equal(a.plain.scope, CLUSTER_ID);
    assert.equal(a.plain.principalType, "ServicePrincipal");
    assert.equal(a.plain.roleDefinitionId, `/subscriptions/<subscription-id>/providers/Microsoft.Authorization/roleDefinitions/${AKS_ROLES.clusterUser}`);
  }
  assert.deepEqual(Object.keys(result.clusterUserAssignmentIds).sort(), ["shop-production", "shop-staging"]);
  assert.match(await valueOf(result.clusterUserAssignmentIds["shop-production"]), /\/roleAssignments\//);
});

test("Cluster User assignment names are GUIDs that stay the same across runs and differ per deployer", async () => {
  const names = async () =>
    ofType((await buildCluster({ deployers: [deployer("a"), deployer("b")] })).resources, "azure-native:authorization:RoleAssignment").map((r) => r.plain.roleAssignmentName);
  const first = await names();
  assert.deepEqual(await names(), first);
  assert.equal(new Set(first).size, 2);
  for (const name of first) assert.match(String(name), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
});

test("warns when the cluster's network policy engine is none and a namespace uses default-deny", async () => {
  const { warnings } = await buildCluster({}, { calls: { "azure-native:containerservice:getManagedCluster": managedCluster({ networkPolicy: "none" }) } });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /acme-prod-aks .*no network policy engine.*shop will be ignored/);
});

test("warns when the cluster has no network policy set at all", async () => {
  const { warnings } = await buildCluster({}, { calls: { "azure-native:containerservice:getManagedCluster": managedCluster({}) } });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /networkPolicy: not set/);
});

test("does not warn when the cluster enforces network policies", async () => {
  const { warnings } = await buildCluster({}, { calls: { "azure-native:containerservice:getManagedCluster": managedCluster({ networkPolicy: "cilium" }) } });
  assert.deepEqual(warnings, []);
});

test("does not warn offline, where the network policy engine is unknown", async () => {
  const { warnings } = await buildCluster({}, { preview: true });
  assert.deepEqual(warnings, []);
});

test("does not warn about a cluster without network policy when every namespace is allow-all", async () => {
  const { warnings } = await buildCluster(
    { cluster: cluster([namespace("shop", "allow-all")]) },
    { calls: { "azure-native:containerservice:getManagedCluster": managedCluster({ networkPolicy: "none" }) } },
  );
  assert.deepEqual(warnings, []);
});

// The dataActions of "Azure Kubernetes Service RBAC Writer" as Microsoft documents them
// (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers#azure-kubernetes-service-rbac-writer).
const RBAC_WRITER_DATA_ACTIONS = [
  "apps/controllerrevisions/read", "apps/daemonsets/*", "apps/deployments/*", "apps/replicasets/*", "apps/statefulsets/*",
  "autoscaling/horizontalpodautoscalers/*", "batch/cronjobs/*", "coordination.k8s.io/leases/read", "coordination.k8s.io/leases/write",
  "coordination.k8s.io/leases/delete", "discovery.k8s.io/endpointslices/read", "batch/jobs/*", "configmaps/*", "endpoints/*",
  "events.k8s.io/events/read", "events/*", "extensions/daemonsets/*", "extensions/deployments/*", "extensions/ingresses/*",
  "extensions/networkpolicies/*", "extensions/replicasets/*", "limitranges/read", "metrics.k8s.io/pods/read", "metrics.k8s.io/nodes/read",
  "namespaces/read", "networking.k8s.io/ingresses/*", "networking.k8s.io/networkpolicies/*", "persistentvolumeclaims/*", "pods/*",
  "policy/poddisruptionbudgets/*", "replicationcontrollers/*", "resourcequotas/read", "secrets/*", "serviceaccounts/*", "services/*",
].map((a) => `Microsoft.ContainerService/managedClusters/${a}`);

/** Whether an Azure RBAC permission pattern (`*` wildcards) grants an action. */
const grants = (patterns: string[], action: string) => patterns.some((p) => new RegExp(`^${p.split("*").map((part) => part.replace(/[.]/g, "\\.")).join(".*")}$`, "i").test(action));

test("deployers get a custom role: RBAC Writer whose NetworkPolicy rights are read-only, nothing else changed", async () => {
  const { resources } = await buildCluster({ deployers: [deployer("shop-production")] });
  const role = named(resources, "azure-native:authorization:RoleDefinition", "acme-prod-aks-namespace-deployer-role").plain;
  const [permission] = role.permissions as { actions: string[]; dataActions: string[] }[];
  const np = (group: string, verb: string) => `Microsoft.ContainerService/managedClusters/${group}/networkpolicies/${verb}`;
  for (const group of ["networking.k8s.io", "extensions"]) {
    assert.ok(grants(permission.dataActions, np(group, "read")));
    for (const verb of ["write", "delete"]) assert.ok(!grants(permission.dataActions, np(group, verb)), `${group} networkpolicies ${verb}`);
  }
  for (const kind of ["resourcequotas", "limitranges"]) assert.ok(!grants(permission.dataActions, `Microsoft.ContainerService/managedClusters/${kind}/write`), kind);
  const unchanged = RBAC_WRITER_DATA_ACTIONS.filter((a) => !a.includes("/networkpolicies/"));
  assert.deepEqual(permission.dataActions.filter((a) => !a.includes("/networkpolicies/")), unchanged);
  assert.deepEqual(permission.actions, ["Microsoft.Authorization/*/read", "Microsoft.Resources/subscriptions/operationresults/read", "Microsoft.Resources/subscriptions/read", "Microsoft.Resources/subscriptions/resourceGroups/read"]);
});

test("the deployer role is defined on, and assignable only in, the cluster's resource group, with a name and id stable per cluster", async () => {
  const first = named((await buildCluster({ deployers: [deployer("a")] })).resources, "azure-native:authorization:RoleDefinition", "acme-prod-aks-namespace-deployer-role").plain;
  const second = named((await buildCluster({ deployers: [deployer("b")] })).resources, "azure-native:authorization:RoleDefinition", "acme-prod-aks-namespace-deployer-role").plain;
  const group = "/subscriptions/<subscription-id>/resourceGroups/acme-aks-prod";
  assert.equal(first.scope, group);
  assert.deepEqual(first.assignableScopes, [group]);
  assert.equal(first.roleName, "release-infra namespace deployer (acme-aks-prod/acme-prod-aks for acme-release-prod)");
  assert.match(String(first.roleDefinitionId), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(first.roleDefinitionId, second.roleDefinitionId);
});

test("a cluster without deployers defines no custom role", async () => {
  const { resources } = await buildCluster({ deployers: [] });
  assert.deepEqual(ofType(resources, "azure-native:authorization:RoleDefinition"), []);
});

test("two stacks deploying to one cluster define their own deployer roles, so neither creates or deletes the other's", async () => {
  const role = async (ownerResourceGroup: string) =>
    named((await buildCluster({ deployers: [deployer("a")], ownerResourceGroup })).resources, "azure-native:authorization:RoleDefinition", "acme-prod-aks-namespace-deployer-role").plain;
  const dev = await role("acme-release-dev");
  const staging = await role("acme-release-staging");
  assert.notEqual(dev.roleDefinitionId, staging.roleDefinitionId);
  assert.notEqual(dev.roleName, staging.roleName);
});

// ---------------------------------------------------------------------------------------------
// Existing namespaces (the take-over check)

/**
 * A `kubelogin` first on PATH that prints an ExecCredential (the exec plugin protocol kubectl and
 * the provider use), and an API server answering each namespace path with the given status.
 */
async function fakeCluster(statusOf: (path: string) => number) {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), "kubelogin-"));
  fs.writeFileSync(
    path.join(bin, "kubelogin"),
    `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"token-for-'"$1"'"}}'\n`,
    { mode: 0o755 },
  );
  process.env.PATH = `${bin}${path.delimiter}${process.env.PATH ?? ""}`;
  const requests: { path: string; authorization?: string }[] = [];
  let sent = false;
  let onSent = () => {};
  const server = http.createServer((req, res) => {
    requests.push({ path: req.url ?? "", authorization: req.headers.authorization });
    res.statusCode = statusOf(req.url ?? "");
    res.end("{}", () => {
      sent = true;
      onSent();
    });
  });
  /** Resolves once the server has answered a request: kubelogin and the read take a while on a busy machine. */
  const answered = () => (sent ? Promise.resolve() : new Promise<void>((resolve) => (onSent = resolve)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const credentials = () => ({ kubeconfigs: [{ name: "clusterUser", value: Buffer.from(AKS_EXEC_KUBECONFIG.replace("https://acme-prod-aks-dns.hcp.westeurope.azmk8s.io:443", `http://127.0.0.1:${port}`)).toString("base64") }] });
  return { requests, credentials, answered, close: () => server.close() };
}

test("in a preview, the configured namespaces that exist are read from the Kubernetes API with the kubeconfig's own kubelogin token", async (t) => {
  const cluster1 = await fakeCluster((p) => (p === "/api/v1/namespaces/shop" ? 200 : 404));
  t.after(cluster1.close);
  const { result } = await buildCluster(
    { cluster: cluster([namespace("shop", "default-deny"), namespace("blog", "allow-all")]), readsNamespaces: true },
    { preview: true, calls: { "azure-native:containerservice:listManagedClusterUserCredentials": cluster1.credentials } },
  );
  assert.deepEqual(await valueOf(result.existingNamespaces), ["shop"]);
  assert.deepEqual(cluster1.requests.map((r) => r.path).sort(), ["/api/v1/namespaces/blog", "/api/v1/namespaces/shop"]);
  for (const r of cluster1.requests) assert.equal(r.authorization, "Bearer token-for-get-token");
});

test("a namespace read the API server refuses (403) fails the preview naming the right the identity needs", async (t) => {
  const cluster1 = await fakeCluster(() => 403);
  t.after(cluster1.close);
  await assert.rejects(
    buildCluster({ readsNamespaces: true }, { preview: true, calls: { "azure-native:containerservice:listManagedClusterUserCredentials": cluster1.credentials }, settled: cluster1.answered }),
    /reading namespace shop on 127\.0\.0\.1:\d+ answered HTTP 403: the identity needs namespace read on the cluster \(Azure Kubernetes Service RBAC Reader\)/,
  );
});

test("outside a preview, or without readsNamespaces (the offline plan), the cluster's API is not read", async (t) => {
  const cluster1 = await fakeCluster(() => 200);
  t.after(cluster1.close);
  const calls = { "azure-native:containerservice:listManagedClusterUserCredentials": cluster1.credentials };
  assert.deepEqual(await valueOf((await buildCluster({ readsNamespaces: true }, { preview: false, calls })).result.existingNamespaces), []);
  assert.deepEqual(await valueOf((await buildCluster({}, { preview: true, calls })).result.existingNamespaces), []);
  assert.deepEqual(cluster1.requests, []);
});

test("with the pipeline stack defining the deployer role, the cluster defines none and its namespaces still get that role's id", async () => {
  const { resources, result } = await buildCluster({ deployers: [deployer("shop-production")], definesDeployerRole: false });
  assert.deepEqual(ofType(resources, "azure-native:authorization:RoleDefinition"), []);
  assert.deepEqual(result.deployerRole, { roleId: namespaceDeployerRoleId(cluster(), "acme-release-prod") });
});
