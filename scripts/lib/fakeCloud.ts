/**
 * The fake cloud: what the data sources and the clouds answer when no cloud is reachable. One
 * source for the offline plan's mock runtime (scripts/mocks.ts) and for the stand-in provider
 * plugins and loopback servers of the engine runs (scripts/engine/), so both see the same world.
 */
import { createHash } from "crypto";

export const SUBSCRIPTION_ID = "<subscription-id>";
export const TENANT_ID = "<tenant-id>";

/** A placeholder number for `parts`, recorded under `label` ("<id of team release-managers>"). */
export type Label = (label: string, ...parts: string[]) => number;
/** A built-in placeholder answer; it names its placeholder numbers through `label`. */
export type Placeholder = (inputs: Record<string, unknown>, label: Label) => Record<string, unknown>;

/** What the fake world looks like for one stack. */
export interface FakeWorld {
  /**
   * What the GitHub data sources answer per repository (name in lower case): the id getRepository
   * returns (default a placeholder number) and the team slugs getRepositoryTeams lists (default none).
   */
  repositories?: Record<string, { id?: number; teams?: string[] }>;
  /**
   * Registries and resource groups the stack creates (by name, lower case): ARM answers 404 for
   * them, as for objects that do not exist yet; every other registry (existing, a promotion source)
   * is found in the legacy role-assignment mode. Default: none, so every registry is found.
   */
  creates?: { registries?: string[]; resourceGroups?: string[] };
  /** The API server URL a cluster's kubeconfig names (default: AKS's form, unreachable). */
  kubeServer?: (cluster: string) => string;
}

/** A deterministic number for a placeholder id, from the arguments that identify the object. */
export function placeholderNumber(...parts: string[]): number {
  const digest = createHash("sha256").update(parts.join("\u0000")).digest();
  return 10_000_000 + (digest.readUInt32BE(0) % 90_000_000);
}

function str(value: unknown, fallback: string): string {
  return typeof value === "string" && value !== "" ? value : fallback;
}

function kubeconfig(cluster: string, resourceGroup: string, server: string): string {
  // The shape AKS returns for an Entra ID cluster in exec format (kubelogin, device code).
  return [
    "apiVersion: v1",
    "kind: Config",
    `clusters:\n- cluster:\n    certificate-authority-data: PLACEHOLDER\n    server: ${server}\n  name: ${cluster}`,
    `contexts:\n- context:\n    cluster: ${cluster}\n    user: clusterUser_${resourceGroup}_${cluster}\n  name: ${cluster}`,
    `current-context: ${cluster}`,
    "users:",
    `- name: clusterUser_${resourceGroup}_${cluster}`,
    "  user:",
    "    exec:",
    "      apiVersion: client.authentication.k8s.io/v1beta1",
    "      command: kubelogin",
    "      args: [get-token, --login, devicecode, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630, --client-id, 80faf920-1908-4b52-b5ef-a8e7bedfc67a, --tenant-id, placeholder-tenant, --environment, AzurePublicCloud]",
    "",
  ].join("\n");
}

const rgId = (rg: unknown) => `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${str(rg, "<resource-group>")}`;

/** Placeholders of the GitHub data sources that answer per repository, from `FakeWorld.repositories`. */
function repositoryPlaceholders(repositories: NonNullable<FakeWorld["repositories"]>): Record<string, Placeholder> {
  const known = (name: string) => repositories[name.toLowerCase()] ?? {};
  return {
    // The config's spelling stands offline: the answer repeats the names asked for.
    "github:index/getRepository:getRepository": (a, label) => {
      const fullName = str(a.fullName, str(a.name, "<repository>"));
      const name = fullName.split("/").pop() ?? fullName;
      return { id: name, repoId: known(name).id ?? label(`<id of repository ${fullName}>`, "repository", fullName), nodeId: `<node id of ${fullName}>`, name, fullName };
    },
    "github:index/getRepositoryTeams:getRepositoryTeams": (a) => {
      const name = str(a.name, str(a.fullName, "<repository>").split("/").pop() ?? "");
      return { id: name, name, fullName: str(a.fullName, name), teams: (known(name).teams ?? []).map((slug) => ({ slug, name: slug, permission: "pull" })) };
    },
  };
}

