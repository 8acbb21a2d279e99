import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as containerservice from "@pulumi/azure-native/containerservice";
import { Provider } from "@pulumi/kubernetes/provider";
import type { ClusterConfig } from "../config/load";
import { deterministicGuid, grantRole } from "./roleAssignment";
import { namespaceExists, type KubeAccess } from "./kubeApi";
import { AZURE_BUILT_IN_ROLES } from "./roleCatalogue";

/**
 * Built-in Azure roles for deploying to AKS with Azure RBAC for Kubernetes
 * (https://learn.microsoft.com/azure/aks/manage-azure-rbac; ids from
 * https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers).
 */
export const AKS_ROLES = {
  /** "Azure Kubernetes Service Cluster User Role": fetch the user kubeconfig, nothing inside the cluster. */
  clusterUser: AZURE_BUILT_IN_ROLES["Azure Kubernetes Service Cluster User Role"].id,
  /** "Azure Kubernetes Service RBAC Writer": read/write most objects in its scope, no Roles/RoleBindings. */
  rbacWriter: AZURE_BUILT_IN_ROLES["Azure Kubernetes Service RBAC Writer"].id,
} as const;

const K8S = "Microsoft.ContainerService/managedClusters";

/**
 * The permissions of "Azure Kubernetes Service RBAC Writer" (a7ffa36f, as listed in
 * https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers) with
 * NetworkPolicies read-only: the Writer may delete the namespace's default-deny policies, the
 * deployer must not. ResourceQuotas and LimitRanges are read-only in the Writer already.
 */
export const NAMESPACE_DEPLOYER_PERMISSIONS = {
  actions: [
    "Microsoft.Authorization/*/read",
    "Microsoft.Resources/subscriptions/operationresults/read",
    "Microsoft.Resources/subscriptions/read",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
  ],
  dataActions: [
    `${K8S}/apps/controllerrevisions/read`,
    `${K8S}/apps/daemonsets/*`,
    `${K8S}/apps/deployments/*`,
    `${K8S}/apps/replicasets/*`,
    `${K8S}/apps/statefulsets/*`,
    `${K8S}/autoscaling/horizontalpodautoscalers/*`,
    `${K8S}/batch/cronjobs/*`,
    `${K8S}/coordination.k8s.io/leases/read`,
    `${K8S}/coordination.k8s.io/leases/write`,
    `${K8S}/coordination.k8s.io/leases/delete`,
    `${K8S}/discovery.k8s.io/endpointslices/read`,
    `${K8S}/batch/jobs/*`,
    `${K8S}/configmaps/*`,
    `${K8S}/endpoints/*`,
    `${K8S}/events.k8s.io/events/read`,
    `${K8S}/events/*`,
    `${K8S}/extensions/daemonsets/*`,
    `${K8S}/extensions/deployments/*`,
    `${K8S}/extensions/ingresses/*`,
    `${K8S}/extensions/networkpolicies/read`,
    `${K8S}/extensions/replicasets/*`,
    `${K8S}/limitranges/read`,
    `${K8S}/metrics.k8s.io/pods/read`,
    `${K8S}/metrics.k8s.io/nodes/read`,
    `${K8S}/namespaces/read`,
    `${K8S}/networking.k8s.io/ingresses/*`,
    `${K8S}/networking.k8s.io/networkpolicies/read`,
    `${K8S}/persistentvolumeclaims/*`,
    `${K8S}/pods/*`,
    `${K8S}/policy/poddisruptionbudgets/*`,
    `${K8S}/replicationcontrollers/*`,
    `${K8S}/resourcequotas/read`,
    `${K8S}/secrets/*`,
    `${K8S}/serviceaccounts/*`,
    `${K8S}/services/*`,
  ],
};

/**
 * The id of the namespace-deployer role a stack defines for a cluster: a GUID from the cluster's
 * and the owning stack's identity, the same on every run. Each stack defines its own role (role
 * names are unique per tenant, and destroying one stack must not delete a role another stack's
 * assignments use); the pipeline stack conditions the deployer's role-assignment right to it.
 */
export function namespaceDeployerRoleId(cluster: Pick<ClusterConfig, "name" | "resourceGroup">, ownerResourceGroup: string): string {
  return deterministicGuid(`${cluster.resourceGroup}/${cluster.name}`.toLowerCase(), ownerResourceGroup.toLowerCase(), "release-infra namespace deployer");
}

