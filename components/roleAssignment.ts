import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";

/**
 * A GUID that is the same on every run for the same parts: role assignment names must be GUIDs,
 * and a random one would create a duplicate assignment on every replacement (AVM uses
 * `guid(scope, principal, role)` the same way). Formatted as a name-based (v5-style) UUID.
 */
export function deterministicGuid(...parts: string[]): string {
  const digest = createHash("sha1").update(parts.join("\n")).digest();
  digest[6] = (digest[6] & 0x0f) | 0x50;
  digest[8] = (digest[8] & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface RoleGrant {
  /** Object (principal) id of the managed identity. */
  principalId: pulumi.Input<string>;
  /** Stable key of the principal (`ci:shop-production`); with scope and role it names the assignment. */
  principalKey: string;
  /** Role definition GUID: built-in, or a custom role of the same subscription. */
  roleId: string;
  /** Resource the role applies to; never a subscription or resource group. */
  scope: pulumi.Input<string>;
  /** The scope as known in a preview, for the assignment name (default: `scope`). */
  nameScope?: pulumi.Input<string>;
  /** The assignment's name (GUID), when it exists already and is adopted; default: derived from scope, principal and role. */
  name?: string;
  subscriptionId: pulumi.Input<string>;
  description?: string;
  /** ABAC condition (version 2.0) limiting what the role allows. */
  condition?: string;
}

/** The assignment's name (a GUID): the adopted one, or derived from scope, principal and role; known in a preview. */
export function roleAssignmentName(grant: RoleGrant): pulumi.Output<string> {
  return pulumi.output(grant.nameScope ?? grant.scope).apply((scope) => grant.name ?? deterministicGuid(scope.toLowerCase(), grant.principalKey, grant.roleId));
}

/** A role assignment to a managed identity, named deterministically from config names. */
export function grantRole(
  name: string,
  grant: RoleGrant,
  opts: { parent: pulumi.Resource; dependsOn?: pulumi.Resource[]; aliases?: pulumi.Input<pulumi.Alias | string>[] },
): authorization.RoleAssignment {
  return new authorization.RoleAssignment(
    name,
    {
      roleAssignmentName: roleAssignmentName(grant),
      principalId: grant.principalId,
      // azure-native defaults principalType to "User"; managed identities are service principals.
      principalType: "ServicePrincipal",
      roleDefinitionId: pulumi.interpolate`/subscriptions/${grant.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${grant.roleId}`,
      scope: grant.scope,
      description: grant.description,
      ...(grant.condition ? { condition: grant.condition, conditionVersion: "2.0" } : {}),
    },
    // The name stays when the principal changes, and Azure cannot repoint an assignment: delete first.
    // The name (a GUID of scope, principal key and role) is not compared: a change of scope, principal
    // or role replaces the assignment anyway, and an assignment named under an earlier spelling of its
    // principal's key (environment names before they were lower-cased) keeps its name and its grant.
    { ...opts, deleteBeforeReplace: true, ignoreChanges: ["roleAssignmentName"] },
  );
}
