/**
 * The one table of the cloud roles this program assigns or names: per role its id, its name as
 * the cloud lists it, and what it allows. The components assign from it, the plan's review names
 * roles from it, and the pipeline's grants are derived from it.
 *
 * Azure built-in role ids and permissions: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
 * (general, containers, storage, security pages). GCP predefined roles:
 * https://cloud.google.com/iam/docs/understanding-roles.
 */

interface AzureRole {
  /** The role definition GUID, the same in every tenant. */
  id: string;
  /** What it allows, in words, for the access map and the docs. */
  allows: string;
}

/** Azure built-in roles by the name Azure lists them under. */
export const AZURE_BUILT_IN_ROLES = {
  Reader: { id: "acdd72a7-3385-48ef-bd42-f606fba81ae7", allows: "read every resource (*/read), including registries/pull/read of a registry in the legacy permission mode" },
  Contributor: { id: "b24988ac-6180-42a0-ab88-20f7382dd24c", allows: "manage every resource, but not role assignments" },
  Owner: { id: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", allows: "manage every resource and role assignment" },
  "Role Based Access Control Administrator": { id: "f58310d9-a9f6-439a-9e8d-f62e7b41a168", allows: "create and delete role assignments (the program always conditions it)" },
  "Azure Kubernetes Service Cluster User Role": { id: "4abbcc35-e782-43d8-92c5-2d3f1bd2253f", allows: "read the cluster and fetch its user kubeconfig (listClusterUserCredential); nothing inside it" },
  "Azure Kubernetes Service RBAC Reader": { id: "7f6c6a51-bcf8-42ba-9220-52d62157d7db", allows: "read most Kubernetes objects in its scope, not Secrets, Roles or RoleBindings" },
  "Azure Kubernetes Service RBAC Writer": { id: "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb", allows: "read and write most Kubernetes objects in its scope, not Roles or RoleBindings" },
  AcrPull: { id: "7f951dda-4ed3-4680-a7ca-43fe172d538d", allows: "pull images" },
  AcrPush: { id: "8311e382-0749-4cb8-b61a-304f252e45ec", allows: "push and pull images" },
  AcrDelete: { id: "c2f4ef07-c644-48eb-af81-4b1b4947fb11", allows: "delete images" },
  "Container Registry Data Importer and Data Reader": { id: "577a9874-89fd-4f24-9dbd-b5034d0ad23a", allows: "import images into the registry (from any source) and read them" },
  "Container Registry Repository Reader": { id: "b93aa761-3e63-49ed-ac28-beffa264f7ac", allows: "read repositories and pull images (ABAC permission mode)" },
  "Container Registry Repository Writer": { id: "2a1e307c-b015-4ebd-883e-5b7698a07328", allows: "read, push and tag images (ABAC permission mode)" },
  "Container Registry Repository Contributor": { id: "2efddaa5-3f1f-4df3-97df-af3f13818f4c", allows: "read, push, tag and delete images (ABAC permission mode)" },
  "Storage Blob Data Contributor": { id: "ba92f5b4-2d11-453d-a403-e96b0029c9fe", allows: "read, write and delete blobs and their leases" },
  "Storage Blob Data Reader": { id: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", allows: "read and list blobs" },
} as const satisfies Record<string, AzureRole>;
export type AzureBuiltInRole = keyof typeof AZURE_BUILT_IN_ROLES;

/** Built-in role GUID (lower case) -> its name. */
export const AZURE_ROLE_NAMES: ReadonlyMap<string, AzureBuiltInRole> = new Map(
  (Object.keys(AZURE_BUILT_IN_ROLES) as AzureBuiltInRole[]).map((name) => [AZURE_BUILT_IN_ROLES[name].id, name]),
);

/** GCP predefined roles the program grants, and what each allows (https://cloud.google.com/iam/docs/roles-permissions). */
export const GCP_ROLES = {
  "roles/storage.admin": "manage buckets and objects, and their IAM policies",
  "roles/storage.objectAdmin": "manage objects, not buckets",
  "roles/storage.objectCreator": "create objects, never read, overwrite or delete them",
  "roles/storage.bucketViewer": "read bucket metadata (storage.buckets.get, list), not objects or IAM policies",
  "roles/compute.loadBalancerAdmin": "manage load balancers: backend buckets, URL maps, proxies, SSL certificates, addresses, forwarding rules",
  "roles/certificatemanager.owner": "manage Certificate Manager certificates, DNS authorizations and certificate maps, deletion included",
  "roles/iam.workloadIdentityPoolAdmin": "manage workload identity pools and providers",
  "roles/iam.serviceAccountAdmin": "create service accounts and manage their IAM policies",
  "roles/iam.workloadIdentityUser": "impersonate a service account from a federated identity",
  "roles/resourcemanager.projectIamAdmin": "change the project's IAM policy (the program always conditions it)",
  "roles/viewer": "read most resources of the project",
  "roles/iam.securityReviewer": "read IAM policies",
} as const;
export type GcpRole = keyof typeof GCP_ROLES;
