/**
 * What each pipeline identity may do, derived from what its deploy stack's config manages: a
 * pure function of the stack files (no Pulumi resources), so the rights are reviewable and
 * tested on their own; components/pipelineStack.ts creates them.
 *
 * Per deploy stack `S` there are two identities, bound to the GitHub environments
 * `pulumi-S` (writer: `pulumi up`) and `pulumi-S-read` (reader: previews and drift checks).
 * Scopes are relative to the subscription (`/resourceGroups/...`) for Azure and are always an
 * object the stack's config names: its resource group, a registry it creates, uses or promotes
 * from, a cluster it adds namespaces to, one of those namespaces, its GCP project, and the state
 * container and secrets key every stack shares. Never a subscription.
 */
import type { PipelineSection } from "../config/load";
import type { DeployStack } from "../config/stackSet";
import { AKS_ROLES, namespaceDeployerRoleId } from "./aksCluster";
import { REGISTRY_ROLES } from "./containerRegistry";
import { cdnRoleId } from "./names";

/**
 * Built-in roles, ids from https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
 * (general, containers, storage, security pages).
 */
export const AZURE_ROLES = {
  Reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
  Contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
  "Azure Kubernetes Service Cluster User Role": AKS_ROLES.clusterUser,
  "Azure Kubernetes Service RBAC Reader": "7f6c6a51-bcf8-42ba-9220-52d62157d7db",
  "Azure Kubernetes Service RBAC Writer": AKS_ROLES.rbacWriter,
  AcrPull: REGISTRY_ROLES.acrpull,
  AcrPush: REGISTRY_ROLES.acrpush,
  "Container Registry Data Importer and Data Reader": REGISTRY_ROLES.importer,
  "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
  "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
} as const;
export type AzureRoleName = keyof typeof AZURE_ROLES;

/**
 * Custom roles the pipeline stack defines, for rights no built-in role grants narrowly enough.
 * Creating a namespace is a cluster-scoped Kubernetes request, so it needs a cluster-scope
 * assignment; everything else on a namespace is granted at `<cluster>/namespaces/<name>`
 * (data actions: https://learn.microsoft.com/azure/role-based-access-control/permissions/containers).
 */
export const CUSTOM_ROLES = {
  "namespace-creator": {
    title: "AKS namespace creator",
    description: "Create and read Kubernetes namespaces (Azure RBAC for Kubernetes); nothing inside them.",
    actions: [],
    dataActions: ["Microsoft.ContainerService/managedClusters/namespaces/read", "Microsoft.ContainerService/managedClusters/namespaces/write"],
  },
  "namespace-manager": {
    title: "AKS namespace manager",
    description: "Delete a namespace and manage its ResourceQuotas, LimitRanges and NetworkPolicies (assigned per namespace).",
    actions: [],
    dataActions: [
      "Microsoft.ContainerService/managedClusters/namespaces/read",
      "Microsoft.ContainerService/managedClusters/namespaces/delete",
      ...["resourcequotas", "limitranges", "networking.k8s.io/networkpolicies"].flatMap((kind) =>
        ["read", "write", "delete"].map((verb) => `Microsoft.ContainerService/managedClusters/${kind}/${verb}`),
      ),
    ],
  },
} as const;
export type CustomRoleKey = keyof typeof CUSTOM_ROLES;

export type Access = "write" | "read";

export interface AzureGrant {
  cloud: "azure";
  stack: string;
  /** The GitHub environment whose identity gets the role: `pulumi-<stack>` or `pulumi-<stack>-read`. */
  environment: string;
  access: Access;
  /** Built-in role name, or the key of a custom role of CUSTOM_ROLES. */
  role: AzureRoleName | CustomRoleKey;
  /** Scope relative to the subscription, e.g. `/resourceGroups/acme-release-dev`. */
  scope: string;
  /** ABAC condition (version 2.0), on the role-assignment right only. */
  condition?: string;
  /** Why `up` or `preview` needs it. */
  reason: string;
}

export interface GcpGrant {
  cloud: "gcp";
  stack: string;
  environment: string;
  access: Access;
  /** A predefined role, e.g. `roles/storage.admin`. */
  role: string;
  project: string;
  condition?: { title: string; expression: string };
  reason: string;
}

export type Grant = AzureGrant | GcpGrant;