/**
 * The namespace-deployer role definition for `cluster`, owned by the stack whose resource group is
 * `ownerResourceGroup`, as the `RoleDefinition` inputs (`groupScope`: the cluster's resource group,
 * the narrowest scope a custom role can be defined at). The pipeline stack defines it when there is
 * one, so a deploy stack's pipeline identity never holds roleDefinitions/write: it could rewrite the
 * role its conditioned role-assignment right allows, and grant itself anything on the cluster.
 */
export function namespaceDeployerRoleArgs(cluster: Pick<ClusterConfig, "name" | "resourceGroup">, ownerResourceGroup: string, groupScope: pulumi.Input<string>): authorization.RoleDefinitionArgs {
  return {
    roleDefinitionId: namespaceDeployerRoleId(cluster, ownerResourceGroup),
    scope: groupScope,
    assignableScopes: [groupScope],
    roleName: `release-infra namespace deployer (${cluster.resourceGroup}/${cluster.name} for ${ownerResourceGroup})`,
    description: "Azure Kubernetes Service RBAC Writer without write access to NetworkPolicies: deploys workloads, cannot remove the namespace's isolation.",
    roleType: "CustomRole",
    permissions: [{ actions: NAMESPACE_DEPLOYER_PERMISSIONS.actions, dataActions: NAMESPACE_DEPLOYER_PERMISSIONS.dataActions }],
  };
}

/** A CI identity that deploys to namespaces of a cluster. */
export interface Deployer {
  /** Stable key of the identity (e.g. `shop-production`); names its role assignments. */
  name: string;
  /** Object (principal) id of the identity. */
  principalId: pulumi.Input<string>;
}

/** Assigns an AKS role (built-in, or the namespace deployer role of `dependsOn`) to a deployer on `scope` (cluster or namespace). */
export function grantDeployerRole(
  name: string,
  args: { deployer: Deployer; role: string; scope: pulumi.Input<string>; subscriptionId: pulumi.Input<string> },
  parent: pulumi.Resource,
  options: { dependsOn?: pulumi.Resource[]; aliases?: pulumi.Input<pulumi.Alias | string>[] } = {},
): authorization.RoleAssignment {
  return grantRole(
    name,
    { principalId: args.deployer.principalId, principalKey: `ci:${args.deployer.name}`, roleId: args.role, scope: args.scope, subscriptionId: args.subscriptionId },
    { parent, ...options },
  );
}

/** One scalar of the AKS kubeconfig, in block (`key: value`) or flow (`{key: value, ...}`) style. */
function scalar(kubeconfig: string, key: string, clusterName: string): string {
  const match = new RegExp(`${key}:\\s*["']?([^\\s"',}]+)`).exec(kubeconfig);
  if (!match) throw new Error(`the user kubeconfig AKS returned for cluster ${clusterName} has no ${key}`);
  return match[1];
}

/**
 * The kubeconfig `kubelogin convert-kubeconfig -l azurecli` would produce from the one AKS hands
 * out: AKS's exec user logs in with `--login devicecode`, which waits for a browser. `azurecli`
 * takes the token of the current az CLI session (`az login` for a person). In CI, an az session made
 * from a GitHub OIDC assertion cannot refresh once that assertion expires (Azure/azure-cli#28708),
 * and ARM_USE_OIDC only refreshes azure-native's own token; a workflow therefore overrides the
 * login mode with kubelogin's environment variables (AAD_LOGIN_METHOD=workloadidentity with
 * AZURE_CLIENT_ID, AZURE_TENANT_ID and a refreshed AZURE_FEDERATED_TOKEN_FILE), which take precedence
 * over these arguments (Azure/kubelogin docs/book/src/concepts/login-modes). Built as JSON (valid
 * YAML) from the server, CA and Entra server app id, so no YAML library is needed at run time; the
 * same server, CA and login reach the cluster's API for the take-over check (components/kubeApi.ts).
 */
