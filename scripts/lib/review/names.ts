/**
 * Names for what the plan shows as ids: Azure role definition GUIDs, ruleset bypass actors, ARM
 * resource ids. Role names come from the role catalogue the components assign from
 * (components/roleCatalogue.ts), so the table cannot drift from what the program grants.
 */
import { REPOSITORY_ADMIN_ROLE_ID } from "../../../components/repositoryGovernance";
import { AZURE_ROLE_NAMES } from "../../../components/roleCatalogue";

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
  const container = after("containers");
  if (container && after("storageAccounts")) return `blob container ${container} of storage account ${after("storageAccounts")}`;
  const key = after("keys");
  if (key && after("vaults")) return `key ${key} of vault ${after("vaults")}`;
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