/** Everything the pipeline stack creates for the deploy stacks, as plain data. */
export interface PipelinePlan {
  grants: Grant[];
  /** Resource groups the pipeline stack creates so their stack's writer can be granted on them before its first `up`. */
  resourceGroups: { stack: string; name: string; location: string; tags: Record<string, string> }[];
  /** Custom roles in use, with the scopes they must be assignable at. */
  customRoles: { key: CustomRoleKey; assignableScopes: string[] }[];
  /** GCP APIs to enable, per project: the deploy stacks' projects and the pipeline's own. */
  gcpServices: { project: string; service: string }[];
  /** Per deploy stack and cluster it deploys to: the namespace deployer role the pipeline stack defines for it. */
  namespaceDeployerRoles: { stack: string; cluster: { name: string; resourceGroup: string }; ownerResourceGroup: string }[];
}

export const environmentOf = (stack: string, access: Access) => (access === "write" ? `pulumi-${stack}` : `pulumi-${stack}-read`);

const rgScope = (resourceGroup: string) => `/resourceGroups/${resourceGroup}`;
const registryScope = (resourceGroup: string, name: string) => `${rgScope(resourceGroup)}/providers/Microsoft.ContainerRegistry/registries/${name}`;
const clusterScope = (resourceGroup: string, name: string) => `${rgScope(resourceGroup)}/providers/Microsoft.ContainerService/managedClusters/${name}`;

/**
 * The ABAC condition that limits "Role Based Access Control Administrator" to assigning and
 * removing the listed built-in roles, to service principals only: the syntax of "Constrain roles
 * and principal types" in https://learn.microsoft.com/azure/role-based-access-control/delegate-role-assignments-examples
 * (attributes: https://learn.microsoft.com/azure/role-based-access-control/conditions-authorization-actions-attributes).
 * Without it the pipeline could make itself Owner.
 */
export function roleAssignmentCondition(roleIds: readonly string[]): string {
  const ids = [...new Set(roleIds)].sort().join(", ");
  const limit = (source: "Request" | "Resource") =>
    `@${source}[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${ids}} AND ` +
    `@${source}[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}`;
  return [
    `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (${limit("Request")}))`,
    `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (${limit("Resource")}))`,
  ].join(" AND ");
}

/**
 * The GCP condition limiting project IAM changes to the listed roles ("Set limits on granting
 * roles", https://cloud.google.com/iam/docs/setting-limits-on-granting-roles): the publishers'
 * project-level invalidation grant is the only project binding the program makes.
 */
export function grantableRolesCondition(roles: readonly string[]): string {
  return `api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([${roles.map((r) => `'${r}'`).join(", ")}])`;
}

/** The invalidation role components/cdnSite.ts defines for a bucket. */
export function invalidatorRole(project: string, bucket: string): string {
  return `projects/${project}/roles/${cdnRoleId("cdnInvalidator", bucket)}`;
}

/** APIs a CDN stack calls: the bucket, load balancer, IAM, workload identity federation and project lookups. */
export const GCP_SERVICES = ["cloudresourcemanager.googleapis.com", "compute.googleapis.com", "iam.googleapis.com", "iamcredentials.googleapis.com", "storage.googleapis.com", "sts.googleapis.com"];

interface Scoped {
  scope: string;
  /** The resource group the scope is in, for "is this a sibling's group" decisions. */
  resourceGroup: string;
}

/**
 * Where to grant on a registry the stack uses but does not create. A registry in a resource
 * group the pipeline creates (another deploy stack's) may not exist yet when the pipeline stack
 * is applied (its stack deploys later), and Azure rejects assignments on a missing scope, so the
 * grant goes to that group: it holds only that stack's registry and identities, and the
 * conditioned role-assignment right there still allows only the registry roles listed.
 */
function externalRegistry(name: string, resourceGroup: string, pipelineGroups: ReadonlySet<string>): Scoped {
  return pipelineGroups.has(resourceGroup.toLowerCase()) ? { scope: rgScope(resourceGroup), resourceGroup } : { scope: registryScope(resourceGroup, name), resourceGroup };
}

