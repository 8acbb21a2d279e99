/**
 * The CrossGuard policy pack: `pulumi preview --policy-pack policy` (run `npm ci` in policy/
 * first). Constructing the PolicyPack starts the analyzer's gRPC server, so this file is only
 * loaded by the Pulumi CLI; tests and the offline plan use ./policies and ./check.
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("release-infra-security", {
  description: "Security invariants of release-infra: no shared or public credentials, OIDC trust pinned to GitHub environments, namespaced Kubernetes access, private-by-default storage, protected GitHub deployments, protected prod state.",
  enforcementLevel: "mandatory",
  policies,
});
