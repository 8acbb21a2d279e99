import assert from "node:assert/strict";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { LimitRange, Namespace, Pod, ResourceQuota } from "kubernetes-models/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { AKS_ROLES, AksCluster, type Deployer } from "../components/aksCluster";
import { ClusterNamespace, type ClusterNamespaceArgs } from "../components/clusterNamespace";
import type { ClusterConfig, NamespaceConfig, Stage } from "../config/load";
import { quantityValue } from "../config/quantity";
import { build, named, ofType, valueOf, type Built } from "./harness";

const CLUSTER_ID = "/subscriptions/<subscription-id>/resourceGroups/acme-aks-prod/providers/Microsoft.ContainerService/managedClusters/acme-prod-aks";
const NS = "kubernetes:core/v1:Namespace";
const POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const ASSIGNMENT = "azure-native:authorization:RoleAssignment";

function namespace(overrides: Partial<NamespaceConfig> = {}): NamespaceConfig {
  return {
    name: "shop",
    adopt: false,
    podSecurity: "restricted",
    quota: { cpu: "8", memory: "16Gi", pods: 60 },
    containerDefaults: { cpu: "250m", memory: "256Mi" },
    network: "default-deny",
    ...overrides,
  };
}

const deployer = (name: string): Deployer => ({ name, principalId: `<principal of ${name}>` });

interface Options {
  namespace?: NamespaceConfig;
  stage?: Stage;
  deployers?: Deployer[];
  preview?: boolean;
  /** The take-over check's inputs: whether the namespace exists, what the stack's state and last `managed` output hold. */
  takeOver?: { exists: boolean; inState?: string[]; managedBefore?: string[] };
}

const NAMESPACE_KEY = "Kubernetes namespace shop on cluster acme-aks-prod/acme-prod-aks";

/** An AksCluster and one ClusterNamespace on it, wired as index.ts does. */
function buildNamespace(options: Options = {}) {
  const ns = options.namespace ?? namespace();
  const config: ClusterConfig = { name: "acme-prod-aks", resourceGroup: "acme-aks-prod", pullFromRegistry: false, namespaces: [ns] };
  const deployers = options.deployers ?? [deployer("shop-production")];
  return build(
    () => {
      const cluster = new AksCluster("acme-prod-aks", { cluster: config, deployers, ownerResourceGroup: "acme-release-prod" });
      const args: ClusterNamespaceArgs = {
        namespace: ns,
        provider: cluster.provider,
        clusterId: cluster.clusterId,
        deployerRole: cluster.deployerRole,
        stage: options.stage ?? "staging",
        stack: "acme-staging",
        deployers,
        ...(options.takeOver
          ? { takeOver: { exists: options.takeOver.exists, key: NAMESPACE_KEY, clusterName: "acme-prod-aks", managedBefore: options.takeOver.managedBefore ?? [] } }
          : {}),
      };
      return new ClusterNamespace(`acme-prod-aks-${ns.name}`, args);
    },
    { stack: options.stage ?? "staging", preview: options.preview, inState: options.takeOver?.inState },
  );
}

const k8sObjects = (resources: Built[]) => resources.filter((r) => r.type.startsWith("kubernetes:"));

/** Validates a registered Kubernetes object's inputs against the upstream schema of its kind. */
function validateUpstream(resource: Built) {
  const models = {
    "kubernetes:core/v1:Namespace": () => new Namespace(),
    "kubernetes:core/v1:ResourceQuota": () => new ResourceQuota(),
    "kubernetes:core/v1:LimitRange": () => new LimitRange(),
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": () => new NetworkPolicy(),
  };
  const model = Object.entries(models).find(([type]) => type === resource.type)?.[1];
  assert.ok(model, `no upstream model for ${resource.type}: add it to this test`);
  assert.doesNotThrow(() => Object.assign(model(), resource.plain).validate(), `${resource.name} is a valid ${resource.type}`);
}

test("every Kubernetes object validates against the upstream Kubernetes schemas", async () => {
  for (const options of [{}, { namespace: namespace({ network: "allow-all", podSecurity: "baseline" }) }]) {
    const { resources } = await buildNamespace(options);
    assert.ok(k8sObjects(resources).length >= 3);
    k8sObjects(resources).forEach(validateUpstream);
  }
});

