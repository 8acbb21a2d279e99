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

export const bucketPublicAccessPrevention: ResourceValidationPolicy = {
  name: "gcs-public-access-prevention-enforced",
  description: "Buckets enforce public access prevention: no grant to allUsers or allAuthenticatedUsers can take effect, set here or later by hand.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(T.bucket), (props, _args, reportViolation) => {
    if (props.publicAccessPrevention !== "enforced") {
      reportViolation(
        `publicAccessPrevention is ${JSON.stringify(props.publicAccessPrevention ?? null)}: a public grant added by hand would expose every object and its old generations at storage.googleapis.com. Set publicAccessPrevention: "enforced" (a CDN reads through its service agent).`,
      );
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
}

/** The members a GCP IAM member, binding or policy resource grants a role to. */
function gcpGrants(type: string, props: Record<string, unknown>): Grant[] | string {
  if (type.endsWith("Member")) return typeof props.member === "string" ? [{ member: props.member }] : [];
  if (type.endsWith("Binding")) return strings(props.members).map((member) => ({ member }));
  let policy: unknown;
  try {
    policy = typeof props.policyData === "string" ? JSON.parse(props.policyData) : undefined;
  } catch {
    return "policyData is not JSON, so its members cannot be checked.";
  }
  const bindings = field(policy, "bindings");
  return (Array.isArray(bindings) ? bindings : []).flatMap((b) => strings(field(b, "members")).map((member) => ({ member })));
}

/** Policies over every GCP IAM grant; an unparseable policy is reported by each. */
function onGcpGrants(check: (grant: Grant, reportViolation: ReportViolation) => void): ResourceValidation {
  return onTypes(
    (type) => GCP_IAM.test(type),
    (props, args, reportViolation) => {
      const grants = gcpGrants(args.type, props);
      if (typeof grants === "string") reportViolation(grants);
      else for (const grant of grants) check(grant, reportViolation);
    },
  );
}

export const gcpNoPublicMembers: ResourceValidationPolicy = {
  name: "gcp-iam-no-public-members",
  description: "No IAM grant to allUsers or allAuthenticatedUsers: the CDN reads its bucket as Cloud CDN's service agent (private bucket access).",
  enforcementLevel: "mandatory",
  validateResource: onGcpGrants((grant, reportViolation) => {
    if (PUBLIC_MEMBERS.includes(grant.member)) {
      reportViolation(
        `grants a role to ${grant.member}: that is anyone on the internet. A CDN bucket needs no public grant: Cloud CDN reads it as its service agent service-PROJECT_NUMBER@cloud-cdn-fill.iam.gserviceaccount.com (https://cloud.google.com/cdn/docs/configure-private-bucket-access).`,
      );
    }
  }),
};

export const gcpNoWildcardPrincipalSet: ResourceValidationPolicy = {
  name: "gcp-iam-no-wildcard-principal-set",
  description: "No IAM grant to a principalSet containing a wildcard (every identity of a pool).",
  enforcementLevel: "mandatory",
  validateResource: onGcpGrants((grant, reportViolation) => {
    if (grant.member.startsWith("principalSet://") && grant.member.includes("*")) {
      reportViolation(
        `grants a role to ${grant.member}: a wildcard principal set admits every identity of the pool. Grant to principalSet://…/attribute.repository/OWNER/REPO instead.`,
      );
    }
  }),
};

const BACKENDS = ["gcp:compute/backendBucket:BackendBucket", "gcp:compute/backendService:BackendService"];
const HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy";
const SSL_POLICY = "gcp:compute/sSLPolicy:SSLPolicy";

export const cdnNoCacheControlResponseHeader: ResourceValidationPolicy = {
  name: "cdn-no-cache-control-response-header",
  description: "Backends add no Cache-Control response header: the load balancer adds custom headers to every response, errors included.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(...BACKENDS), (props, _args, reportViolation) => {
    if (strings(props.customResponseHeaders).some((h) => /^\s*cache-control\s*:/i.test(h))) {
      reportViolation(
        "customResponseHeaders sets Cache-Control: the load balancer adds it to every response, 404s included, so a missing file would be cached as long as a released one (https://cloud.google.com/load-balancing/docs/https/custom-headers-global). Set Cache-Control on the objects at upload and clamp it with cdnPolicy.maxTtl and clientTtl.",
      );
    }
  }),
};

export const httpsProxySslPolicy: ResourceValidationPolicy = {
  name: "gcp-https-proxy-ssl-policy",
  description: "HTTPS proxies name an SSL policy: without one the load balancer's default (COMPATIBLE) accepts TLS 1.0.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(HTTPS_PROXY), (props, _args, reportViolation) => {
    if (typeof props.sslPolicy !== "string" || props.sslPolicy === "") {
      reportViolation(
        "sslPolicy is not set: the default policy is COMPATIBLE, which accepts TLS 1.0 and 1.1 (https://cloud.google.com/load-balancing/docs/ssl-policies-concepts). Attach an SSL policy with profile MODERN or RESTRICTED and minTlsVersion TLS_1_2.",
      );
    }
  }),
};

export const sslPolicyModernTls: ResourceValidationPolicy = {
  name: "gcp-ssl-policy-tls-1-2",
  description: "SSL policies use the MODERN or RESTRICTED profile with TLS 1.2 or later.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(oneOf(SSL_POLICY), (props, _args, reportViolation) => {
    if (props.profile !== "MODERN" && props.profile !== "RESTRICTED") {
      reportViolation(`profile is ${JSON.stringify(props.profile ?? "COMPATIBLE")}: use MODERN or RESTRICTED (COMPATIBLE, the default, keeps ciphers for old clients).`);
    }
    if (props.minTlsVersion !== "TLS_1_2" && props.minTlsVersion !== "TLS_1_3") {
      reportViolation(`minTlsVersion is ${JSON.stringify(props.minTlsVersion ?? "TLS_1_0")}: set TLS_1_2 (the default, TLS_1_0, allows TLS 1.0 and 1.1).`);
    }
  }),
};
