import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as core from "@pulumi/kubernetes/core/v1";
import * as networking from "@pulumi/kubernetes/networking/v1";
import type { Provider } from "@pulumi/kubernetes/provider";
import type { NamespaceConfig, Stage } from "../config/load";
import type { Adoption } from "./adoption";
import { grantDeployerRole, type Deployer } from "./aksCluster";
import { takeOverProblems } from "./takeOver";

export interface ClusterNamespaceArgs {
  /** The namespace as configured: name, Pod Security level, quota, container defaults, network mode. */
  namespace: NamespaceConfig;
  /** Kubernetes provider of the cluster (AksCluster.provider). */
  provider: Provider;
  /** Azure resource id of the cluster (AksCluster.clusterId); deploy rights are scoped to `<clusterId>/namespaces/<name>`. */
  clusterId: pulumi.Input<string>;
  /** The cluster's namespace deployer role (AksCluster.deployerRole; no definition when the pipeline stack defines it); required when there are deployers. */
  deployerRole?: { roleId: string; definition?: pulumi.Resource };
  /** Stage of the stack: in prod the namespace is protected and retained on delete. */
  stage: Stage;
  /** Name of the stack that owns the namespace, recorded in its labels. */
  stack: string;
  /**
   * CI identities of the environments whose access.namespaces names this namespace; each gets the
   * namespace deployer role (RBAC Writer without NetworkPolicy writes) on this namespace only. The
   * cluster-wide Cluster User role comes from AksCluster.
   */
  deployers: Deployer[];
  /**
   * The take-over check (components/takeOver.ts): whether the namespace exists already
   * (AksCluster.existingNamespaces), its ownership key, the cluster's name for the message, and
   * the stack's previous `managed` output.
   */
  takeOver?: { exists: pulumi.Input<boolean>; key: string; clusterName: string; managedBefore: pulumi.Input<string[]> };
}

/** The default memory limit: the configured one, else twice the default memory request (same unit). */
export function defaultMemoryLimit(defaults: NamespaceConfig["containerDefaults"]): string {
  if (defaults.memoryLimit !== undefined) return defaults.memoryLimit;
  const match = /^(\d+(?:\.\d+)?)(.*)$/.exec(defaults.memory);
  return match ? `${Number(match[1]) * 2}${match[2]}` : defaults.memory;
}

/**
 * A namespace on an existing AKS cluster for one environment: Pod Security Admission, a quota with
 * container defaults that fit it, default-deny networking (unless allow-all), and deploy rights
 * for its CI identities scoped to the namespace.
 */
export class ClusterNamespace extends pulumi.ComponentResource {
  /** The namespace's name; resolves once the namespace, its quota, limits, policies and deploy rights exist. */
  public readonly namespaceName: pulumi.Output<string>;
  /** Ids of the deployer role assignments on the namespace, by deployer name. */
  public readonly writerAssignmentIds: Record<string, pulumi.Output<string>>;
  /** The namespace itself when it is adopted (import id: its name, namespaces being cluster-scoped). */
  public readonly adoptions: Adoption[] = [];
  /** In a preview: the namespace if it exists and is not this stack's (the Kubernetes provider would fail with AlreadyExists, naming no adopt key). */
  public readonly takeOverProblems: pulumi.Output<string[]>;