test("the upstream schema check rejects an object Kubernetes would reject", async () => {
  const { resources } = await buildNamespace();
  const limits = named(resources, "kubernetes:core/v1:LimitRange", "acme-prod-aks-shop-limits");
  const broken = { ...limits, plain: { ...limits.plain, spec: { limits: [{ type: "Container", default: { cpu: "a lot" } }] } } };
  assert.throws(() => validateUpstream(broken));
});

test("every Kubernetes object has an explicit name, lives in the namespace and uses the cluster's provider", async () => {
  const { resources } = await buildNamespace();
  const provider = named(resources, "pulumi:providers:kubernetes", "acme-prod-aks-k8s");
  for (const r of k8sObjects(resources)) {
    const metadata = r.plain.metadata;
    assert.ok(metadata !== null && typeof metadata === "object" && !Array.isArray(metadata));
    assert.match(String(metadata.name), /^[a-z0-9-]+$/, `${r.name} has an explicit metadata.name`);
    if (r.type !== NS) assert.equal(metadata.namespace, "shop", `${r.name} is in the namespace`);
    assert.ok(r.provider?.startsWith(`${provider.urn}::`), `${r.name} uses the cluster provider`);
  }
  assert.equal((named(resources, NS, "acme-prod-aks-shop-namespace").plain.metadata as { name: string }).name, "shop");
});

test("the namespace enforces, audits and warns at its Pod Security level, latest version", async () => {
  const { resources } = await buildNamespace({ namespace: namespace({ podSecurity: "baseline" }) });
  const labels = (named(resources, NS, "acme-prod-aks-shop-namespace").plain.metadata as { labels: Record<string, string> }).labels;
  for (const mode of ["enforce", "audit", "warn"]) {
    assert.equal(labels[`pod-security.kubernetes.io/${mode}`], "baseline");
    assert.equal(labels[`pod-security.kubernetes.io/${mode}-version`], "latest");
  }
});

test("the namespace is labelled with its environment and owner stack", async () => {
  const { resources } = await buildNamespace();
  const labels = (named(resources, NS, "acme-prod-aks-shop-namespace").plain.metadata as { labels: Record<string, string> }).labels;
  assert.equal(labels["app.kubernetes.io/managed-by"], "release-infra");
  assert.equal(labels["release-infra/stage"], "staging");
  assert.equal(labels["release-infra/stack"], "acme-staging");
});

test("the ResourceQuota caps CPU requests, memory requests and limits, and pods, from the config, and no CPU limits", async () => {
  const { resources } = await buildNamespace({ namespace: namespace({ quota: { cpu: "4", memory: "8Gi", pods: 30 } }) });
  const quota = named(resources, "kubernetes:core/v1:ResourceQuota", "acme-prod-aks-shop-quota");
  assert.deepEqual((quota.plain.spec as { hard: unknown }).hard, {
    "requests.cpu": "4",
    "requests.memory": "8Gi",
    "limits.memory": "8Gi",
    pods: "30",
  });
});

test("the LimitRange defaults requests to containerDefaults, memory limits to twice the memory request, and sets no CPU limit", async () => {
  const { resources } = await buildNamespace({ namespace: namespace({ containerDefaults: { cpu: "100m", memory: "128Mi" } }) });
  const limits = named(resources, "kubernetes:core/v1:LimitRange", "acme-prod-aks-shop-limits");
  assert.deepEqual((limits.plain.spec as { limits: unknown }).limits, [{ type: "Container", default: { memory: "256Mi" }, defaultRequest: { cpu: "100m", memory: "128Mi" } }]);
});

test("containerDefaults.memoryLimit sets the default memory limit", async () => {
  const { resources } = await buildNamespace({ namespace: namespace({ containerDefaults: { cpu: "100m", memory: "128Mi", memoryLimit: "1Gi" } }) });
  const limits = named(resources, "kubernetes:core/v1:LimitRange", "acme-prod-aks-shop-limits");
  assert.deepEqual((limits.plain.spec as { limits: { default: unknown }[] }).limits[0].default, { memory: "1Gi" });
});

// ---------------------------------------------------------------------------------------------
// Admission of ordinary pods: the LimitRanger defaulting and the quota's arithmetic, as the API
// server applies them (https://kubernetes.io/docs/concepts/policy/limit-range/ and
// https://kubernetes.io/docs/concepts/policy/resource-quotas/): `defaultRequest` fills a missing
// request, `default` fills a missing limit (also when a request is set), a limit below its request
// is rejected, and with limits.X in the quota every container must end up with a limit for X.

type Resources = Partial<Record<"cpu" | "memory", string>>;
interface LimitRangeSpec {
  limits: { type: string; default?: Resources; defaultRequest?: Resources }[];
}

