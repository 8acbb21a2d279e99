import * as pulumi from "@pulumi/pulumi";
import * as iam from "@pulumi/gcp/iam";
import { gcpName } from "./names";
import { GITHUB_ISSUER } from "./githubOidc";

/** A repository the pool trusts, pinned by its immutable id. */
export interface GcpPoolRepository {
  /** Repository name without the owner, e.g. `navi`. */
  name: string;
  /** GitHub's numeric repository id as a string (`gh api repos/OWNER/REPO --jq .id`); may be unknown until apply. */
  id: pulumi.Input<string>;
}

export interface GcpWorkloadIdentityPoolArgs {
  /** GCP project of the pool (`gcp:project`). */
  project: string;
  /** Pool id, unique per stack in the project (e.g. `github-prod`); cleaned to 4-32 of [a-z0-9-]. */
  poolId: string;
  /** GitHub organisation or user that owns the repositories (`github:owner`). */
  owner: string;
  /** Repositories of `owner` whose workflows may exchange tokens at all: name without the owner, and numeric repository id as a string. */
  repositories: GcpPoolRepository[];
}

/**
 * A Workload Identity pool with a GitHub Actions OIDC provider: GitHub workflows of the listed
 * repositories exchange their OIDC token for Google credentials, no keys anywhere. Trust in a
 * service account is granted per exact subject by `GcpCiIdentity`.
 *
 * A deleted pool's id stays reserved (soft-deleted) for 30 days, so ids are deterministic per
 * stack and a destroyed stack is recreated under the same id only after that window or after
 * `gcloud iam workload-identity-pools undelete`.
 */
export class GcpWorkloadIdentityPool extends pulumi.ComponentResource {
  /** Full pool name `projects/<number>/locations/global/workloadIdentityPools/<id>`, for `principal://` members. */
  public readonly poolName: pulumi.Output<string>;
  /** Full provider name: the `workload_identity_provider` input of google-github-actions/auth. */
  public readonly providerName: pulumi.Output<string>;
  /** The attribute condition every token must satisfy. */
  public readonly attributeCondition: pulumi.Output<string>;

  constructor(name: string, args: GcpWorkloadIdentityPoolArgs, opts?: pulumi.ComponentResourceOptions) {
    super("release-infra:gcp:WorkloadIdentityPool", name, args, opts);

    // Pool ids: 4-32 of [a-z0-9-], and must not start with "gcp-".
    const poolId = gcpName(args.poolId.replace(/^gcp-/, ""), 32);
    const pool = new iam.WorkloadIdentityPool(
      `${name}-pool`,
      {
        project: args.project,
        workloadIdentityPoolId: poolId,
        displayName: `GitHub ${args.owner}`.slice(0, 32),
        description: `GitHub Actions of ${args.owner} (release-infra)`,
      },
      { parent: this },
    );

    // Google rejects a GitHub provider without a condition
    // (https://cloud.google.com/iam/docs/workload-identity-federation-with-deployment-pipelines#conditions),
    // and google-github-actions/auth's README says "Always add an Attribute Condition". Repositories
    // are pinned by their immutable ids (auth's docs/SECURITY_CONSIDERATIONS.md): a deleted and re-registered owner
    // login or repository name gets new ids and matches nothing. The ids come from GitHub, which
    // works for organisation and user owners alike.
    const names = args.repositories.map((r) => JSON.stringify(`${args.owner}/${r.name}`)).join(", ");
    this.attributeCondition = pulumi
      .all(args.repositories.map((r) => r.id))
      .apply((ids) =>
        [
          `assertion.repository_owner == ${JSON.stringify(args.owner)}`,
          `assertion.repository_id in [${ids.map((id) => JSON.stringify(id)).join(", ")}]`,
          `assertion.repository in [${names}]`,
        ].join(" && "),
      );

    const provider = new iam.WorkloadIdentityPoolProvider(
      `${name}-github`,
      {
        project: args.project,
        workloadIdentityPoolId: pool.workloadIdentityPoolId,
        workloadIdentityPoolProviderId: "github",
        displayName: "GitHub Actions",
        // Claims must be mapped before a condition or principalSet can use them. Only environment
        // jobs are trusted anywhere (exact subjects), so jobs without an environment claim lose nothing.
        attributeMapping: {
          "google.subject": "assertion.sub",
          "attribute.repository": "assertion.repository",
          "attribute.repository_id": "assertion.repository_id",
          "attribute.repository_owner": "assertion.repository_owner",
          "attribute.repository_owner_id": "assertion.repository_owner_id",
          "attribute.environment": "assertion.environment",
          "attribute.ref": "assertion.ref",
        },
        attributeCondition: this.attributeCondition,
        oidc: { issuerUri: GITHUB_ISSUER },
      },
      { parent: this },
    );

    this.poolName = pool.name;
    this.providerName = provider.name;
    this.registerOutputs({ poolName: this.poolName, providerName: this.providerName, attributeCondition: this.attributeCondition });
  }
}