function azureGrants(stack: DeployStack, pipeline: PipelineSection, pipelineGroups: ReadonlySet<string>): AzureGrant[] {
  const azure = stack.config.azure;
  if (!azure) return [];
  const grants: AzureGrant[] = [];
  const add = (access: Access, role: AzureGrant["role"], scope: string, reason: string, condition?: string) =>
    grants.push({ cloud: "azure", stack: stack.stack, environment: environmentOf(stack.stack, access), access, role, scope, reason, ...(condition ? { condition } : {}) });
  // Role-assignment rights per scope, merged so one scope gets one conditioned assignment.
  const assignable = new Map<string, { roles: Set<AzureRoleName>; customIds: Set<string>; reasons: string[] }>();
  /** The role-assignment right on `scope`, for built-in `roles` and the custom role ids the deploy stack defines. */
  const assigner = (scope: string, roles: AzureRoleName[], reason: string, customIds: string[] = []) => {
    if (roles.length + customIds.length === 0) return;
    const entry = assignable.get(scope) ?? { roles: new Set<AzureRoleName>(), customIds: new Set<string>(), reasons: [] };
    roles.forEach((r) => entry.roles.add(r));
    customIds.forEach((id) => entry.customIds.add(id));
    entry.reasons.push(reason);
    assignable.set(scope, entry);
  };

  const environments = (stack.config.github?.repositories ?? []).flatMap((r) => r.environments);
  const registryAccess = new Set(environments.flatMap((e) => (e.access?.registry ? [e.access.registry] : [])));
  const kubeletPull = azure.clusters.some((c) => c.pullFromRegistry);
  const registryRoles: AzureRoleName[] = [
    ...(kubeletPull || registryAccess.has("pull") ? (["AcrPull"] as const) : []),
    ...(registryAccess.has("push") ? (["AcrPush"] as const) : []),
    ...(registryAccess.has("promote") ? (["Container Registry Data Importer and Data Reader"] as const) : []),
  ];

  // Its own resource group (created by the pipeline stack): the registry, its purge task, the CI identities.
  const own = rgScope(azure.resourceGroup);
  add("write", "Contributor", own, "creates the stack's registry, purge task and CI identities in its resource group");
  add("read", "Reader", own, "reads the stack's resource group for previews and drift checks");
  const registry = azure.registry;
  if (registry && !registry.existing) {
    // An adopted registry in a group of its own: rights on that registry, never on its group.
    const elsewhere = registry.resourceGroup !== undefined && registry.resourceGroup.toLowerCase() !== azure.resourceGroup.toLowerCase();
    const at = elsewhere && registry.resourceGroup ? registryScope(registry.resourceGroup, registry.name) : own;
    if (at !== own) {
      add("write", "Contributor", at, `manages registry ${registry.name} and its purge task where it lives`);
      add("read", "Reader", at, `reads registry ${registry.name} for previews and drift checks`);
    }
    assigner(at, registryRoles, `assigns the registry roles of its kubelets and CI identities on ${registry.name}`);
  }

  // Registries it does not create: an existing one it grants on, and the ones it promotes from.
  const external = [
    ...(registry?.existing ? [{ ...externalRegistry(registry.name, registry.resourceGroup ?? azure.resourceGroup, pipelineGroups), name: registry.name, roles: registryRoles }] : []),
    // Promotion reads its sources with Reader only (components/containerRegistry.ts): the importer role stays on the target.
    ...(registry?.importFrom ?? []).map((source) => ({ ...externalRegistry(source.name, source.resourceGroup, pipelineGroups), name: source.name, roles: registryAccess.has("promote") ? (["Reader"] as AzureRoleName[]) : [] })),
  ];
  for (const target of external) {
    if (target.scope === own) {
      // Contributor on its group already reads it; only the role-assignment right is missing.
      assigner(own, target.roles, `assigns registry roles on ${target.name}`);
      continue;
    }
    add("write", "Reader", target.scope, `reads registry ${target.name} during the preview`);
    add("read", "Reader", target.scope, `reads registry ${target.name} during the preview`);
    assigner(target.scope, target.roles, `assigns registry roles on ${target.name}`);
  }

  // Clusters it adds namespaces to (or whose kubelet it grants AcrPull).
  for (const cluster of azure.clusters) {
    const scope = clusterScope(cluster.resourceGroup, cluster.name);
    const deployers = environments.filter((e) => e.access?.namespaces.some((n) => n.cluster === cluster.name));
    add("write", "Azure Kubernetes Service Cluster User Role", scope, `reads cluster ${cluster.name} and fetches its user kubeconfig (listClusterUserCredential)`);
    add("read", "Reader", scope, `reads cluster ${cluster.name} and the role assignments on it`);
    add("read", "Azure Kubernetes Service Cluster User Role", scope, `fetches the user kubeconfig of ${cluster.name} (listClusterUserCredential, not in Reader)`);
    if (cluster.namespaces.length > 0) {
      add("read", "Azure Kubernetes Service RBAC Reader", scope, `refreshes the namespaces, quotas, limit ranges and network policies on ${cluster.name}`);
      add("write", "namespace-creator", scope, `creates the stack's namespaces on ${cluster.name} (namespace creation is cluster-scoped)`);
      for (const ns of cluster.namespaces) {
        add("write", "namespace-manager", `${scope}/namespaces/${ns.name}`, `manages namespace ${ns.name}: its quota, limit range and network policies, and its deletion`);
      }
    }
    if (deployers.length > 0) {
      // The pipeline stack defines the namespace deployer role (namespaceDeployerRoles), and the right to
      // assign it holds on each deployed namespace only: at the cluster it would cover every namespace.
      assigner(scope, ["Azure Kubernetes Service Cluster User Role"], `assigns its deployers Cluster User on ${cluster.name}`);
      const deployed = new Set(deployers.flatMap((e) => (e.access?.namespaces ?? []).filter((n) => n.cluster === cluster.name).map((n) => n.namespace)));
      for (const namespace of [...deployed].sort()) {
        assigner(`${scope}/namespaces/${namespace}`, [], `assigns its deployers the namespace deployer role on ${namespace}`, [namespaceDeployerRoleId(cluster, azure.resourceGroup)]);
      }
    }
  }

  for (const [scope, { roles, customIds, reasons }] of assignable) {
    const names = [...roles].sort();
    const custom = [...customIds].sort();
    const allowed = [...names, ...custom.map((id) => `custom role ${id}`)].join(", ");
    add("write", "Role Based Access Control Administrator", scope, `${reasons.join("; ")}; conditioned to ${allowed} for service principals`, roleAssignmentCondition([...names.map((r) => AZURE_ROLES[r]), ...custom]));
  }

  // Shared state and secrets key: writers write state and encrypt, readers read state and decrypt.
  const backend = pipeline.backend;
  const container = `${rgScope(backend.resourceGroup)}/providers/Microsoft.Storage/storageAccounts/${backend.storageAccount}/blobServices/default/containers/${backend.container}`;
  const key = `${rgScope(pipeline.secretsProvider.resourceGroup)}/providers/Microsoft.KeyVault/vaults/${pipeline.secretsProvider.keyVault}/keys/${pipeline.secretsProvider.key}`;
  add("write", "Storage Blob Data Contributor", container, "writes the stack's state and its lock");
  add("read", "Storage Blob Data Reader", container, "reads the stack's state (a preview takes no lock)");
  add("write", "Key Vault Crypto User", key, "encrypts and decrypts the stack's secrets");
  add("read", "Key Vault Crypto User", key, "decrypts the stack's secrets for a preview");
  return grants;
}