/** The container after LimitRanger's defaulting, or why the API server rejects the pod. */
function admit(container: { requests?: Resources; limits?: Resources }, limitRange: LimitRangeSpec, hard: Record<string, string>): { requests: Resources; limits: Resources } | string {
  const [range] = limitRange.limits;
  const requests: Resources = { ...container.requests };
  const limits: Resources = { ...container.limits };
  for (const r of ["cpu", "memory"] as const) {
    if (limits[r] === undefined && range.default?.[r] !== undefined) limits[r] = range.default[r];
    // Without a request, a container's request is its limit, else the default request.
    if (requests[r] === undefined) requests[r] = container.limits?.[r] ?? range.defaultRequest?.[r];
    const request = requests[r] === undefined ? undefined : quantityValue(requests[r]);
    const limit = limits[r] === undefined ? undefined : quantityValue(limits[r]);
    if (request !== undefined && limit !== undefined && limit < request) return `${r} request ${requests[r]} is above its limit ${limits[r]}`;
    if (hard[`limits.${r}`] !== undefined && limits[r] === undefined) return `the quota needs a limits.${r} that the container does not have`;
    if (hard[`requests.${r}`] !== undefined && requests[r] === undefined) return `the quota needs a requests.${r} that the container does not have`;
  }
  return { requests, limits };
}

/** How many copies of an admitted container fit the quota. */
function copiesThatFit(admitted: { requests: Resources; limits: Resources }, hard: Record<string, string>): number {
  let copies = Number(hard.pods);
  for (const [key, total] of Object.entries(hard)) {
    const [kind, r] = key.split(".") as ["requests" | "limits", "cpu" | "memory"];
    if (r === undefined) continue;
    const each = admitted[kind][r];
    if (each !== undefined) copies = Math.min(copies, Math.floor((quantityValue(total) ?? 0) / (quantityValue(each) ?? 1)));
  }
  return copies;
}

async function namespaceSpecs(config: NamespaceConfig) {
  const { resources } = await buildNamespace({ namespace: config });
  const limitRange = named(resources, "kubernetes:core/v1:LimitRange", `acme-prod-aks-${config.name}-limits`).plain.spec as unknown as LimitRangeSpec;
  const hard = (named(resources, "kubernetes:core/v1:ResourceQuota", `acme-prod-aks-${config.name}-quota`).plain.spec as { hard: Record<string, string> }).hard;
  return { limitRange, hard };
}

/** A pod of one container, checked against the upstream Pod schema. */
function pod(resources: { requests?: Resources; limits?: Resources }) {
  const model = new Pod({ metadata: { name: "app" }, spec: { containers: [{ name: "app", image: "acmeprodacr.azurecr.io/shop@sha256:" + "0".repeat(64), resources }] } });
  model.validate();
  return model.spec?.containers[0].resources ?? {};
}

test("a container that sets only requests.cpu 500m is admitted with no CPU limit below its request", async () => {
  const { limitRange, hard } = await namespaceSpecs(namespace());
  const admitted = admit(pod({ requests: { cpu: "500m" } }), limitRange, hard);
  assert.ok(typeof admitted !== "string", String(admitted));
  assert.deepEqual(admitted, { requests: { cpu: "500m", memory: "256Mi" }, limits: { memory: "512Mi" } });
  assert.equal(copiesThatFit(admitted, hard), 16);
});

test("a container that sets no resources gets the defaults and the quota admits pods up to its pod count", async () => {
  const { limitRange, hard } = await namespaceSpecs(namespace());
  const admitted = admit(pod({}), limitRange, hard);
  assert.ok(typeof admitted !== "string", String(admitted));
  assert.deepEqual(admitted, { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "512Mi" } });
  // 8 CPUs / 250m = 32, 16Gi / 512Mi = 32, pods 60: 32 default pods fit.
  assert.equal(copiesThatFit(admitted, hard), 32);
});

test("a container that requests more memory than the default limit must set its own limit, as the docs say", async () => {
  const { limitRange, hard } = await namespaceSpecs(namespace());
  assert.equal(admit(pod({ requests: { memory: "1Gi" } }), limitRange, hard), "memory request 1Gi is above its limit 512Mi");
  assert.ok(typeof admit(pod({ requests: { memory: "1Gi" }, limits: { memory: "1Gi" } }), limitRange, hard) !== "string");
});

