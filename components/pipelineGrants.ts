/**
 * What each pipeline identity may do, derived from what its deploy stack's config manages: a
 * pure function of the stack files (no Pulumi resources), so the rights are reviewable and
 * tested on their own; components/pipelineStack.ts creates them.
 *
 * Per deploy stack `S` there are three identities, one per GitHub environment: the writer in
 * `pulumi-S` (`pulumi up`, main only), the reader in `pulumi-S-read` (drift checks and the
 * post-deploy convergence check, main only), and a reader in `pulumi-S-preview` (pull-request
 * previews, each approved by a reviewer: it runs the pull request's code). The pipeline stack
 * itself has a reader in `pulumi-<pipeline>-read` (its drift check, main only).
 * Scopes are relative to the subscription (`/resourceGroups/...`) for Azure and are always an
 * object the stack's config names: its resource group, a registry it creates, uses or promotes
 * from, a cluster it adds namespaces to, one of those namespaces, its GCP project, and its own
 * state container and secrets key. Never a subscription.
 */
import type { PipelineSection } from "../config/load";
import type { DeployStack } from "../config/stackSet";
import { namespaceDeployerRoleId } from "./aksCluster";
import { cdnRoleId, shortHash } from "./names";
import { AZURE_BUILT_IN_ROLES, type AzureBuiltInRole, type GcpRole } from "./roleCatalogue";

export type AzureRoleName = AzureBuiltInRole;

/**
 * Custom roles the pipeline stack defines, for rights no built-in role grants narrowly enough.
 * Creating a namespace is a cluster-scoped Kubernetes request, so it needs a cluster-scope
 * assignment; everything else on a namespace is granted at `<cluster>/namespaces/<name>`
 * (data actions: https://learn.microsoft.com/azure/role-based-access-control/permissions/containers).
 */