function gcpGrants(stack: DeployStack): GcpGrant[] {
  const cdn = stack.config.cdn;
  if (!cdn) return [];
  const grants: GcpGrant[] = [];
  const add = (access: Access, role: string, reason: string, condition?: GcpGrant["condition"]) =>
    grants.push({ cloud: "gcp", stack: stack.stack, environment: environmentOf(stack.stack, access), access, role, project: cdn.project, reason, ...(condition ? { condition } : {}) });
  const publishers = (stack.config.github?.repositories ?? []).some((r) => r.environments.some((e) => e.access?.cdn === "publish"));
  add("write", "roles/storage.admin", `creates bucket ${cdn.bucket} and its IAM bindings`);
  add("write", "roles/compute.loadBalancerAdmin", "creates the backend bucket, URL maps, proxies, certificates, address and forwarding rules");
  add("write", "roles/iam.roleAdmin", "creates the cache-invalidation custom role");
  if (publishers) {
    add("write", "roles/iam.workloadIdentityPoolAdmin", "creates the stack's workload identity pool and GitHub provider");
    add("write", "roles/iam.serviceAccountAdmin", "creates the publishers' service accounts and who may impersonate them");
    const role = invalidatorRole(cdn.project, cdn.bucket);
    add("write", "roles/resourcemanager.projectIamAdmin", `grants the publishers ${role} on the project (URL maps have no IAM of their own)`, {
      title: "only the CDN invalidation role",
      expression: grantableRolesCondition([role]),
    });
  }
  add("read", "roles/viewer", "reads the bucket, load balancer, pool and service accounts");
  add("read", "roles/iam.securityReviewer", "reads the IAM policies of the bucket, service accounts and project");
  return grants;
}

