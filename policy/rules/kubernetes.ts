/** Kubernetes: namespaces, quotas, cluster-wide bindings. */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { stageConfigSchema, stageOfArgs, field, onTypes, oneOf, T } from "./common";

const PSA_MODES = ["enforce", "audit", "warn"] as const;
const PSA_LEVELS = ["privileged", "baseline", "restricted"];

export const namespacePodSecurity: ResourceValidationPolicy = {
  name: "k8s-namespace-pod-security",
  description: "Namespaces carry Pod Security Admission enforce, audit and warn labels; privileged only outside prod.",
  enforcementLevel: "mandatory",
  configSchema: stageConfigSchema,
  validateResource: onTypes(oneOf(T.namespace), (props, args, reportViolation) => {
    const labels = field(props, "metadata", "labels");
    const prod = stageOfArgs(args) === "prod";
    for (const mode of PSA_MODES) {
      const key = `pod-security.kubernetes.io/${mode}`;
      const level = field(labels, key);
      if (typeof level !== "string" || !PSA_LEVELS.includes(level)) {
        reportViolation(`label ${key} is ${level === undefined ? "missing" : JSON.stringify(level)}; set it to one of ${PSA_LEVELS.join(", ")} so Pod Security Admission applies.`);
      } else if (prod && level === "privileged") {
        reportViolation(`label ${key} is privileged in stage prod: privileged pods can take over the node. Use baseline or restricted.`);
      }
    }
  }),
};

/** Namespaces by `<provider urn>|<name>`, so same-named namespaces on two clusters stay apart. */
function namespaceKey(resource: PolicyResource, name: unknown): string {
  return `${resource.provider?.urn ?? ""}|${String(name)}`;
}

export const namespaceQuotaAndLimits: StackValidationPolicy = {
  name: "k8s-namespace-quota-and-limits",
  description: "Every namespace has a ResourceQuota and a LimitRange.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const namespacesWith = (type: string) =>
      new Set(args.resources.filter((r) => r.type === type).map((r) => namespaceKey(r, field(r.props, "metadata", "namespace"))));
    const quotas = namespacesWith(T.resourceQuota);
    const limits = namespacesWith(T.limitRange);
    for (const namespace of args.resources.filter((r) => r.type === T.namespace)) {
      const name = field(namespace.props, "metadata", "name");
      if (typeof name !== "string") {
        reportViolation("the namespace has no metadata.name, so its quota and limit range cannot be matched; name it explicitly.", namespace.urn);
        continue;
      }
      const key = namespaceKey(namespace, name);
      if (!quotas.has(key)) reportViolation(`namespace ${name} has no ResourceQuota: one workload could exhaust the cluster.`, namespace.urn);
      if (!limits.has(key)) reportViolation(`namespace ${name} has no LimitRange: containers without requests and limits escape the quota's intent.`, namespace.urn);
    }
  },
};

const CLUSTER_ROLE_BINDING = /^kubernetes:rbac\.authorization\.k8s\.io\/[^:]+:ClusterRoleBinding(Patch)?$/;

export const noClusterRoleBinding: ResourceValidationPolicy = {
  name: "k8s-no-cluster-role-binding",
  description: "No ClusterRoleBinding: access is granted per namespace with RoleBindings.",
  enforcementLevel: "mandatory",
  validateResource: onTypes(
    (type) => CLUSTER_ROLE_BINDING.test(type),
    (_props, _args, reportViolation) => {
      reportViolation("a ClusterRoleBinding grants its role in every namespace of the cluster; bind a Role or ClusterRole with a RoleBinding in the namespace instead.");
    },
  ),
};