function azureCliKubeconfig(aksKubeconfig: string, clusterName: string): { kubeconfig: string; access: KubeAccess } {
  const server = scalar(aksKubeconfig, "server", clusterName);
  const ca = scalar(aksKubeconfig, "certificate-authority-data", clusterName);
  const serverId = /--server-id(?:\s*\n\s*-\s*|\s*,\s*|\s+)["']?([0-9a-fA-F-]{36})/.exec(aksKubeconfig)?.[1];
  if (!serverId) {
    throw new Error(`the user kubeconfig AKS returned for cluster ${clusterName} has no kubelogin --server-id: the cluster must use Entra ID with Azure RBAC`);
  }
  const user = `clusterUser_${clusterName}`;
  const login = { command: "kubelogin", args: ["get-token", "--login", "azurecli", "--server-id", serverId] };
  const kubeconfig = JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: clusterName, cluster: { server, "certificate-authority-data": ca } }],
    contexts: [{ name: clusterName, context: { cluster: clusterName, user } }],
    "current-context": clusterName,
    users: [
      {
        name: user,
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            ...login,
            interactiveMode: "Never",
          },
        },
      },
    ],
  });
  return { kubeconfig, access: { server, ca: Buffer.from(ca, "base64").toString("utf8"), exec: login } };
}

export interface AksClusterArgs {
  /** The existing cluster (name, resource group) and the namespaces this stack adds to it. */
  cluster: ClusterConfig;
  /**
   * CI identities that deploy to any namespace of this cluster. Each gets the Cluster User role
   * here, once per cluster however many namespaces it deploys to; a name listed twice counts once.
   */
  deployers: Deployer[];
  /**
   * The resource group this stack owns (release-infra:azure.resourceGroup): it names the stack's
   * own namespace-deployer role, so two stacks that deploy to one cluster never define the same role.
   */
  ownerResourceGroup: string;
  /**
   * In a preview, read through the Kubernetes API which of the cluster's configured namespaces
   * exist (for the take-over check); false where no cluster answers (the offline plan).
   */
  readsNamespaces?: boolean;
  /**
   * Define the namespace-deployer role here (default); false when the pipeline stack defines it
   * (a Pulumi.pipeline.yaml beside this stack), so the deploy identity needs no role-definition right.
   */
  definesDeployerRole?: boolean;
}

/**
 * An existing AKS cluster: its Kubernetes provider (non-interactive Entra login), its identifiers,
 * and the Cluster User role for the CI identities that deploy to its namespaces.
 */
export class AksCluster extends pulumi.ComponentResource {
  /** Azure resource id of the cluster. */
  public readonly clusterId: pulumi.Output<string>;
  /** Name of the cluster (for AKS_CLUSTER_NAME). */
  public readonly clusterName: pulumi.Output<string>;
  /** Resource group of the cluster (for AKS_RESOURCE_GROUP). */
  public readonly resourceGroupName: string;
  /** Object id of the kubelet identity (for AcrPull); undefined on clusters without a managed kubelet identity. */
  public readonly kubeletObjectId: pulumi.Output<string | undefined>;
  /** Kubernetes provider for the cluster, for ClusterNamespace. */
  public readonly provider: Provider;
  /** Ids of the Cluster User assignments, by deployer name. */
  public readonly clusterUserAssignmentIds: Record<string, pulumi.Output<string>>;
  /**
   * The custom role namespaces grant their deployers (RBAC Writer without NetworkPolicy writes),
   * defined on the cluster's resource group and assignable only there; undefined without deployers.
   */
  public readonly deployerRole: { roleId: string; definition?: authorization.RoleDefinition } | undefined;
  /** The configured namespaces that exist already, read in a preview when readsNamespaces is set; empty otherwise. */
  public readonly existingNamespaces: pulumi.Output<string[]>;

