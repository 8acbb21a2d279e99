/** Lifecycle: protecting stateful resources in prod. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { stageConfigSchema, stageOfArgs, onTypes, oneOf, T } from "./common";

// The CDN's address is what the domains' A records name, and a DNS authorization's CNAME is what
// its certificates renew by: a new one means a DNS change before the site works again.
const STATEFUL = [T.registry, T.bucket, T.namespace, T.globalAddress, T.dnsAuthorization];

export const prodStatefulProtected: ResourceValidationPolicy = {
  name: "prod-stateful-resources-protected",
  description: "In prod, registries, buckets, namespaces, the CDN's address and its DNS authorizations are protected against deletion.",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateResource: onTypes(oneOf(...STATEFUL), (_props, args, reportViolation) => {
    if (stageOfArgs(args) === "prod" && !args.opts.protect) {
      reportViolation(`${args.type} is not protected in stage prod: deleting it loses images, published assets or workloads, or the address and certificate authorizations the live DNS names. Add { protect: true }.`);
    }
  }),
};