/**
 * Pseudo-token of a plain Azure Resource Manager GET the program sends itself (with the token of
 * getClientToken) for what azure-native cannot read; recorded and answered like a data source, with
 * inputs `{ path, apiVersion }` and a list's `filter`. An answer `{ error: { code } }` is an ARM error (ResourceNotFound: 404).
 */
export const ARM_GET = "azure-rest:GET";

/** AKS's API server address form; offline nothing answers there. */
const aksServer = (cluster: string) => `https://${cluster}-dns.hcp.placeholder.azmk8s.io:443`;

/** Placeholder answers of the data sources the program calls, keyed by function token. */
const placeholders = (kubeServer: (cluster: string) => string): Record<string, Placeholder> => ({
  "azure-native:authorization:getClientToken": () => ({ token: "<arm-token>" }),
  "github:index/getRepositoryEnvironments:getRepositoryEnvironments": (a) => ({ id: str(a.repository, ""), repository: a.repository, environments: [] }),
  "github:index/getActionsVariables:getActionsVariables": (a) => ({ id: str(a.name, ""), name: a.name, fullName: a.name, variables: [] }),
  "github:index/getActionsEnvironmentVariables:getActionsEnvironmentVariables": (a) => ({ id: str(a.name, ""), name: a.name, fullName: a.name, environment: a.environment, variables: [] }),
  "github:index/getActionsSecrets:getActionsSecrets": (a) => ({ id: str(a.name, ""), name: a.name, fullName: a.name, secrets: [] }),
  "github:index/getActionsEnvironmentSecrets:getActionsEnvironmentSecrets": (a) => ({ id: str(a.name, ""), name: a.name, fullName: a.name, environment: a.environment, secrets: [] }),
  // Lists answer empty: offline, nothing the stack would create exists yet.
  "github:index/getRestApi:getRestApi": (a) => {
    const endpoint = str(a.endpoint, "");
    const body = /\/deployment-branch-policies(\?|$)/.test(endpoint) ? { total_count: 0, branch_policies: [] } : [];
    return { id: "<request id>", endpoint, code: 200, status: "200 OK", headers: "{}", body: JSON.stringify(body) };
  },
  // A failed invoke reaches the program as new Error(err.details) (@pulumi/pulumi runtime/invoke.js),
  // so the engine's message travels in `details`, as it does from a real provider.
  "gcp:storage/getBucket:getBucket": () => {
    const message = "googleapi: Error 404: The specified bucket does not exist., notFound";
    throw Object.assign(new Error(message), { details: message });
  },
  "azure-native:authorization:getClientConfig": () => ({
    clientId: "<deployer-client-id>",
    objectId: "<deployer-object-id>",
    subscriptionId: SUBSCRIPTION_ID,
    tenantId: TENANT_ID,
  }),
  "azure-native:containerregistry:getRegistry": (a) => ({
    id: `${rgId(a.resourceGroupName)}/providers/Microsoft.ContainerRegistry/registries/${str(a.registryName, "<registry>")}`,
    name: a.registryName,
    loginServer: `${str(a.registryName, "<registry>")}.azurecr.io`,
    location: "<location>",
    sku: { name: "<sku>" },
  }),
  "azure-native:containerservice:getManagedCluster": (a) => {
    const name = str(a.resourceName, "<cluster>");
    return {
      id: `${rgId(a.resourceGroupName)}/providers/Microsoft.ContainerService/managedClusters/${name}`,
      name,
      location: "<location>",
      identityProfile: {
        kubeletidentity: {
          clientId: `<kubelet-client-id of ${name}>`,
          objectId: `<kubelet-object-id of ${name}>`,
          resourceId: `${rgId(`MC_${str(a.resourceGroupName, "")}_${name}`)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}-agentpool`,
        },
      },
      // Unknown offline; a real preview reads the cluster's network policy engine.
      networkProfile: { networkPolicy: `<network policy of ${name}>` },
      aadProfile: { managed: true, enableAzureRBAC: true },
      enableRBAC: true,
    };
  },
  "azure-native:containerservice:listManagedClusterUserCredentials": (a) => ({
    kubeconfigs: [
      {
        name: "clusterUser",
        value: Buffer.from(kubeconfig(str(a.resourceName, "<cluster>"), str(a.resourceGroupName, "<resource-group>"), kubeServer(str(a.resourceName, "<cluster>")))).toString("base64"),
      },
    ],
  }),
  "github:index/getUser:getUser": (a, label) => ({
    id: String(label(`<id of user ${str(a.username, "")}>`, "user", str(a.username, ""))),
    nodeId: `<node id of user ${str(a.username, "")}>`,
    login: a.username,
    username: a.username,
  }),
  "github:index/getOrganization:getOrganization": (a, label) => ({
    id: String(label(`<id of organization ${str(a.name, "")}>`, "organization", str(a.name, ""))),
    orgId: String(label(`<id of organization ${str(a.name, "")}>`, "organization", str(a.name, ""))),
    login: a.name,
    name: a.name,
  }),
  "github:index/getTeam:getTeam": (a, label) => ({
    id: String(label(`<id of team ${str(a.slug, "")}>`, "team", str(a.slug, ""))),
    nodeId: `<node id of team ${str(a.slug, "")}>`,
    slug: a.slug,
    name: a.slug,
  }),
  "github:index/getActionsRepositoryOidcSubjectClaimCustomizationTemplate:getActionsRepositoryOidcSubjectClaimCustomizationTemplate": (a) => ({
    id: a.name,
    name: a.name,
    useDefault: true,
    includeClaimKeys: [],
  }),
  "gcp:organizations/getProject:getProject": (a, label) => ({
    projectId: a.projectId,
    number: String(label(`<number of project ${str(a.projectId, "")}>`, "project", str(a.projectId, ""))),
    name: a.projectId,
  }),
});