  constructor(name: string, args: ClusterNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("release-infra:aks:ClusterNamespace", name, {}, opts);
    const { namespace: ns, provider, stage } = args;
    const prod = stage === "prod";

    const labels = {
      "app.kubernetes.io/managed-by": "release-infra",
      "release-infra/stage": stage,
      "release-infra/stack": args.stack,
    };
    const namespace = new core.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: ns.name,
          labels: {
            ...labels,
            // enforce rejects pods; audit and warn also flag workload templates (Deployments, Jobs).
            "pod-security.kubernetes.io/enforce": ns.podSecurity,
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/audit": ns.podSecurity,
            "pod-security.kubernetes.io/audit-version": "latest",
            "pod-security.kubernetes.io/warn": ns.podSecurity,
            "pod-security.kubernetes.io/warn-version": "latest",
          },
        },
      },
      // Deleting a namespace deletes every workload in it.
      { parent: this, provider, protect: prod, retainOnDelete: prod },
    );
    if (ns.adopt) this.adoptions.push({ resource: namespace, importId: ns.name });
    const takeOver = args.takeOver;
    this.takeOverProblems = takeOver
      ? takeOverProblems(
          [
            {
              key: takeOver.key,
              what: `Kubernetes namespace ${ns.name} on cluster ${takeOver.clusterName}`,
              adoptKey: `release-infra:azure.clusters[${takeOver.clusterName}].namespaces[${ns.name}].adopt: true`,
              adopted: ns.adopt,
              exists: takeOver.exists,
              resource: namespace,
            },
          ],
          takeOver.managedBefore,
        )
      : pulumi.output([]);
    const child = { parent: this, provider };
    const metadata = (objectName: string) => ({ name: objectName, namespace: namespace.metadata.name, labels });

    // No limits.cpu: with it every container needs a CPU limit, and a defaulted limit below a
    // container's own request gets the pod rejected (LimitRanger, below). CPU is capped by requests.
    const quota = new core.ResourceQuota(
      `${name}-quota`,
      {
        metadata: metadata("release-infra-quota"),
        spec: {
          hard: {
            "requests.cpu": ns.quota.cpu,
            "requests.memory": ns.quota.memory,
            "limits.memory": ns.quota.memory,
            pods: String(ns.quota.pods),
          },
        },
      },
      child,
    );
    // LimitRanger (https://kubernetes.io/docs/concepts/policy/limit-range/): `defaultRequest` fills
    // requests a container leaves out, `default` fills its limits, and a container with a request but
    // no limit gets the default limit. So only memory has a default limit (the quota counts
    // limits.memory), above the default request; CPU gets a request and no limit.
    const limits = new core.LimitRange(
      `${name}-limits`,
      {
        metadata: metadata("release-infra-container-defaults"),
        spec: {
          limits: [
            {
              type: "Container",
              default: { memory: defaultMemoryLimit(ns.containerDefaults) },
              defaultRequest: { cpu: ns.containerDefaults.cpu, memory: ns.containerDefaults.memory },
            },
          ],
        },
      },
      child,
    );

    const policies =
      ns.network === "default-deny"
        ? [
            new networking.NetworkPolicy(
              `${name}-default-deny`,
              { metadata: metadata("default-deny"), spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } },
              child,
            ),
            new networking.NetworkPolicy(
              `${name}-allow-same-namespace`,
              {
                metadata: metadata("allow-same-namespace"),
                spec: {
                  podSelector: {},
                  policyTypes: ["Ingress", "Egress"],
                  // A bare podSelector peer means pods of this namespace only.
                  ingress: [{ from: [{ podSelector: {} }] }],
                  egress: [{ to: [{ podSelector: {} }] }],
                },
              },
              child,
            ),
            new networking.NetworkPolicy(
              `${name}-allow-dns`,
              {
                metadata: metadata("allow-dns"),
                spec: {
                  podSelector: {},
                  policyTypes: ["Egress"],
                  egress: [
                    {
                      to: [
                        {
                          // kubernetes.io/metadata.name is set by the API server and cannot be forged by a namespace owner.
                          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                          podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                        },
                      ],
                      ports: [
                        { protocol: "UDP", port: 53 },
                        { protocol: "TCP", port: 53 },
                      ],
                    },
                  ],
                },
              },
              child,
            ),
          ]
        : [];

    const subscriptionId = authorization.getClientConfigOutput({ parent: this }).subscriptionId;
    const scope = pulumi.interpolate`${args.clusterId}/namespaces/${ns.name}`;
    const role = args.deployerRole;
    if (args.deployers.length > 0 && !role) throw new Error(`namespace ${ns.name}: deployers need the cluster's deployerRole`);
    const writers = role
      ? args.deployers.map(
          (deployer) =>
            [
              deployer.name,
              grantDeployerRole(`${name}-deployer-${deployer.name}`, { deployer, role: role.roleId, scope, subscriptionId }, this, {
                dependsOn: role.definition ? [role.definition] : [],
                // Formerly the built-in RBAC Writer under this name; the new role replaces the assignment.
                aliases: [{ name: `${name}-rbac-writer-${deployer.name}` }],
              }),
            ] as const,
        )
      : [];
    this.writerAssignmentIds = Object.fromEntries(writers.map(([deployer, assignment]) => [deployer, assignment.id]));

    this.namespaceName = pulumi
      .all([namespace.metadata.name, quota.id, limits.id, ...policies.map((p) => p.id), ...writers.map(([, a]) => a.id)])
      .apply(([namespaceName]) => namespaceName);

    this.registerOutputs({ namespaceName: this.namespaceName, writerAssignmentIds: this.writerAssignmentIds });
  }
}
