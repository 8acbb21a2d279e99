import * as pulumi from "@pulumi/pulumi";
import * as serviceaccount from "@pulumi/gcp/serviceaccount";
import { gcpName } from "./names";
import { environmentSubject } from "./githubOidc";

export interface GcpCiIdentityArgs {
  /** GCP project of the service account (`gcp:project`). */
  project: string;
  /** GitHub organisation or user that owns the repository (`github:owner`). */
  owner: string;
  /** Repository name, without the owner. */
  repository: string;
  /** GitHub environment whose jobs may impersonate the service account. */
  environment: string;
  /** Full name of the Workload Identity pool (`GcpWorkloadIdentityPool.poolName`). */
  poolName: pulumi.Input<string>;
  /** Full name of the pool's GitHub provider (`GcpWorkloadIdentityPool.providerName`). */
  providerName: pulumi.Input<string>;
  /** Further exact subjects to trust (e.g. the `repo:OWNER@ID/REPO@ID:...` form); never a wildcard. */
  extraSubjects?: string[];
}

/**
 * The GCP half of a CI identity: a service account that only one GitHub repository environment
 * may impersonate, through the stack's Workload Identity pool (no keys). The trust is one
 * `principal://` member per exact subject `repo:OWNER/REPO:environment:ENV`, not a repository-wide
 * `principalSet`, so other environments and branches of the same repository cannot use it.
 *
 * The subject must match `google.subject` (= the token's `sub`) exactly, and Google limits it to
 * 127 bytes. Repositories using GitHub's immutable subject claims
 * (https://docs.github.com/actions/reference/security/oidc#immutable-subject-claims) emit
 * `repo:OWNER@OWNER_ID/REPO@REPO_ID:...`; add that form through `extraSubjects`.
 */
export class GcpCiIdentity extends pulumi.ComponentResource {
  /** `workload_identity_provider` for google-github-actions/auth; resolves once the trust exists. */
  public readonly workloadIdentityProvider: pulumi.Output<string>;
  /** `service_account` for google-github-actions/auth; resolves once the trust exists. */
  public readonly serviceAccountEmail: pulumi.Output<string>;
  /** The exact subjects trusted. */
  public readonly subjects: string[];

  constructor(name: string, args: GcpCiIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("release-infra:gcp:CiIdentity", name, args, opts);
    const primary = environmentSubject(args.owner, args.repository, args.environment);
    this.subjects = [...new Set([primary, ...(args.extraSubjects ?? [])])];

    // Account ids: 6-30 of [a-z0-9-], starting with a letter; unique per repository environment in the project.
    const account = new serviceaccount.Account(
      `${name}-account`,
      {
        project: args.project,
        accountId: gcpName(`ci-${args.repository}-${args.environment}`, 30),
        displayName: `CI ${args.owner}/${args.repository} (${args.environment})`.slice(0, 100),
        description: `Impersonated by GitHub Actions jobs of ${args.owner}/${args.repository} in environment ${args.environment} only`,
      },
      { parent: this },
    );

    const trusts = this.subjects.map(
      (subject) =>
        new serviceaccount.IAMMember(
          `${name}-trust-${gcpName(subject, 63)}`,
          {
            serviceAccountId: account.name,
            role: "roles/iam.workloadIdentityUser",
            member: pulumi.interpolate`principal://iam.googleapis.com/${args.poolName}/subject/${subject}`,
          },
          { parent: this },
        ),
    );

    const ready = (value: pulumi.Input<string>) => pulumi.all([value, ...trusts.map((t) => t.id)]).apply(([v]) => v);
    this.workloadIdentityProvider = ready(args.providerName);
    this.serviceAccountEmail = ready(account.email);

    this.registerOutputs({
      workloadIdentityProvider: this.workloadIdentityProvider,
      serviceAccountEmail: this.serviceAccountEmail,
      subjects: this.subjects,
    });
  }
}