  constructor(name: string, args: AksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("release-infra:aks:Cluster", name, {}, opts);
    const { cluster } = args;
    const ref = { resourceGroupName: cluster.resourceGroup, resourceName: cluster.name };
    const managed = containerservice.getManagedClusterOutput(ref, { parent: this });

    // Namespace-scoped Azure RBAC grants are ignored unless the cluster authorizes with Azure RBAC:
    // fail the preview instead of handing CI an identity that gets Forbidden on its first deploy.
    this.clusterId = managed.apply((c) => {
      if (args.deployers.length > 0 && c.aadProfile?.enableAzureRBAC !== true) {
        throw new Error(
          `cluster ${cluster.name} (resource group ${cluster.resourceGroup}) does not use Azure RBAC for Kubernetes authorization (aadProfile.enableAzureRBAC), ` +
            `so the namespace-scoped role assignments for its deployers would have no effect; enable it (az aks update --enable-azure-rbac) or remove the environments' access.namespaces`,
        );
      }
      return c.id;
    });
    this.clusterName = managed.name;
    this.resourceGroupName = cluster.resourceGroup;
    this.kubeletObjectId = managed.apply((c) => c.identityProfile?.["kubeletidentity"]?.objectId);

    const login = containerservice.listManagedClusterUserCredentialsOutput({ ...ref, format: "exec" }, { parent: this }).apply((result) => {
      const encoded = result.kubeconfigs[0]?.value;
      if (!encoded) throw new Error(`AKS returned no user kubeconfig for cluster ${cluster.name} in ${cluster.resourceGroup}`);
      return azureCliKubeconfig(Buffer.from(encoded, "base64").toString("utf8"), cluster.name);
    });
    // With the provider's own kubeconfig and login, so the read needs no right the provider lacks.
    this.existingNamespaces =
      args.readsNamespaces && pulumi.runtime.isDryRun() && cluster.namespaces.length > 0
        ? login.apply(async ({ access }) => {
            const found = await Promise.all(cluster.namespaces.map((ns) => namespaceExists(access, ns.name)));
            return cluster.namespaces.filter((_, i) => found[i]).map((ns) => ns.name);
          })
        : pulumi.output([]);
    this.provider = new Provider(
      `${name}-k8s`,
      {
        kubeconfig: pulumi.secret(login.apply((l) => l.kubeconfig)),
        // Credentials rotate; only a different cluster should replace the provider and everything on it.
        // Lower case: ARM sometimes returns `resourcegroups`, and a changed identifier replaces everything on the provider.
        clusterIdentifier: this.clusterId.apply((id) => id.toLowerCase()),
      },
      { parent: this },
    );

    const denyingNamespaces = cluster.namespaces.filter((ns) => ns.network === "default-deny").map((ns) => ns.name);
    if (denyingNamespaces.length > 0) {
      managed.apply((c) => {
        const engine = c.networkProfile?.networkPolicy;
        if (engine === undefined || engine.toLowerCase() === "none") {
          pulumi.log.warn(
            `cluster ${cluster.name} (resource group ${cluster.resourceGroup}) has no network policy engine (networkProfile.networkPolicy: ${engine ?? "not set"}): ` +
              `the default-deny NetworkPolicies of namespace(s) ${denyingNamespaces.join(", ")} will be ignored and every pod stays reachable; ` +
              `enable a network policy engine on the cluster (https://learn.microsoft.com/azure/aks/use-network-policies)`,
            this,
          );
        }
      });
    }

    const subscriptionId = authorization.getClientConfigOutput({ parent: this }).subscriptionId;
    const deployers = [...new Map(args.deployers.map((d) => [d.name, d])).values()];

    if (deployers.length > 0) {
      const roleId = namespaceDeployerRoleId(cluster, args.ownerResourceGroup);
      const groupScope = pulumi.interpolate`/subscriptions/${subscriptionId}/resourceGroups/${cluster.resourceGroup}`;
      this.deployerRole =
        args.definesDeployerRole === false
          ? { roleId }
          : { roleId, definition: new authorization.RoleDefinition(`${name}-namespace-deployer-role`, namespaceDeployerRoleArgs(cluster, args.ownerResourceGroup, groupScope), { parent: this }) };
    }
    this.clusterUserAssignmentIds = Object.fromEntries(
      deployers.map((deployer) => [
        deployer.name,
        grantDeployerRole(`${name}-cluster-user-${deployer.name}`, { deployer, role: AKS_ROLES.clusterUser, scope: this.clusterId, subscriptionId }, this).id,
      ]),
    );

    this.registerOutputs({
      clusterId: this.clusterId,
      clusterName: this.clusterName,
      resourceGroupName: this.resourceGroupName,
      kubeletObjectId: this.kubeletObjectId,
      clusterUserAssignmentIds: this.clusterUserAssignmentIds,
      deployerRoleId: this.deployerRole?.roleId,
    });
  }
}