/** Everything the pipeline stack creates for `stacks`, derived from their configs. */
export function derivePipeline(stacks: readonly DeployStack[], pipeline: PipelineSection): PipelinePlan {
  const pipelineGroups = new Set(stacks.flatMap((s) => (s.config.azure ? [s.config.azure.resourceGroup.toLowerCase()] : [])));
  const grants: Grant[] = stacks.flatMap((s) => [...azureGrants(s, pipeline, pipelineGroups), ...gcpGrants(s)]);
  const customRoles = (Object.keys(CUSTOM_ROLES) as CustomRoleKey[]).flatMap((key) => {
    // Custom roles are assignable at resource groups (not resources): the clusters' groups.
    const scopes = [...new Set(grants.filter((g): g is AzureGrant => g.cloud === "azure" && g.role === key).map((g) => g.scope.replace(/\/providers\/.*$/, "")))].sort();
    return scopes.length > 0 ? [{ key, assignableScopes: scopes }] : [];
  });
  const gcpProjects = [...new Set(stacks.flatMap((s) => (s.config.cdn ? [s.config.cdn.project] : [])))];
  const servicesOf = (projects: string[]) => projects.flatMap((project) => GCP_SERVICES.map((service) => ({ project, service })));
  const gcpServices = [...servicesOf(gcpProjects), ...(pipeline.gcp && gcpProjects.length > 0 && !gcpProjects.includes(pipeline.gcp.project) ? servicesOf([pipeline.gcp.project]) : [])];
  return {
    grants,
    resourceGroups: stacks.flatMap((s) => (s.config.azure ? [{ stack: s.stack, name: s.config.azure.resourceGroup, location: s.config.azure.location, tags: s.config.tags }] : [])),
    customRoles,
    gcpServices,
    namespaceDeployerRoles: stacks.flatMap((s) => {
      const azure = s.config.azure;
      const deployedClusters = new Set((s.config.github?.repositories ?? []).flatMap((r) => r.environments.flatMap((e) => (e.access?.namespaces ?? []).map((n) => n.cluster))));
      return azure ? azure.clusters.filter((c) => deployedClusters.has(c.name)).map((c) => ({ stack: s.stack, cluster: { name: c.name, resourceGroup: c.resourceGroup }, ownerResourceGroup: azure.resourceGroup })) : [];
    }),
  };
}

/**
 * The permissions of the GitHub Apps whose installation tokens the GitHub provider uses, per
 * endpoint the provider calls (GitHub REST docs, "Fine-grained access tokens" of each endpoint):
 * environments and their deployment branch policies, rulesets and the Actions workflow-token
 * settings need Administration (https://docs.github.com/rest/deployments/environments,
 * https://docs.github.com/rest/deployments/branch-policies, https://docs.github.com/rest/repos/rules,
 * https://docs.github.com/rest/actions/permissions); reading environments and their policies needs
 * Actions read on private repositories; environment secrets and variables need Environments,
 * repository secrets Secrets, repository variables Variables (https://docs.github.com/rest/actions/secrets,
 * https://docs.github.com/rest/actions/variables); resolving reviewer teams needs the
 * organisation's Members read (https://docs.github.com/rest/teams/teams).
 */
export function githubAppPermissions(stacks: readonly DeployStack[], owner: string) {
  const repositories = [...new Set(stacks.flatMap((s) => (s.config.github?.repositories ?? []).map((r) => `${s.config.github?.owner ?? owner}/${r.name}`)))].sort();
  const repository = (level: "read" | "write") => ({ administration: level, environments: level, secrets: level, variables: level, actions: "read", metadata: "read" });
  return {
    writer: { installOn: repositories, repository: repository("write"), organization: { members: "read" } },
    reader: { installOn: repositories, repository: repository("read"), organization: { members: "read" } },
  };
}
