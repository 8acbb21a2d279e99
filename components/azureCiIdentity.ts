import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import { GITHUB_ISSUER } from "./githubOidc";
import { azureName } from "./names";

/** The audience `azure/login` requests. */
export const AZURE_AUDIENCE = "api://AzureADTokenExchange";
/** Entra ID allows at most 20 federated credentials per identity. */
const MAX_CREDENTIALS = 20;

export interface AzureCiIdentityArgs {
  /** GitHub organisation or user that owns the repository (`github:owner`). */
  owner: string;
  /** Repository name, without the owner. */
  repository: string;
  /** GitHub environment whose jobs may use the identity. */
  environment: string;
  /** The exact subjects to trust, e.g. `repo:OWNER/REPO:environment:ENV` (githubOidc.ts); no wildcards exist. */
  subjects: string[];
  /** Checks that GitHub sends these subjects (spelling, subject template); every credential waits for them, so a failed check creates none. */
  trustAfter?: pulumi.Input<unknown>[];
  /** Resource group the identity is created in. */
  resourceGroupName: pulumi.Input<string>;
  /** Azure region of the identity. */
  location: pulumi.Input<string>;
  /** Tags on the identity. */
  tags: Record<string, string>;
  /** The component's name before names came from the lower-cased identity (`ci-<repo>-<env>` as written), so existing stacks keep their credentials. */
  previousName?: string;
}

/**
 * The Azure half of a CI identity: a user-assigned managed identity that exactly one GitHub
 * repository environment may use through OIDC (no secrets), via one federated credential per
 * trusted subject: `repo:OWNER/REPO:environment:ENV`, GitHub's immutable
 * `repo:OWNER@OWNER_ID/REPO@REPO_ID:environment:ENV`, or both while a repository switches over.
 * Entra ID matches the subject case-sensitively (AADSTS7002138 otherwise), so the caller passes
 * the names as GitHub spells them.
 */
export class AzureCiIdentity extends pulumi.ComponentResource {
  /** Client id for `azure/login`; resolves only once every federated credential exists. */
  public readonly clientId: pulumi.Output<string>;
  /** Object id, for role assignments. */
  public readonly principalId: pulumi.Output<string>;
  public readonly tenantId: pulumi.Output<string>;
  /** Subscription the identity lives in (the deployment's). */
  public readonly subscriptionId: pulumi.Output<string>;
  /** ARM id of the identity. */
  public readonly identityId: pulumi.Output<string>;
  /** The exact subjects the identity trusts. */
  public readonly subjects: string[];

  constructor(name: string, args: AzureCiIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    // Azure rejects a second credential with the same issuer and subject.
    const subjects = [...new Set(args.subjects)];
    // Checked before anything is registered, so a bad call leaves nothing half-built.
    if (subjects.length === 0) throw new Error(`${name}: no subject to trust`);
    if (subjects.length > MAX_CREDENTIALS) {
      throw new Error(`${name}: ${subjects.length} federated credentials requested; Entra ID allows at most ${MAX_CREDENTIALS} per identity`);
    }
    // The checks are not inputs of the component: one that fails would fail its registration and leave its children waiting.
    const { trustAfter: _checks, previousName, ...inputs } = args;
    super("release-infra:azure:CiIdentity", name, inputs, opts);
    this.subjects = subjects;

    // UAMI names: 3-128 characters; one identity per repository environment in the stack's resource group.
    // From the lower-cased identity, as GitHub compares repository and environment names
    // case-insensitively; an identity made under another spelling keeps its name (and its client id):
    // a new name would replace it.
    const identityName = azureName(`id-${args.repository}-${args.environment}`.toLowerCase(), 128);
    const identity = new managedidentity.UserAssignedIdentity(
      `${name}-identity`,
      { resourceName: identityName, resourceGroupName: args.resourceGroupName, location: args.location, tags: args.tags },
      { parent: this, ignoreChanges: ["resourceName"] },
    );

    // One after another: concurrent credential writes on one identity fail with 409.
    const credentials: managedidentity.FederatedIdentityCredential[] = [];
    for (const subject of this.subjects) {
      // Named from the lower-cased subject like the identity; the subject itself keeps GitHub's case (Entra ID compares it exactly).
      const credentialName = azureName(subject.toLowerCase(), 120);
      const previous = credentials.at(-1);
      const before = previousName === undefined ? [] : [{ name: `${previousName}-${azureName(subject, 120)}` }];
      credentials.push(
        new managedidentity.FederatedIdentityCredential(
          `${name}-${credentialName}`,
          {
            federatedIdentityCredentialResourceName: credentialName,
            // The name, not identity.name: known in a preview, so the plan shows which identity it trusts.
            resourceName: identityName,
            resourceGroupName: args.resourceGroupName,
            issuer: GITHUB_ISSUER,
            audiences: [AZURE_AUDIENCE],
            subject: pulumi.all([subject, pulumi.all(args.trustAfter ?? [])]).apply(([s]) => s),
          },
          {
            parent: this,
            dependsOn: previous ? [identity, previous] : [identity],
            aliases: before,
            // Made under another spelling, a credential and the identity it belongs to keep their names (identity above).
            ignoreChanges: ["federatedIdentityCredentialResourceName", "resourceName"],
          },
        ),
      );
    }

    // Through the checks as well: when one fails, dependents fail with it instead of waiting for credentials that never come.
    this.clientId = pulumi.all([identity.clientId, pulumi.all(args.trustAfter ?? []), pulumi.all(credentials.map((c) => c.id))]).apply(([clientId]) => clientId);
    this.principalId = identity.principalId;
    this.tenantId = identity.tenantId;
    this.identityId = identity.id;
    this.subscriptionId = authorization.getClientConfigOutput({ parent: this }).subscriptionId;

    this.registerOutputs({
      clientId: this.clientId,
      principalId: this.principalId,
      tenantId: this.tenantId,
      subscriptionId: this.subscriptionId,
      identityId: this.identityId,
      subjects: this.subjects,
    });
  }
}