test("the former defaults (CPU default limit equal to the request, limits.cpu in the quota) rejected a 500m request", () => {
  const before: LimitRangeSpec = { limits: [{ type: "Container", default: { cpu: "250m", memory: "256Mi" }, defaultRequest: { cpu: "250m", memory: "256Mi" } }] };
  assert.equal(admit(pod({ requests: { cpu: "500m" } }), before, { "requests.cpu": "8", "limits.cpu": "8" }), "cpu request 500m is above its limit 250m");
});

test("default-deny denies all ingress and egress, then allows same-namespace traffic and DNS to kube-dns", async () => {
  const { resources } = await buildNamespace();
  const spec = (name: string) => named(resources, POLICY, `acme-prod-aks-shop-${name}`).plain.spec;
  assert.equal(ofType(resources, POLICY).length, 3);
  assert.deepEqual(spec("default-deny"), { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  assert.deepEqual(spec("allow-same-namespace"), {
    podSelector: {},
    policyTypes: ["Ingress", "Egress"],
    ingress: [{ from: [{ podSelector: {} }] }],
    egress: [{ to: [{ podSelector: {} }] }],
  });
  assert.deepEqual(spec("allow-dns"), {
    podSelector: {},
    policyTypes: ["Egress"],
    egress: [
      {
        to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
        ports: [
          { port: 53, protocol: "UDP" },
          { port: 53, protocol: "TCP" },
        ],
      },
    ],
  });
});

test("allow-all creates no NetworkPolicy", async () => {
  const { resources } = await buildNamespace({ namespace: namespace({ network: "allow-all" }) });
  assert.deepEqual(ofType(resources, POLICY), []);
});

test("each deployer gets the cluster's namespace deployer role scoped to this namespace of the cluster", async () => {
  const { resources, result } = await buildNamespace({ deployers: [deployer("shop-production"), deployer("shop-hotfix")] });
  const component = named(resources, "release-infra:aks:ClusterNamespace", "acme-prod-aks-shop");
  const writers = ofType(resources, ASSIGNMENT).filter((a) => a.parent === component.urn);
  assert.deepEqual(writers.map((w) => w.name).sort(), ["acme-prod-aks-shop-deployer-shop-hotfix", "acme-prod-aks-shop-deployer-shop-production"]);
  const role = named(resources, "azure-native:authorization:RoleDefinition", "acme-prod-aks-namespace-deployer-role");
  for (const w of writers) {
    assert.equal(w.plain.scope, `${CLUSTER_ID}/namespaces/shop`);
    assert.equal(w.plain.principalType, "ServicePrincipal");
    assert.equal(w.plain.roleDefinitionId, `/subscriptions/<subscription-id>/providers/Microsoft.Authorization/roleDefinitions/${String(role.plain.roleDefinitionId)}`);
    assert.ok(w.dependsOn.includes(role.urn), `${w.name} waits for the role definition`);
    assert.equal(w.plain.principalId, `<principal of ${w.name.replace("acme-prod-aks-shop-deployer-", "")}>`);
  }
  assert.deepEqual(Object.keys(result.writerAssignmentIds).sort(), ["shop-hotfix", "shop-production"]);
  const hotfix = named(resources, ASSIGNMENT, "acme-prod-aks-shop-deployer-shop-hotfix");
  assert.equal(await valueOf(result.writerAssignmentIds["shop-hotfix"]), `${CLUSTER_ID}/namespaces/shop/providers/Microsoft.Authorization/roleAssignments/${hotfix.plain.roleAssignmentName}`);
});

test("nothing is granted cluster-wide except Cluster User, once per deployer across namespaces, and no cluster RBAC objects exist", async () => {
  const config = (name: string) => namespace({ name });
  const deployers = [deployer("shop-production")];
  const { resources } = await build(() => {
    const cluster = new AksCluster("acme-prod-aks", {
      cluster: { name: "acme-prod-aks", resourceGroup: "acme-aks-prod", pullFromRegistry: false, namespaces: [config("shop"), config("shop-canary")] },
      deployers,
      ownerResourceGroup: "acme-release-prod",
    });
    for (const ns of ["shop", "shop-canary"]) {
      new ClusterNamespace(`acme-prod-aks-${ns}`, { namespace: config(ns), provider: cluster.provider, clusterId: cluster.clusterId, deployerRole: cluster.deployerRole, stage: "prod", stack: "prod", deployers });
    }
  });
  const assignments = ofType(resources, ASSIGNMENT);
  const clusterWide = assignments.filter((a) => !String(a.plain.scope).startsWith(`${CLUSTER_ID}/namespaces/`));
  assert.deepEqual(clusterWide.map((a) => [a.plain.scope, a.plain.roleDefinitionId]), [
    [CLUSTER_ID, `/subscriptions/<subscription-id>/providers/Microsoft.Authorization/roleDefinitions/${AKS_ROLES.clusterUser}`],
  ]);
  assert.deepEqual(assignments.filter((a) => a !== clusterWide[0]).map((a) => a.plain.scope).sort(), [`${CLUSTER_ID}/namespaces/shop`, `${CLUSTER_ID}/namespaces/shop-canary`]);
  assert.equal(new Set(assignments.map((a) => a.plain.roleAssignmentName)).size, assignments.length, "assignment names are unique");
  assert.deepEqual(resources.filter((r) => /ClusterRole/.test(r.type)), []);
});

test("role assignment names are stable across runs and child names do not depend on the order of deployers", async () => {
  const run = async (deployers: Deployer[]) =>
    ofType((await buildNamespace({ deployers })).resources, ASSIGNMENT)
      .map((a) => `${a.urn} ${String(a.plain.roleAssignmentName)}`)
      .sort();
  assert.deepEqual(await run([deployer("a"), deployer("b")]), await run([deployer("b"), deployer("a")]));
});

test("in prod the namespace is protected and retained on delete", async () => {
  const { resources } = await buildNamespace({ stage: "prod" });
  const ns = named(resources, NS, "acme-prod-aks-shop-namespace");
  assert.equal(ns.protect, true);
  assert.equal(ns.retainOnDelete, true);
});

test("outside prod the namespace is neither protected nor retained", async () => {
  const { resources } = await buildNamespace({ stage: "staging" });
  const ns = named(resources, NS, "acme-prod-aks-shop-namespace");
  assert.equal(ns.protect, false);
  assert.equal(ns.retainOnDelete, false);
});

test("namespaceName is the configured name", async () => {
  const { result } = await buildNamespace();
  assert.equal(await valueOf(result.namespaceName), "shop");
});

// ---------------------------------------------------------------------------------------------
// A namespace that exists already (adoption)

const IMPORT_STEPS = "npm run plan -- --stack staging --import-file staging-import.json, then pulumi import --file staging-import.json --stack staging --generate-code=false (docs/migration.md)";

test("in a preview, an existing namespace the config does not adopt is reported with the key that adopts it", async () => {
  const { result } = await buildNamespace({ preview: true, takeOver: { exists: true } });
  assert.deepEqual(await valueOf(result.takeOverProblems), [
    `Kubernetes namespace shop on cluster acme-prod-aks exists already and this stack does not manage it: set release-infra:azure.clusters[acme-prod-aks].namespaces[shop].adopt: true and import it (${IMPORT_STEPS}), or rename it in the config`,
  ]);
});

test("an adopted namespace is reported until imported; one in the stack's state or its last managed output is not", async () => {
  const adopted = { ...namespace(), adopt: true };
  assert.deepEqual(await valueOf((await buildNamespace({ namespace: adopted, preview: true, takeOver: { exists: true } })).result.takeOverProblems), [
    `Kubernetes namespace shop on cluster acme-prod-aks is adopted but not in this stack's state, so the update would create it again: import it first (${IMPORT_STEPS}); if it is imported, the config forces its replacement: pulumi preview --diff names the input`,
  ]);
  assert.deepEqual(await valueOf((await buildNamespace({ namespace: adopted, preview: true, takeOver: { exists: true, inState: ["acme-prod-aks-shop-namespace"] } })).result.takeOverProblems), []);
  assert.deepEqual(await valueOf((await buildNamespace({ preview: true, takeOver: { exists: true, managedBefore: [NAMESPACE_KEY] } })).result.takeOverProblems), []);
  assert.deepEqual(await valueOf((await buildNamespace({ preview: true, takeOver: { exists: false } })).result.takeOverProblems), []);
});

test("an adopted namespace is imported by its name, with the cluster's provider", async () => {
  const { resources, result } = await buildNamespace({ namespace: { ...namespace(), adopt: true } });
  assert.deepEqual(await Promise.all(result.adoptions.map((a) => valueOf(pulumi.output(a.importId)))), ["shop"]);
  assert.equal(await valueOf(result.adoptions[0].resource.urn), named(resources, "kubernetes:core/v1:Namespace", "acme-prod-aks-shop-namespace").urn);
});
