/** Lifecycle: protecting stateful resources in prod. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { stageConfigSchema, stageOfArgs, onTypes, oneOf, T } from "./common";

const STATEFUL = [T.registry, T.bucket, T.namespace];

export const prodStatefulProtected: ResourceValidationPolicy = {
  name: "prod-stateful-resources-protected",
  description: "In prod, registries, buckets and namespaces are protected against deletion.",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateResource: onTypes(oneOf(...STATEFUL), (_props, args, reportViolation) => {
    if (stageOfArgs(args) === "prod" && !args.opts.protect) {
      reportViolation(`${args.type} is not protected in stage prod: deleting it loses images, published assets or workloads. Add { protect: true }.`);
    }
  }),
};
