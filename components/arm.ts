/**
 * Plain Azure Resource Manager reads, with the token of `authorization.getClientTokenOutput`, for
 * what azure-native cannot answer: a 404 is an answer here, where an azure-native invoke fails.
 */

export const PUBLIC_ARM_ENDPOINT = "https://management.azure.com";

/**
 * ARM's endpoint per value of azure-native's `environment` setting ("public, usgovernment, and
 * china. Defaults to public", @pulumi/azure-native provider.d.ts and config/vars.d.ts); the
 * endpoints are Azure's own (azure-sdk clouds' resource_manager endpoints).
 */
export const ARM_ENDPOINTS = {
  public: PUBLIC_ARM_ENDPOINT,
  usgovernment: "https://management.usgovcloudapi.net",
  china: "https://management.chinacloudapi.cn",
} as const;
export type AzureEnvironment = keyof typeof ARM_ENDPOINTS;

/** The Azure cloud the azure-native provider talks to: its `environment` and `metadataHost` settings. */
export interface AzureCloud {
  environment?: AzureEnvironment;
  /** Host (and port) of an Azure metadata service; the provider's `metadataHost`, or ARM_METADATA_HOSTNAME. */
  metadataHost?: string;
}

/** Metadata endpoints version the azure-native provider's SDK (hashicorp/go-azure-sdk, environments.FromEndpoint) reads. */
const METADATA_API_VERSION = "2022-09-01";

/**
 * The ARM endpoint of `cloud`, as azure-native resolves it: a metadata host, when set, wins over
 * `environment` ("Not used when metadataHost is specified or when ARM_METADATA_HOSTNAME is set",
 * provider.d.ts), and names ARM in its `resourceManager` entry.
 */
export async function armEndpoint(cloud: AzureCloud): Promise<string> {
  if (!cloud.metadataHost) return ARM_ENDPOINTS[cloud.environment ?? "public"];
  const url = `https://${cloud.metadataHost}/metadata/endpoints?api-version=${METADATA_API_VERSION}`;
  const response = await fetch(url);
  const body: unknown = response.ok ? await response.json() : undefined;
  const resourceManager = typeof body === "object" && body !== null && "resourceManager" in body ? body.resourceManager : undefined;
  if (typeof resourceManager !== "string" || resourceManager === "") {
    throw new Error(`the Azure metadata host ${cloud.metadataHost} named no resourceManager endpoint (GET ${url} answered HTTP ${response.status})`);
  }
  return resourceManager.replace(/\/+$/, "");
}
/** Resource Groups - Get (https://learn.microsoft.com/rest/api/resources/resource-groups/get). */
const RESOURCE_GROUP_API_VERSION = "2021-04-01";

/** GET `url`: the JSON object ARM answers, or undefined for 404. Throws on any other error, with ARM's error. */
async function armRequest(url: string, path: string, token: string): Promise<Record<string, unknown> | undefined> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (response.status === 404) return undefined;
  const body: unknown = await response.json();
  if (!response.ok) {
    const error = typeof body === "object" && body !== null && "error" in body ? JSON.stringify(body.error) : `HTTP ${response.status}`;
    throw new Error(`reading ${path} from Azure Resource Manager failed: ${error}`);
  }
  return typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
}

/** The resource at `path` (an ARM id), or undefined when ARM answers 404. Throws on any other error. */
export async function armGet(endpoint: string, path: string, apiVersion: string, token: string): Promise<Record<string, unknown> | undefined> {
  return armRequest(`${endpoint}${path}?api-version=${apiVersion}`, path, token);
}

/** The items of the ARM list at `path` with an OData `$filter`, following nextLink pages; empty when ARM answers 404. */
export async function armList(endpoint: string, path: string, apiVersion: string, token: string, filter: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let url: string | undefined = `${endpoint}${path}?api-version=${apiVersion}&$filter=${encodeURIComponent(filter)}`;
  while (url !== undefined) {
    const body: Record<string, unknown> | undefined = await armRequest(url, path, token);
    const value = body?.value;
    if (Array.isArray(value)) {
      for (const item of value) if (typeof item === "object" && item !== null) items.push(item as Record<string, unknown>);
    }
    url = typeof body?.nextLink === "string" ? body.nextLink : undefined;
  }
  return items;
}

/** Whether the resource group with this id exists (azure-native refuses to create one that does). */
export async function resourceGroupExists(endpoint: string, groupId: string, token: string): Promise<boolean> {
  return (await armGet(endpoint, groupId, RESOURCE_GROUP_API_VERSION, token)) !== undefined;
}
