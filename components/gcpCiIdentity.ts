import * as pulumi from "@pulumi/pulumi";
import * as serviceaccount from "@pulumi/gcp/serviceaccount";
import { gcpName } from "./names";

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
  /** The exact subjects to trust, e.g. `repo:OWNER/REPO:environment:ENV` (githubOidc.ts); never a wildcard. */
  subjects: string[];
  /** Checks that GitHub sends these subjects (spelling, subject template); every trust waits for them, so a failed check grants none. */
  trustAfter?: pulumi.Input<unknown>[];
  /** The component's name before names came from the lower-cased identity (`ci-<repo>-<env>` as written), so existing stacks keep their trusts. */
  previousName?: string;
}

/**
 * The GCP half of a CI identity: a service account that only one GitHub repository environment
 * may impersonate, through the stack's Workload Identity pool (no keys). The trust is one
 * `principal://` member per exact subject (`repo:OWNER/REPO:environment:ENV` and/or GitHub's
 * immutable `repo:OWNER@OWNER_ID/REPO@REPO_ID:environment:ENV`), not a repository-wide
 * `principalSet`, so other environments and branches of the same repository cannot use it.
 *
 * The subject must match `google.subject` (= the token's `sub`) exactly, and Google limits it to
 * 127 bytes (checked for every trusted form in config/schema.ts).
 */
export class GcpCiIdentity extends pulumi.ComponentResource {
  /** `workload_identity_provider` for google-github-actions/auth; resolves once the trust exists. */
  public readonly workloadIdentityProvider: pulumi.Output<string>;
  /** `service_account` for google-github-actions/auth; resolves once the trust exists. */
  public readonly serviceAccountEmail: pulumi.Output<string>;
  /** The exact subjects trusted. */
  public readonly subjects: string[];

  constructor(name: string, args: GcpCiIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    // Before anything is registered, so a bad call leaves nothing half-built.
    if (args.subjects.length === 0) throw new Error(`${name}: no subject to trust`);
    // The checks are not inputs of the component: one that fails would fail its registration and leave its children waiting.
    const { trustAfter: _checks, previousName, ...inputs } = args;
    super("release-infra:gcp:CiIdentity", name, inputs, opts);
    this.subjects = [...new Set(args.subjects)];

    // Account ids: 6-30 of [a-z0-9-], starting with a letter; unique per repository environment in the project.
    // From the lower-cased identity (GitHub compares the names case-insensitively); an account made
    // under another spelling keeps its id and email: a new id would replace it.
    const account = new serviceaccount.Account(
      `${name}-account`,
      {
        project: args.project,
        accountId: gcpName(`ci-${args.repository}-${args.environment}`.toLowerCase(), 30),
        displayName: `CI ${args.owner}/${args.repository} (${args.environment})`.slice(0, 100),
        description: `Impersonated by GitHub Actions jobs of ${args.owner}/${args.repository} in environment ${args.environment} only`,
      },
      { parent: this, ignoreChanges: ["accountId"] },
    );

    const trusts = this.subjects.map(
      (subject) =>
        new serviceaccount.IAMMember(
          `${name}-trust-${gcpName(subject.toLowerCase(), 63)}`,
          {
            serviceAccountId: account.name,
            role: "roles/iam.workloadIdentityUser",
            member: pulumi
              .all([args.poolName, pulumi.all(args.trustAfter ?? [])])
              .apply(([pool]) => `principal://iam.googleapis.com/${pool}/subject/${subject}`),
          },
          { parent: this, aliases: previousName === undefined ? [] : [{ name: `${previousName}-trust-${gcpName(subject, 63)}` }] },
        ),
    );

    // Through the checks as well: when one fails, dependents fail with it instead of waiting for trusts that never come.
    const ready = (value: pulumi.Input<string>) => pulumi.all([value, pulumi.all(args.trustAfter ?? []), pulumi.all(trusts.map((t) => t.id))]).apply(([v]) => v);
    this.workloadIdentityProvider = ready(args.providerName);
    this.serviceAccountEmail = ready(account.email);

    this.registerOutputs({
      workloadIdentityProvider: this.workloadIdentityProvider,
      serviceAccountEmail: this.serviceAccountEmail,
      subjects: this.subjects,
    });
  }
}