/** Outputs a cloud computes, for non-preview tests; a preview leaves them unknown as `pulumi preview` does. */
export function computedOutputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const project = str(inputs.project, "<project>");
  switch (type) {
    case "azure-native:resources:ResourceGroup":
      return { id: rgId(inputs.resourceGroupName), name: inputs.resourceGroupName };
    case "azure-native:containerregistry:Registry":
      return {
        id: `${rgId(inputs.resourceGroupName)}/providers/Microsoft.ContainerRegistry/registries/${str(inputs.registryName, name)}`,
        name: inputs.registryName,
        loginServer: `${str(inputs.registryName, name)}.azurecr.io`,
      };
    case "azure-native:managedidentity:UserAssignedIdentity": {
      const identity = str(inputs.resourceName, name);
      return {
        id: `${rgId(inputs.resourceGroupName)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${identity}`,
        name: identity,
        clientId: `<client-id of ${identity}>`,
        principalId: `<principal-id of ${identity}>`,
        tenantId: TENANT_ID,
      };
    }
    case "azure-native:authorization:RoleAssignment":
      return { id: `${str(inputs.scope, "")}/providers/Microsoft.Authorization/roleAssignments/${str(inputs.roleAssignmentName, name)}` };
    case "gcp:storage/bucket:Bucket":
      return { name: inputs.name, url: `gs://${str(inputs.name, name)}`, selfLink: `https://www.googleapis.com/storage/v1/b/${str(inputs.name, name)}` };
    case "gcp:compute/backendBucket:BackendBucket":
    case "gcp:compute/uRLMap:URLMap":
    case "gcp:compute/targetHttpsProxy:TargetHttpsProxy":
    case "gcp:compute/targetHttpProxy:TargetHttpProxy":
    case "gcp:compute/managedSslCertificate:ManagedSslCertificate":
    case "gcp:compute/sSLPolicy:SSLPolicy": {
      const kind = type.split(":").pop() ?? "";
      const collection = { BackendBucket: "backendBuckets", URLMap: "urlMaps", TargetHttpsProxy: "targetHttpsProxies", TargetHttpProxy: "targetHttpProxies", ManagedSslCertificate: "sslCertificates", SSLPolicy: "sslPolicies" }[kind];
      const resourceName = str(inputs.name, name);
      return { name: resourceName, selfLink: `https://www.googleapis.com/compute/v1/projects/${project}/global/${collection}/${resourceName}` };
    }
    case "gcp:certificatemanager/dnsAuthorization:DnsAuthorization": {
      const domain = str(inputs.domain, "<domain>");
      return {
        id: `projects/${project}/locations/global/dnsAuthorizations/${str(inputs.name, name)}`,
        // The record Certificate Manager asks for: a CNAME under _acme-challenge (its data is Google's to choose).
        dnsResourceRecords: [{ name: `_acme-challenge.${domain}.`, type: "CNAME", data: `<authorization of ${domain}>.authorize.certificatemanager.goog.` }],
      };
    }
    case "gcp:certificatemanager/certificate:Certificate":
      return { id: `projects/${project}/locations/global/certificates/${str(inputs.name, name)}` };
    case "gcp:certificatemanager/certificateMap:CertificateMap":
      return { id: `projects/${project}/locations/global/certificateMaps/${str(inputs.name, name)}`, name: inputs.name };
    case "gcp:compute/globalAddress:GlobalAddress":
      return { name: str(inputs.name, name), address: "203.0.113.10" };
    case "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
      return { name: `projects/${placeholderNumber("project", project)}/locations/global/workloadIdentityPools/${str(inputs.workloadIdentityPoolId, name)}` };
    case "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
      return {
        name: `projects/${placeholderNumber("project", project)}/locations/global/workloadIdentityPools/${str(inputs.workloadIdentityPoolId, "<pool>")}/providers/${str(inputs.workloadIdentityPoolProviderId, name)}`,
      };
    case "gcp:serviceaccount/account:Account": {
      const email = `${str(inputs.accountId, name)}@${project}.iam.gserviceaccount.com`;
      return { email, name: `projects/${project}/serviceAccounts/${email}`, member: `serviceAccount:${email}` };
    }
    case "gcp:projects/iAMCustomRole:IAMCustomRole":
      return { name: `projects/${project}/roles/${str(inputs.roleId, name)}` };
    default:
      return {};
  }
}

