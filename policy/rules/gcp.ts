/** GCP: workload identity providers, buckets and IAM grants. */
import type { ReportViolation, ResourceValidation, ResourceValidationPolicy } from "@pulumi/policy";
import { stageConfigSchema, stageOfArgs, field, strings, onTypes, oneOf, T, GITHUB_ISSUER } from "./common";

export const wifProviderPinsRepository: ResourceValidationPolicy = {
  name: "gcp-wif-provider-pins-github-repository",
  description: "Workload Identity providers accept only GitHub's issuer and have an attribute condition on the repository.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.wifProvider), (props, _args, reportViolation) => {
    const issuer = field(props, "oidc", "issuerUri");
    if (issuer !== GITHUB_ISSUER) {
      reportViolation(`oidc.issuerUri is ${JSON.stringify(issuer)}; CI identities trust only ${GITHUB_ISSUER}.`);
    }
    const condition = props.attributeCondition;
    if (typeof condition !== "string" || !condition.includes("assertion.repository")) {
      reportViolation(
        "attributeCondition does not test assertion.repository: without it every GitHub repository in the world can exchange tokens with this pool. Pin the repository (and owner id).",
      );
    }
  }),
};


export const bucketUniformAccess: ResourceValidationPolicy = {
  name: "gcs-uniform-bucket-level-access",
  description: "Buckets use uniform bucket-level access: IAM only, no per-object ACLs.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.bucket), (props, _args, reportViolation) => {
    if (props.uniformBucketLevelAccess !== true) {
      reportViolation("uniformBucketLevelAccess is not true: object ACLs could make single objects public outside IAM review. Set uniformBucketLevelAccess: true.");
    }
  }),
};

export const prodBucketNotForceDestroy: ResourceValidationPolicy = {
  name: "gcs-prod-bucket-not-force-destroy",
  description: "In prod, buckets are not forceDestroy: deleting one must not silently delete every object in it.",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateResource: onTypes(oneOf(T.bucket), (props, args, reportViolation) => {
    if (stageOfArgs(args) === "prod" && props.forceDestroy === true) {
      reportViolation("forceDestroy is true in stage prod: a delete or replace would drop every published asset. Remove forceDestroy.");
    }
  }),
};

const GCP_IAM = /^gcp:[A-Za-z0-9]+\/[A-Za-z0-9]+:[A-Za-z0-9]*(IAM|Iam)(Member|Binding|Policy)$/;
const PUBLIC_MEMBERS = ["allUsers", "allAuthenticatedUsers"];

interface Grant {
  member: string;
  /** Read only when the member matters: a role can be known only after apply (a custom role). */
  role: () => unknown;
}

/** The (role, member) pairs a GCP IAM member, binding or policy resource grants. */
function gcpGrants(type: string, props: Record<string, unknown>): Grant[] | string {
  const role = () => props.role;
  if (type.endsWith("Member")) return typeof props.member === "string" ? [{ member: props.member, role }] : [];
  if (type.endsWith("Binding")) return strings(props.members).map((member) => ({ member, role }));
  let policy: unknown;
  try {
    policy = typeof props.policyData === "string" ? JSON.parse(props.policyData) : undefined;
  } catch {
    return "policyData is not JSON, so its members cannot be checked.";
  }
  const bindings = field(policy, "bindings");
  return (Array.isArray(bindings) ? bindings : []).flatMap((b) => strings(field(b, "members")).map((member) => ({ member, role: () => field(b, "role") })));
}

/** Policies over every GCP IAM grant; an unparseable policy is reported by each. */
function onGcpGrants(check: (grant: Grant, type: string, reportViolation: ReportViolation) => void): ResourceValidation {
  return onTypes(
    (type) => GCP_IAM.test(type),
    (props, args, reportViolation) => {
      const grants = gcpGrants(args.type, props);
      if (typeof grants === "string") reportViolation(grants);
      else for (const grant of grants) check(grant, args.type, reportViolation);
    },
  );
}

/** The one public grant the CDN needs: the backend bucket reads objects anonymously. */
function isCdnPublicRead(grant: Grant, type: string): boolean {
  return (type === T.bucketIamMember || type === T.bucketIamBinding) && grant.member === "allUsers" && grant.role() === "roles/storage.objectViewer";
}

export const gcpNoPublicMembers: ResourceValidationPolicy = {
  name: "gcp-iam-no-public-members",
  description: "No IAM grant to allUsers or allAuthenticatedUsers, except allUsers roles/storage.objectViewer on a bucket (the CDN's read path).",
  enforcementLevel: "mandatory",
  validateResource: onGcpGrants((grant, type, reportViolation) => {
    if (PUBLIC_MEMBERS.includes(grant.member) && !isCdnPublicRead(grant, type)) {
      reportViolation(
        `grants a role to ${grant.member}: that is anyone on the internet. The only public grant allowed is allUsers with roles/storage.objectViewer on a bucket (BucketIAMMember or BucketIAMBinding), which a CDN backend bucket needs.`,
      );
    }
  }),
};

export const gcpNoWildcardPrincipalSet: ResourceValidationPolicy = {
  name: "gcp-iam-no-wildcard-principal-set",
  description: "No IAM grant to a principalSet containing a wildcard (every identity of a pool).",
  enforcementLevel: "mandatory",
  validateResource: onGcpGrants((grant, _type, reportViolation) => {
    if (grant.member.startsWith("principalSet://") && grant.member.includes("*")) {
      reportViolation(
        `grants a role to ${grant.member}: a wildcard principal set admits every identity of the pool. Grant to principalSet://…/attribute.repository/OWNER/REPO instead.`,
      );
    }
  }),
};
