/**
 * Names for what the plan shows as ids: Azure role definition GUIDs, ruleset bypass actors, ARM
 * resource ids. Role names come from the constants the components assign from, so the table
 * cannot drift from what the program grants.
 */
import { AKS_ROLE_NAMES, AKS_ROLES } from "../../../components/aksCluster";
import { REGISTRY_ROLE_NAMES, REGISTRY_ROLES } from "../../../components/containerRegistry";
import { REPOSITORY_ADMIN_ROLE_ID } from "../../../components/repositoryGovernance";

function namesById<K extends string>(ids: Readonly<Record<K, string>>, names: Readonly<Record<K, string>>): [string, string][] {
  return (Object.keys(ids) as K[]).map((key) => [ids[key].toLowerCase(), names[key]]);
}

/** Built-in Azure role definition GUID (lower case) -> role name. */
export const AZURE_ROLE_NAMES: ReadonlyMap<string, string> = new Map([...namesById(REGISTRY_ROLES, REGISTRY_ROLE_NAMES), ...namesById(AKS_ROLES, AKS_ROLE_NAMES)]);

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** The role name of a role definition id (`/subscriptions/.../roleDefinitions/<guid>` or a bare GUID). */
export function azureRoleName(roleDefinitionId: string): string | undefined {
  const guid = /roleDefinitions\/([0-9a-f-]{36})$/i.exec(roleDefinitionId)?.[1] ?? (GUID.test(roleDefinitionId) ? roleDefinitionId : undefined);
  return guid ? AZURE_ROLE_NAMES.get(guid.toLowerCase()) : undefined;
}

/** `text` with every known role GUID followed by its name: `.../577a9874-... (Container Registry Data Importer and Data Reader)`. */
export function annotateRoles(text: string): string {
  return text.replace(new RegExp(GUID.source, "gi"), (guid) => {
    const name = AZURE_ROLE_NAMES.get(guid.toLowerCase());
    return name ? `${guid} (${name})` : guid;
  });
}

/** A ruleset bypass actor in words; GitHub's repository roles are numbered, the program uses only admin. */
export function bypassActorName(actorType: unknown, actorId: unknown): string {
  if (actorType === "RepositoryRole") return actorId === REPOSITORY_ADMIN_ROLE_ID ? "repository admin" : `repository role ${String(actorId)}`;
  if (actorType === "OrganizationAdmin") return "organization admin";
  if (actorType === "DeployKey") return "deploy keys";
  return `${String(actorType)} ${String(actorId ?? "")}`.trim();
}

/** An ARM resource id in words: `registry acmeprodacr`, `namespace shop of cluster acme-prod-aks`. */
export function describeAzureScope(scope: string): string {
  const parts = scope.split("/").filter(Boolean);
  const after = (segment: string) => {
    const i = parts.findIndex((p) => p.toLowerCase() === segment.toLowerCase());
    return i >= 0 ? parts[i + 1] : undefined;
  };
  const registry = after("registries");
  if (registry) return `registry ${registry}`;
  const cluster = after("managedClusters");
  const namespace = after("namespaces");
  if (cluster && namespace) return `namespace ${namespace} of cluster ${cluster}`;
  if (cluster) return `cluster ${cluster}`;
  const group = after("resourceGroups");
  if (group && parts.length <= 4) return `resource group ${group}`;
  if (parts.length === 2 && parts[0].toLowerCase() === "subscriptions") return `subscription ${parts[1]}`;
  return scope;
}

/** The logical name of a URN (its last part). */
export const nameOf = (urn: string): string => urn.split("::").pop() ?? urn;