/**
 * ARM answers: registries in the legacy role-assignment mode, the one AcrPull and AcrPush apply in,
 * and resource groups; those the stack creates are not found yet (404).
 */
function armPlaceholder(creates: NonNullable<FakeWorld["creates"]>): Placeholder {
  const registries = new Set((creates.registries ?? []).map((r) => r.toLowerCase()));
  const groups = new Set((creates.resourceGroups ?? []).map((g) => g.toLowerCase()));
  const notFound = (code: string) => ({ error: { code, message: "not found (offline plan: the stack creates it)" } });
  return (a) => {
    const path = str(a.path, "");
    // Offline nothing was assigned by hand: role assignment lists are empty.
    if (/\/providers\/Microsoft\.Authorization\/roleAssignments$/i.test(path)) return { value: [] };
    const registry = /\/providers\/Microsoft\.ContainerRegistry\/registries\/([^/]+)$/i.exec(path)?.[1];
    if (registry !== undefined) {
      if (registries.has(registry.toLowerCase())) return notFound("ResourceNotFound");
      return { id: path, name: registry, properties: { roleAssignmentMode: "LegacyRegistryPermissions" } };
    }
    const group = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)$/i.exec(path)?.[1];
    if (group !== undefined) return groups.has(group.toLowerCase()) ? notFound("ResourceGroupNotFound") : { id: path, name: group };
    throw new Error(`the offline plan has no placeholder for GET ${path}; add one to scripts/lib/fakeCloud.ts`);
  };
}

/** Every answer of the fake world, keyed by data source token (and ARM_GET for the program's ARM reads). */
export function fakeAnswers(world: FakeWorld): Record<string, Placeholder> {
  return {
    ...placeholders(world.kubeServer ?? aksServer),
    ...repositoryPlaceholders(world.repositories ?? {}),
    [ARM_GET]: armPlaceholder(world.creates ?? {}),
  };
}

/** An ARM_GET answer as ARM sends it: `{ error: { code } }` is an error (a code ending in NotFound: 404). */
export function armResponse(body: Record<string, unknown>): { status: number; body: string } {
  const code = typeof body.error === "object" && body.error !== null && "code" in body.error ? String(body.error.code) : undefined;
  return { status: code === undefined ? 200 : /NotFound$/.test(code) ? 404 : 400, body: JSON.stringify(body) };
}

/** An ARM request URL as the inputs of its ARM_GET answer: `{ path, apiVersion }` and a list's `filter`. */
export function armRequest(url: URL): Record<string, string> {
  const filter = url.searchParams.get("$filter");
  return { path: decodeURIComponent(url.pathname), apiVersion: url.searchParams.get("api-version") ?? "", ...(filter === null ? {} : { filter }) };
}
