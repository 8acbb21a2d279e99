import { z } from "zod";
import { isQuantity, quantityValue } from "../quantity";
import { pattern, resourceGroupName, strict, uniqueBy } from "./common";

/** `release-infra:azure`: the resource group, the container registry and namespaces on existing AKS clusters. */

/** ACR: 5-50 alphanumerics; lower case because the login server is lower case. */
export const registryName = pattern(/^[a-z0-9]{5,50}$/, "must be 5-50 lowercase letters or digits (no hyphens)");

/** DNS-1123 label; `kube-` is reserved for Kubernetes system namespaces. */
const namespaceName = pattern(
  /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
  "must be a DNS-1123 label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit",
)
  .refine((n) => !n.startsWith("kube-"), { message: `must not start with "kube-" (reserved for Kubernetes system namespaces)` })
  .refine((n) => n !== "default", { message: `must not be "default" (shared by every workload; give the environment its own namespace)` });

/** AKS cluster names: 1-63 letters, digits, '_' and '-', starting and ending with a letter or digit. */
export const clusterName = pattern(
  /^[a-zA-Z0-9]([-_a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/,
  "must be 1-63 letters, digits, '-' or '_', starting and ending with a letter or digit",
);
export { namespaceName };

/** Five-field cron as ACR task timer triggers take it. */
export const cron = z.string().superRefine((c, ctx) => {
  const fields = c.trim().split(/\s+/);
  if (fields.length !== 5) {
    ctx.addIssue({ code: "custom", message: `must be a five-field cron expression ("minute hour day-of-month month day-of-week"), e.g. "0 3 * * *"` });
  } else if (!fields.every((f) => /^[\d*,/-]+$|^[A-Za-z]{3}$/.test(f))) {
    ctx.addIssue({ code: "custom", message: "each cron field may only use digits, '*', ',', '-', '/' or a three-letter name" });
  }
});

const quantity = pattern(/^\S+$/, "must be a Kubernetes quantity").refine(isQuantity, {
  message: `must be a Kubernetes quantity such as "500m", "2", "512Mi" or "16Gi"`,
});

export const namespace = strict({
  name: namespaceName.describe("Namespace name: a DNS-1123 label, not kube-* or default."),
  adopt: z.boolean().default(false).describe("true: the namespace exists already; import it (npm run plan -- --import-file) instead of creating it."),
  podSecurity: z
    .enum(["privileged", "baseline", "restricted"])
    .default("restricted")
    .describe("Pod Security Admission level, enforced and also used for audit and warn (privileged is rejected in prod by the policy pack)."),
  quota: strict({
    cpu: quantity.describe("Total CPU requests of the namespace, e.g. \"8\" (CPU limits are not capped: they throttle, and the scheduler places pods by request)."),
    memory: quantity.describe("Total memory requests and total memory limits of the namespace, each, e.g. \"16Gi\"."),
    pods: z.number().int().min(1).max(10000).describe("Most pods the namespace may run."),
  }).describe("ResourceQuota of the namespace."),
  containerDefaults: strict({
    cpu: quantity.describe("CPU request of a container that sets none, e.g. \"250m\". No CPU limit is defaulted: a default limit below a container's own request would get the pod rejected."),
    memory: quantity.describe("Memory request of a container that sets none, e.g. \"256Mi\"."),
    memoryLimit: quantity
      .optional()
      .describe("Memory limit of a container that sets none (default: twice memory). A container that requests more memory than this must set its own limit."),
  }).describe("LimitRange defaults, so pods without resources still fit the quota."),
  network: z
    .enum(["default-deny", "allow-all"])
    .default("default-deny")
    .describe("default-deny: NetworkPolicies allow only same-namespace traffic and DNS; allow-all: no policies."),
}).superRefine((ns, ctx) => {
  const tooLarge = (path: "cpu" | "memory" | "memoryLimit", value: string | undefined, total: string) => {
    const perContainer = value === undefined ? undefined : quantityValue(value);
    const quota = quantityValue(total);
    if (perContainer !== undefined && quota !== undefined && perContainer > quota) {
      ctx.addIssue({ code: "custom", path: ["containerDefaults", path], message: `is larger than the namespace quota of ${total}: no pod with default resources could start` });
    }
  };
  tooLarge("cpu", ns.containerDefaults.cpu, ns.quota.cpu);
  tooLarge("memory", ns.containerDefaults.memory, ns.quota.memory);
  tooLarge("memoryLimit", ns.containerDefaults.memoryLimit, ns.quota.memory);
  const request = quantityValue(ns.containerDefaults.memory);
  const limit = ns.containerDefaults.memoryLimit === undefined ? undefined : quantityValue(ns.containerDefaults.memoryLimit);
  if (request !== undefined && limit !== undefined && limit < request) {
    ctx.addIssue({
      code: "custom",
      path: ["containerDefaults", "memoryLimit"],
      message: `is below the default memory request ${ns.containerDefaults.memory}: the API server rejects a LimitRange whose default request exceeds its default limit`,
    });
  }
});

export const cluster = strict({
  name: clusterName.describe("Name of the existing AKS cluster."),
  resourceGroup: resourceGroupName.describe("Resource group of the cluster."),
  pullFromRegistry: z.boolean().default(false).describe("Grant AcrPull on this stack's registry to the cluster's kubelet identity."),
  namespaces: z.array(namespace).default([]).describe("Namespaces this stack creates and owns on the cluster."),
  adoptAcrPull: pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "must be a role assignment name: a lowercase GUID")
    .optional()
    .describe("Name (GUID) of the kubelet's existing AcrPull assignment on the registry (e.g. made by az aks update --attach-acr): imported and kept, instead of a second one."),
}).superRefine((c, ctx) => {
  if (c.adoptAcrPull !== undefined && !c.pullFromRegistry) {
    ctx.addIssue({ code: "custom", path: ["adoptAcrPull"], message: "requires pullFromRegistry: true (it adopts the kubelet's AcrPull on this stack's registry)" });
  }
});

export const registry = strict({
  name: registryName.describe("Registry name: 5-50 lowercase letters or digits, globally unique (the login server is <name>.azurecr.io)."),
  existing: z.boolean().default(false).describe("true: another stack owns the registry; this stack only grants access to it."),
  adopt: z.boolean().default(false).describe("true: the registry exists already and this stack takes it over: import it (npm run plan -- --import-file) instead of creating it."),
  resourceGroup: resourceGroupName
    .optional()
    .describe("Resource group of an existing or adopted registry, where it lives (default: release-infra:azure.resourceGroup); a registry this stack creates is created in release-infra:azure.resourceGroup."),
  sku: z.enum(["Basic", "Standard", "Premium"]).optional().describe("Registry SKU; required for a registry this stack creates."),
  untaggedRetentionDays: z.number().int().min(0).max(365).optional().describe("Days untagged manifests are kept before ACR deletes them (Premium only), 0-365."),
  zoneRedundant: z.boolean().optional().describe("Zone redundancy (Premium only; set at creation). Unset on an adopted registry: left as it is."),
  publicNetworkAccess: z
    .enum(["Enabled", "Disabled"])
    .optional()
    .describe(
      "Whether the registry answers on its public endpoint. Default for a new registry: Enabled (GitHub-hosted runners and AKS reach it there; Disabled needs a private endpoint and runners inside the network, and is Premium only). Unset on an adopted registry: left as it is.",
    ),
  networkRuleBypassOptions: z
    .enum(["AzureServices", "None"])
    .optional()
    .describe(
      "Whether trusted Azure services (az acr import among them) pass the registry's network rules. Default for a new registry: AzureServices, so promotion keeps working once networking is restricted. Unset on an adopted registry: left as it is.",
    ),
  importFrom: z
    .array(
      strict({
        name: registryName.describe("Name of the registry images are promoted from."),
        resourceGroup: resourceGroupName.describe("Its resource group."),
      }),
    )
    .default([])
    .describe("Registries whose images are promoted into this one with az acr import."),
  purge: strict({
    schedule: cron.describe("When the purge runs: five-field cron in UTC, e.g. \"0 3 * * *\"."),
    olderThanDays: z.number().int().min(0).max(3650).describe("Delete tags (or, with untaggedOnly, untagged manifests) older than this many days (acr purge --ago); 0 only with untaggedOnly."),
    keep: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(3)
      .describe("Keep the latest N tags of each repository even when they are older than olderThanDays (acr purge --keep), so the image a quiet environment still runs survives; default 3. Ignored with untaggedOnly."),
    untaggedOnly: z.boolean().default(false).describe("Delete only untagged manifests, never tags. Images pulled by digest whose tag has moved are untagged too, and get deleted."),
    filter: pattern(/^[^\s:'"]+:[^\s'"]+$/, `must be "<repository regex>:<tag regex>" without spaces or quotes, e.g. ".*:.*"`)
      .default(".*:.*")
      .describe("acr purge --filter: <repository regex>:<tag regex>."),
  })
    .optional()
    .describe("A scheduled ACR task that runs acr purge on this registry."),
}).superRefine((r, ctx) => {
  if (r.purge && r.purge.olderThanDays === 0 && !r.purge.untaggedOnly) {
    ctx.addIssue({
      code: "custom",
      path: ["purge", "olderThanDays"],
      message: "is 0 without untaggedOnly: every run would delete every tag but the kept ones, including images a namespace still runs; use at least 1, or untaggedOnly: true",
    });
  }
  if (r.existing) {
    if (r.adopt) {
      ctx.addIssue({ code: "custom", path: ["adopt"], message: "cannot be set on an existing registry: another stack owns it (adopt it in that stack, or set existing: false to own it here)" });
    }
    for (const key of ["sku", "untaggedRetentionDays", "zoneRedundant", "publicNetworkAccess", "networkRuleBypassOptions", "purge"] as const) {
      if (r[key] !== undefined) {
        ctx.addIssue({ code: "custom", path: [key], message: `cannot be set on an existing registry (another stack owns it; set it there)` });
      }
    }
    if (r.importFrom.length > 0) {
      ctx.addIssue({ code: "custom", path: ["importFrom"], message: "cannot be set on an existing registry (another stack owns it; set it there)" });
    }
    return;
  }
  // ACR Tasks are not a trusted service: without public access only a dedicated agent pool in the
  // registry's network reaches it (https://learn.microsoft.com/azure/container-registry/tasks-agent-pools).
  if (r.purge && r.publicNetworkAccess === "Disabled") {
    ctx.addIssue({
      code: "custom",
      path: ["purge"],
      message: "cannot run on a registry with publicNetworkAccess Disabled: ACR Tasks reach such a registry only from a dedicated agent pool in its network, which this program does not create",
    });
  }
  if (r.resourceGroup !== undefined && !r.adopt) {
    ctx.addIssue({ code: "custom", path: ["resourceGroup"], message: "is only for an existing or adopted registry; a registry this stack creates lives in release-infra:azure.resourceGroup" });
  }
  if (r.sku === undefined) {
    ctx.addIssue({ code: "custom", path: ["sku"], message: "is required for a registry this stack creates: Basic, Standard or Premium" });
  } else if (r.sku !== "Premium") {
    if (r.untaggedRetentionDays !== undefined) {
      ctx.addIssue({ code: "custom", path: ["untaggedRetentionDays"], message: `requires sku Premium (this registry is ${r.sku}): ACR's retention policy is a Premium feature` });
    }
    if (r.zoneRedundant !== undefined) {
      ctx.addIssue({ code: "custom", path: ["zoneRedundant"], message: `requires sku Premium (this registry is ${r.sku}): zone redundancy is set explicitly only on Premium` });
    }
    if (r.publicNetworkAccess === "Disabled") {
      ctx.addIssue({ code: "custom", path: ["publicNetworkAccess"], message: `requires sku Premium (this registry is ${r.sku}): private endpoints and network rules are Premium features` });
    }
  }
  r.importFrom.forEach((source, i) => {
    if (source.name === r.name) {
      ctx.addIssue({ code: "custom", path: ["importFrom", i, "name"], message: `"${r.name}" is this registry itself; importFrom lists the registries images are promoted from` });
    }
  });
  uniqueBy(ctx, r.importFrom, (s) => s.name, (i) => ["importFrom", i, "name"], "registry");
});

export const azure = strict({
  resourceGroup: resourceGroupName.describe("Resource group created and owned by this stack (registry, CI identities)."),
  adoptResourceGroup: z.boolean().default(false).describe("true: the resource group exists already (made by hand, or by the pipeline stack): import it instead of creating it."),
  registry: registry.optional().describe("The stack's container registry."),
  clusters: z.array(cluster).default([]).describe("Existing AKS clusters this stack adds namespaces to."),
}).superRefine((a, ctx) => {
  // Environments refer to clusters by name, so names must be unique even across resource groups.
  uniqueBy(ctx, a.clusters, (cl) => cl.name, (i) => ["clusters", i, "name"], "cluster");
  a.clusters.forEach((cl, i) => {
    uniqueBy(ctx, cl.namespaces, (n) => n.name, (j) => ["clusters", i, "namespaces", j, "name"], "namespace");
    if (cl.pullFromRegistry && !a.registry) {
      ctx.addIssue({ code: "custom", path: ["clusters", i, "pullFromRegistry"], message: "requires release-infra:azure.registry (there is no registry to pull from)" });
    }
  });
  // An adopted registry without a resource group of its own lives in the stack's: that group exists too.
  const registryGroup = a.registry?.resourceGroup ?? a.resourceGroup;
  if (a.registry?.adopt && !a.registry.existing && registryGroup.toLowerCase() === a.resourceGroup.toLowerCase() && !a.adoptResourceGroup) {
    ctx.addIssue({
      code: "custom",
      path: ["adoptResourceGroup"],
      message: `must be true when registry.adopt is and the registry is in the stack's resource group: registry ${a.registry.name} exists in resource group ${a.resourceGroup}, so the group exists too (or set registry.resourceGroup to the group it lives in)`,
    });
  }
});