export const CUSTOM_ROLES = {
  /**
   * Reader without the two registry operations that pull images: Reader's `*\/read` includes
   * `registries/pull/read`, which in a registry's legacy permission mode (role assignments, not
   * ABAC) pulls every image, and `registries/quarantine/read`, which pulls quarantined ones
   * (https://learn.microsoft.com/azure/container-registry/container-registry-roles). A preview and
   * a drift check read registries' settings, never their images.
   */
  reader: {
    title: "Reader without image pull",
    description: "Read every resource (*/read) except pulling images, quarantined ones included, from a container registry.",
    actions: ["*/read"],
    notActions: ["Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/quarantine/read"],
    dataActions: [],
  },
  /**
   * The one key operation Pulumi's azurekeyvault secrets provider performs for an existing stack:
   * the stack file's `encryptedkey` (the data key) is decrypted with the vault key, and every secret
   * is then encrypted and decrypted locally with the data key (pulumi/pulumi pkg/secrets/cloud
   * manager.go: NewCloudSecretsManager calls keeper.Decrypt; keeper.Encrypt only in
   * GenerateNewDataKey, for `pulumi stack init` or `change-secrets-provider`, which the administrator runs). The keeper calls
   * the key's decrypt operation with RSA-OAEP-256 and no key read (google/go-cloud
   * secrets/azurekeyvault/akv.go). So neither writers nor readers need encrypt, and no one in CI
   * needs Key Vault Crypto User (which also carries keys/update, backup, sign, wrap and encrypt).
   */
  "secrets-decrypter": {
    title: "Pulumi secrets key decrypter",
    description: "Decrypt with one Key Vault key (the stack's Pulumi data key); nothing else.",
    actions: [],
    notActions: [],
    dataActions: ["Microsoft.KeyVault/vaults/keys/decrypt/action"],
  },
  "namespace-creator": {
    title: "AKS namespace creator",
    description: "Create and read Kubernetes namespaces (Azure RBAC for Kubernetes); nothing inside them.",
    actions: [],
    notActions: [],
    dataActions: ["Microsoft.ContainerService/managedClusters/namespaces/read", "Microsoft.ContainerService/managedClusters/namespaces/write"],
  },
  "namespace-manager": {
    title: "AKS namespace manager",
    description: "Delete a namespace and manage its ResourceQuotas, LimitRanges and NetworkPolicies (assigned per namespace).",
    actions: [],
    notActions: [],
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
  /** The GitHub environment whose identity gets the role: `pulumi-<stack>`, `pulumi-<stack>-read` or `pulumi-<stack>-preview`. */
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
  /** A predefined role of the catalogue, e.g. `roles/storage.admin`. */
  role: GcpRole;
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
  /** Per CDN stack: the bucket whose custom roles (cache fill, invalidation) the pipeline stack defines in its project. */
  cdnCustomRoles: { stack: string; project: string; bucket: string }[];
  /** Per deploy stack: the blob container of its state and the Key Vault key of its secrets, which the pipeline stack creates. */
  stackState: { stack: string; container: string; key: string }[];
  /** Per deploy stack and cluster it deploys to: the namespace deployer role the pipeline stack defines for it. */
  namespaceDeployerRoles: { stack: string; cluster: { name: string; resourceGroup: string }; ownerResourceGroup: string }[];
}

export const environmentOf = (stack: string, access: Access) => (access === "write" ? `pulumi-${stack}` : `pulumi-${stack}-read`);
/** The environment of pull-request previews: the reader's rights, behind a reviewer, for any ref. */
export const previewEnvironmentOf = (stack: string) => `pulumi-${stack}-preview`;

/**
 * `<base>-<stack>` within a name rule: `max` characters, letters (lower case only when
 * `lowerCase`), digits and single hyphens. A hash of the stack name is added whenever its
 * characters had to change or be cut, so `Dev` and `dev` stay apart.
 */
function perStackName(base: string, stack: string, max: number, lowerCase: boolean): string {
  const slug = (lowerCase ? stack.toLowerCase() : stack).replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  const plain = `${base}-${slug}`;
  if (slug === stack && plain.length <= max) return plain;
  const hash = shortHash(stack);
  return `${plain.slice(0, max - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}

/**
 * The blob container of a deploy stack's state: one container per stack, so a role on the
 * container is a role on that stack's state only. The self-managed backend keeps a stack's
 * checkpoint, lock, history and backups under `.pulumi/{stacks,locks,history,backups}/<project>/<stack>`
 * and one `.pulumi/meta.yaml` for the whole container (pulumi/pulumi pkg/backend/diy/backend.go and
 * meta.go): ABAC conditions on blob paths would need a shared exception for that file and for
 * listing, where a container needs none.
 */
export const stateContainerName = (backend: PipelineSection["backend"], stack: string) => perStackName(backend.container, stack, 63, true);
/** The Key Vault key of a deploy stack's secrets (key names: 1-127 letters, digits and '-'). */
export const secretsKeyName = (provider: PipelineSection["secretsProvider"], stack: string) => perStackName(provider.key, stack, 127, false);

const rgScope = (resourceGroup: string) => `/resourceGroups/${resourceGroup}`;
/** The scope of a state container, relative to the subscription. */
export const containerScope = (backend: PipelineSection["backend"], container: string) =>
  `${rgScope(backend.resourceGroup)}/providers/Microsoft.Storage/storageAccounts/${backend.storageAccount}/blobServices/default/containers/${container}`;
/** The scope of a secrets key, relative to the subscription. */
export const keyScope = (provider: PipelineSection["secretsProvider"], key: string) =>
  `${rgScope(provider.resourceGroup)}/providers/Microsoft.KeyVault/vaults/${provider.keyVault}/keys/${key}`;

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
/** The API of DNS-authorized certificates (release-infra:cdn.certificateAuthorization: dns). */
export const CERTIFICATE_MANAGER_SERVICE = "certificatemanager.googleapis.com";

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

function azureGrants(stack: DeployStack, pipelineGroups: ReadonlySet<string>): AzureGrant[] {
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
  add("read", "reader", own, "reads the stack's resource group for previews and drift checks (no image pull)");
  const registry = azure.registry;
  if (registry && !registry.existing) {
    // An adopted registry in a group of its own: rights on that registry, never on its group.
    const elsewhere = registry.resourceGroup !== undefined && registry.resourceGroup.toLowerCase() !== azure.resourceGroup.toLowerCase();
    const at = elsewhere && registry.resourceGroup ? registryScope(registry.resourceGroup, registry.name) : own;
    if (at !== own) {
      add("write", "Contributor", at, `manages registry ${registry.name} and its purge task where it lives`);
      add("read", "reader", at, `reads registry ${registry.name} for previews and drift checks (no image pull)`);
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
    add("write", "reader", target.scope, `reads registry ${target.name} during the preview (no image pull)`);
    add("read", "reader", target.scope, `reads registry ${target.name} during the preview (no image pull)`);
    assigner(target.scope, target.roles, `assigns registry roles on ${target.name}`);
  }

  // Clusters it adds namespaces to (or whose kubelet it grants AcrPull).
  for (const cluster of azure.clusters) {
    const scope = clusterScope(cluster.resourceGroup, cluster.name);
    const deployers = environments.filter((e) => e.access?.namespaces.some((n) => n.cluster === cluster.name));
    add("write", "Azure Kubernetes Service Cluster User Role", scope, `reads cluster ${cluster.name} and fetches its user kubeconfig (listClusterUserCredential)`);
    add("read", "reader", scope, `reads cluster ${cluster.name} and the role assignments on it`);
    add("read", "Azure Kubernetes Service Cluster User Role", scope, `fetches the user kubeconfig of ${cluster.name} (listClusterUserCredential, not in Reader)`);
    if (cluster.namespaces.length > 0) {
      add("write", "namespace-creator", scope, `creates the stack's namespaces on ${cluster.name} (namespace creation is cluster-scoped)`);
      for (const ns of cluster.namespaces) {
        const namespace = `${scope}/namespaces/${ns.name}`;
        add("write", "namespace-manager", namespace, `manages namespace ${ns.name}: its quota, limit range and network policies, and its deletion`);
        // Per namespace, never the cluster: other teams' objects on a shared cluster stay unread. The
        // namespace object itself is covered too: Kubernetes gives `GET /api/v1/namespaces/<ns>` the
        // namespace attribute <ns> (k8s.io/apiserver pkg/endpoints/request/requestinfo.go), which the AKS
        // authorization webhook checks against assignments at `<cluster>/namespaces/<ns>`.
        add("read", "Azure Kubernetes Service RBAC Reader", namespace, `refreshes namespace ${ns.name} and its quota, limit range and network policies`);
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
    add("write", "Role Based Access Control Administrator", scope, `${reasons.join("; ")}; conditioned to ${allowed} for service principals`, roleAssignmentCondition([...names.map((r) => AZURE_BUILT_IN_ROLES[r].id), ...custom]));
  }
  return grants;
}

/**
 * A stack's own state container and secrets key: its writer writes state, its reader reads it, and
 * both decrypt with its key only. No identity reaches another stack's state or key.
 */
function stateGrants(stack: string, pipeline: PipelineSection, state: { container: string; key: string }): AzureGrant[] {
  const container = containerScope(pipeline.backend, state.container);
  const key = keyScope(pipeline.secretsProvider, state.key);
  const grant = (access: Access, role: AzureGrant["role"], scope: string, reason: string): AzureGrant => ({ cloud: "azure", stack, environment: environmentOf(stack, access), access, role, scope, reason });
  return [
    grant("write", "Storage Blob Data Contributor", container, `writes the stack's state, history and lock in container ${state.container}`),
    grant("read", "Storage Blob Data Reader", container, `reads the stack's state in container ${state.container} (a preview takes no lock)`),
    grant("write", "secrets-decrypter", key, `decrypts the stack's data key with key ${state.key}`),
    grant("read", "secrets-decrypter", key, `decrypts the stack's data key with key ${state.key}`),
  ];
}

function gcpGrants(stack: DeployStack): GcpGrant[] {
  const cdn = stack.config.cdn;
  if (!cdn) return [];
  const grants: GcpGrant[] = [];
  const add = (access: Access, role: GcpRole, reason: string, condition?: GcpGrant["condition"]) =>
    grants.push({ cloud: "gcp", stack: stack.stack, environment: environmentOf(stack.stack, access), access, role, project: cdn.project, reason, ...(condition ? { condition } : {}) });
  const publishers = (stack.config.github?.repositories ?? []).some((r) => r.environments.some((e) => e.access?.cdn === "publish"));
  // No role administration: the pipeline stack defines the CDN's custom roles (gcpCustomRoles), so no
  // writer can widen the invalidation role its conditioned Project IAM Admin may grant.
  add("write", "roles/storage.admin", `creates bucket ${cdn.bucket} and its IAM bindings`);
  add("write", "roles/compute.loadBalancerAdmin", "creates the backend bucket, URL maps, proxies, certificates, address and forwarding rules");
  if (cdn.certificateAuthorization === "dns") {
    add("write", "roles/certificatemanager.owner", "creates, replaces and deletes the DNS authorizations, certificates and certificate map (the editor role cannot delete)");
  }
  if (publishers) {
    add("write", "roles/iam.workloadIdentityPoolAdmin", "creates the stack's workload identity pool and GitHub provider");
    // Not conditioned: IAM conditions support no resource attributes for service accounts
    // (https://cloud.google.com/iam/docs/conditions-resource-attributes lists the services that do,
    // and iam.googleapis.com is not one), so it holds on every account of the CDN project, which
    // therefore may not be the pipeline's project (config/stackSet.ts).
    add("write", "roles/iam.serviceAccountAdmin", "creates the publishers' service accounts and who may impersonate them");
    const role = invalidatorRole(cdn.project, cdn.bucket);
    add("write", "roles/resourcemanager.projectIamAdmin", `grants the publishers ${role} on the project (URL maps have no IAM of their own)`, {
      title: "only the CDN invalidation role",
      expression: grantableRolesCondition([role]),
    });
  }
  add("read", "roles/viewer", "reads the load balancer, pool and service accounts");
  // roles/viewer lists buckets but cannot get one (storage.buckets.get), which every refresh of the bucket does.
  add("read", "roles/storage.bucketViewer", `reads bucket ${cdn.bucket} (storage.buckets.get), not its objects`);
  add("read", "roles/iam.securityReviewer", "reads the IAM policies of the bucket, service accounts and project");
  return grants;
}

/**
 * What the pipeline stack's own drift check reads: every scope the pipeline stack grants on or
 * creates in (its own group, the deploy stacks' groups, the clusters, registries, state
 * containers and keys), with the reader role that pulls no image; its own state and key; and,
 * on GCP, the pipeline's project and the CDN projects. Bound to `pulumi-<pipeline>-read`, which
 * only the default branch may use.
 */
function pipelineReaderGrants(pipelineStack: string, pipeline: PipelineSection, deployGrants: readonly Grant[], gcpProjects: readonly string[]): Grant[] {
  const environment = environmentOf(pipelineStack, "read");
  const base = { stack: pipelineStack, environment, access: "read" as const };
  const scopes = [
    rgScope(pipeline.azure.resourceGroup),
    ...deployGrants.flatMap((g) => (g.cloud === "azure" ? [g.scope.replace(/\/namespaces\/[^/]+$/, "")] : [])),
  ];
  const unique = [...new Set(scopes)].sort();
  // A scope inside another of the list is read through it.
  const outermost = unique.filter((scope) => !unique.some((other) => other !== scope && scope.toLowerCase().startsWith(`${other.toLowerCase()}/`)));
  return [
    ...outermost.map((scope): AzureGrant => ({ cloud: "azure", ...base, role: "reader", scope, reason: "reads what the pipeline stack manages and grants on, for its drift check" })),
    { cloud: "azure", ...base, role: "Storage Blob Data Reader", scope: containerScope(pipeline.backend, pipeline.backend.container), reason: "reads the pipeline stack's state" },
    { cloud: "azure", ...base, role: "secrets-decrypter", scope: keyScope(pipeline.secretsProvider, pipeline.secretsProvider.key), reason: "decrypts the pipeline stack's data key" },
    ...(pipeline.gcp && gcpProjects.length > 0 ? [pipeline.gcp.project, ...gcpProjects] : []).flatMap((project): GcpGrant[] => [
      { cloud: "gcp", ...base, role: "roles/viewer", project, reason: "reads the APIs, pool, service accounts and custom roles" },
      { cloud: "gcp", ...base, role: "roles/iam.securityReviewer", project, reason: "reads the project's and service accounts' IAM policies" },
    ]),
  ];
}

/** Everything the pipeline stack (named `pipelineStack`) creates for `stacks`, derived from their configs. */
export function derivePipeline(stacks: readonly DeployStack[], pipeline: PipelineSection, pipelineStack: string): PipelinePlan {
  const pipelineGroups = new Set(stacks.flatMap((s) => (s.config.azure ? [s.config.azure.resourceGroup.toLowerCase()] : [])));
  const stackState = stacks.map((s) => ({ stack: s.stack, container: stateContainerName(pipeline.backend, s.stack), key: secretsKeyName(pipeline.secretsProvider, s.stack) }));
  const deployGrants: Grant[] = stacks.flatMap((s, i) => [...azureGrants(s, pipelineGroups), ...stateGrants(s.stack, pipeline, stackState[i]), ...gcpGrants(s)]);
  const gcpProjects = [...new Set(stacks.flatMap((s) => (s.config.cdn ? [s.config.cdn.project] : [])))];
  // The preview environment has an identity of its own with the reader's rights: one identity per
  // environment, so each is trusted by one subject and revoked on its own.
  const previews = deployGrants.flatMap((g) => (g.access === "read" ? [{ ...g, environment: previewEnvironmentOf(g.stack) }] : []));
  const grants = [...deployGrants, ...previews, ...pipelineReaderGrants(pipelineStack, pipeline, deployGrants, gcpProjects)];
  const customRoles = (Object.keys(CUSTOM_ROLES) as CustomRoleKey[]).flatMap((key) => {
    // Custom roles are assignable at resource groups (not resources): the groups of the scopes they are granted on.
    const scopes = [...new Set(grants.filter((g): g is AzureGrant => g.cloud === "azure" && g.role === key).map((g) => g.scope.replace(/\/providers\/.*$/, "")))].sort();
    return scopes.length > 0 ? [{ key, assignableScopes: scopes }] : [];
  });
  const dnsProjects = new Set(stacks.flatMap((s) => (s.config.cdn?.certificateAuthorization === "dns" ? [s.config.cdn.project] : [])));
  const servicesOf = (project: string) => [...GCP_SERVICES, ...(dnsProjects.has(project) ? [CERTIFICATE_MANAGER_SERVICE] : [])].map((service) => ({ project, service }));
  // The pipeline's project differs from every CDN project (config/stackSet.ts).
  const gcpServices = [...gcpProjects, ...(pipeline.gcp && gcpProjects.length > 0 ? [pipeline.gcp.project] : [])].flatMap(servicesOf);
  return {
    grants,
    resourceGroups: stacks.flatMap((s) => (s.config.azure ? [{ stack: s.stack, name: s.config.azure.resourceGroup, location: s.config.azure.location, tags: s.config.tags }] : [])),
    customRoles,
    gcpServices,
    stackState,
    namespaceDeployerRoles: stacks.flatMap((s) => {
      const azure = s.config.azure;
      const deployedClusters = new Set((s.config.github?.repositories ?? []).flatMap((r) => r.environments.flatMap((e) => (e.access?.namespaces ?? []).map((n) => n.cluster))));
      return azure ? azure.clusters.filter((c) => deployedClusters.has(c.name)).map((c) => ({ stack: s.stack, cluster: { name: c.name, resourceGroup: c.resourceGroup }, ownerResourceGroup: azure.resourceGroup })) : [];
    }),
    cdnCustomRoles: stacks.flatMap((s) => (s.config.cdn ? [{ stack: s.stack, project: s.config.cdn.project, bucket: s.config.cdn.bucket }] : [])),
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
export function githubAppPermissions(stacks: readonly DeployStack[], owner: string, pipeline: PipelineSection) {
  const repositories = [...new Set(stacks.flatMap((s) => (s.config.github?.repositories ?? []).map((r) => `${s.config.github?.owner ?? owner}/${r.name}`)))].sort();
  const repository = (level: "read" | "write") => ({ administration: level, environments: level, secrets: level, variables: level, actions: "read", metadata: "read" });
  return {
    // Never this repository: its pulumi-* environments and rulesets are the pipeline stack's, applied
    // by an administrator; a writer key installed here could remove prod's reviewers.
    writer: { installOn: repositories, repository: repository("write"), organization: { members: "read" } },
    // Also this repository: the pipeline stack's drift check reads its environments and rulesets.
    reader: { installOn: [...new Set([...repositories, `${owner}/${pipeline.repository.name}`])].sort(), repository: repository("read"), organization: { members: "read" } },
  };
}
