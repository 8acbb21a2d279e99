import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import { environmentSubject, GITHUB_ISSUER } from "./githubOidc";
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
  /** Resource group the identity is created in. */
  resourceGroupName: pulumi.Input<string>;
  /** Azure region of the identity. */
  location: pulumi.Input<string>;
  /** Tags on the identity. */
  tags: Record<string, string>;
  /** Further exact subjects to trust (e.g. `repo:OWNER/REPO:ref:refs/heads/main`); no wildcards exist. */
  extraSubjects?: string[];
}

/**
 * The Azure half of a CI identity: a user-assigned managed identity that exactly one GitHub
 * repository environment may use through OIDC (no secrets), via a federated credential whose
 * subject is `repo:OWNER/REPO:environment:ENV`.
 *
 * GitHub "immutable subject claims"
 * (https://docs.github.com/actions/reference/security/oidc#immutable-subject-claims): repositories created or renamed
 * after the cut-over (mid-2026) emit `repo:OWNER@OWNER_ID/REPO@REPO_ID:...` instead. Entra ID matches
 * the subject literally, so such a repository's token fails with AADSTS700213 until its subject is
 * added here (`extraSubjects`); check with
 * `gh api repos/OWNER/REPO/actions/oidc/customization/sub -q .sub_claim_prefix`.
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
    const primary = environmentSubject(args.owner, args.repository, args.environment);
    // Azure rejects a second credential with the same issuer and subject.
    const subjects = [...new Set([primary, ...(args.extraSubjects ?? [])])];
    // Checked before anything is registered, so a bad call leaves nothing half-built.
    if (subjects.length > MAX_CREDENTIALS) {
      throw new Error(`${name}: ${subjects.length} federated credentials requested; Entra ID allows at most ${MAX_CREDENTIALS} per identity`);
    }
    super("release-infra:azure:CiIdentity", name, args, opts);
    this.subjects = subjects;

    // UAMI names: 3-128 characters; one identity per repository environment in the stack's resource group.
    const identityName = azureName(`id-${args.repository}-${args.environment}`, 128);
    const identity = new managedidentity.UserAssignedIdentity(
      `${name}-identity`,
      { resourceName: identityName, resourceGroupName: args.resourceGroupName, location: args.location, tags: args.tags },
      { parent: this },
    );

    // One after another: concurrent credential writes on one identity fail with 409.
    const credentials: managedidentity.FederatedIdentityCredential[] = [];
    for (const subject of this.subjects) {
      const credentialName = azureName(subject, 120);
      const previous = credentials.at(-1);
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
            subject,
          },
          { parent: this, dependsOn: previous ? [identity, previous] : [identity] },
        ),
      );
    }

    this.clientId = pulumi.all([identity.clientId, ...credentials.map((c) => c.id)]).apply(([clientId]) => clientId);
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
