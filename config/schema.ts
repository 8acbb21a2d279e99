import { z } from "zod";
import { actionsName, labelKey, labelValue, pattern, strict, valid } from "./sections/common";
import { azure } from "./sections/azure";
import { cdn } from "./sections/cdn";
import { github, repository, trustedSubjectForms } from "./sections/github";
import { environmentSubject } from "../components/githubOidc";
import { pipeline } from "./sections/pipeline";

/**
 * The stack config (`Pulumi.<stack>.yaml`), keyed exactly as the file is: `release-infra:azure`,
 * `github:owner`, ... This schema is the single source of the config's shape and rules; the types
 * in config/load.ts are inferred from it, and `stack-config.schema.json` is generated from it
 * (`npm run schema`), descriptions included, for editors' hover help.
 */

export { GITHUB_ACTIONS_APP_ID, protectionRulesAvailable, sharedEnvironmentConflict, trustedSubjectForms, WIRED_VARIABLES } from "./sections/github";

/** Keys of another namespace (provider settings) the program reads; all others are the providers' own. */
export const PROVIDER_KEYS = ["azure-native:location", "azure-native:environment", "azure-native:metadataHost", "gcp:project", "github:owner"] as const;

export const STAGES = ["dev", "staging", "prod"] as const;

/** A config value the CLI decrypts; the offline plan sees only `{ secure: "v1:..." }`. */
const secureValue = strict({ secure: z.string().min(1).describe("Ciphertext written by pulumi config set --secret; never edit by hand.") });

export const stackConfigSchema = z
  .object({
    "azure-native:location": z.string().min(1).optional().describe("Azure region of everything this stack creates in Azure, e.g. westeurope."),
    "azure-native:environment": z
      .enum(["public", "usgovernment", "china"])
      .optional()
      .describe("Azure cloud: public (default), usgovernment or china. The program's own ARM reads go to the same cloud as the provider's."),
    "azure-native:metadataHost": z
      .string()
      .min(1)
      .optional()
      .describe("Host of an Azure metadata service naming the cloud's endpoints; wins over azure-native:environment, as in the provider (also ARM_METADATA_HOSTNAME)."),
    "gcp:project": pattern(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "must be a GCP project id: 6-30 lowercase letters, digits or '-'")
      .optional()
      .describe("GCP project of the CDN bucket, load balancer and publishing identities."),
    "github:owner": pattern(/^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/, "must be a GitHub organisation or user login")
      .optional()
      .describe("GitHub organisation or user that owns the repositories."),
    "release-infra:stage": z
      .enum(STAGES)
      .optional()
      .describe("dev | staging | prod: prod protects stateful resources and makes prod-only policies mandatory. Default: the stack name when it is one of these."),
    "release-infra:tags": z.record(labelKey, labelValue).default({}).describe("Azure tags and GCP labels on everything that takes them."),
    "release-infra:azure": azure.optional().describe("Azure: the stack's resource group, container registry and namespaces on existing AKS clusters."),
    "release-infra:cdn": cdn.optional().describe("A Cloud Storage bucket of versioned bundles behind Cloud CDN."),
    "release-infra:github": github.optional().describe("GitHub repositories: environments, secrets, variables, rulesets and trusted publishing."),
    "release-infra:pipeline": pipeline
      .optional()
      .describe("Only in Pulumi.pipeline.yaml: the pipelines' own GitHub environments, identities and rights, derived from the deploy stacks beside it."),
    "release-infra:secrets": z
      .record(actionsName("secret"), z.union([z.string(), secureValue]))
      .default({})
      .describe("Secret values by name, always encrypted: pulumi config set --secret --path 'release-infra:secrets.NAME'."),
  })
  // Runs even when some field is invalid, so one run lists every problem; it only reads the
  // sections (and repositories) that are valid on their own.
  .superRefine((c, ctx) => crossFieldRules(c, ctx), { when: () => true });

/** Rules between sections: provider settings a section needs, and what environments' access refers to. */
function crossFieldRules(raw: Record<string, unknown>, ctx: z.core.$RefinementCtx) {
  const owner = raw["github:owner"];
  const azureCfg = valid(azure, raw["release-infra:azure"]);
  const rawRepos = (raw["release-infra:github"] as { repositories?: unknown } | undefined)?.repositories;
  const repositories = raw["release-infra:github"] === undefined ? [] : Array.isArray(rawRepos) ? rawRepos.map((r) => valid(repository, r)) : [];
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });

  if (raw["release-infra:azure"] !== undefined && !raw["azure-native:location"]) {
    issue(["azure-native:location"], "is required when release-infra:azure is set (the Azure region, e.g. westeurope)");
  }
  if (raw["release-infra:cdn"] && !raw["gcp:project"]) {
    issue(["gcp:project"], "is required when release-infra:cdn is set (the GCP project that holds the bucket and CDN)");
  }
  if (raw["release-infra:pipeline"] !== undefined) {
    if (!owner) issue(["github:owner"], "is required when release-infra:pipeline is set (the owner of the repository holding this program)");
    if (!raw["azure-native:location"]) issue(["azure-native:location"], "is required when release-infra:pipeline is set (the Azure region of the pipeline identities)");
    for (const key of ["release-infra:azure", "release-infra:cdn", "release-infra:github"] as const) {
      if (raw[key] !== undefined) issue([key], "cannot be set in the pipeline stack (release-infra:pipeline): put it in a deploy stack's Pulumi.<stack>.yaml");
    }
    // Pulumi decrypts every secret config value when it loads a stack, and the pipeline stack's drift reader loads it unreviewed.
    const secrets = raw["release-infra:secrets"];
    if (typeof secrets === "object" && secrets !== null && Object.keys(secrets).length > 0) {
      issue(["release-infra:secrets"], "cannot be set in the pipeline stack (release-infra:pipeline): its drift reader decrypts every secret of this stack; the GitHub App keys go on each pulumi-* environment with gh secret set (the stack's pipeline.administrator output)");
    }
  }
  if (raw["release-infra:github"] !== undefined && !owner) {
    issue(["github:owner"], "is required when release-infra:github is set (the organisation or user that owns the repositories)");
  }

  // Non-prod writers must never reach a registry prod pulls from: with the stage set, a prod stack
  // pulls only from a registry it creates, and a non-prod stack writes only to one it creates.
  const stage = raw["release-infra:stage"];
  const reg = azureCfg?.registry;
  if (reg?.existing && stage === "prod") {
    azureCfg?.clusters.forEach((cl, i) => {
      if (cl.pullFromRegistry) {
        issue(["release-infra:azure", "clusters", i, "pullFromRegistry"], `makes the kubelet pull in stage prod from registry ${reg.name}, which another stack owns and non-prod stages may push to; create the prod registry in this stack and promote into it (importFrom)`);
      }
    });
  }

  const clustersByName = new Map((azureCfg?.clusters ?? []).map((cl) => [cl.name, cl]));
  repositories.forEach((repo, r) => {
    repo?.environments.forEach((env, e) => {
      const envPath = ["release-infra:github", "repositories", r, "environments", e];
      const a = env.access;
      // References into an Azure section that is itself invalid are reported there, not here.
      if (!a || (raw["release-infra:azure"] !== undefined && !azureCfg)) return;
      if (a.registry && !azureCfg?.registry) {
        issue([...envPath, "access", "registry"], "requires release-infra:azure.registry (this stack declares no registry)");
      }
      if ((a.registry === "push" || a.registry === "promote") && reg?.existing && stage !== undefined && stage !== "prod") {
        issue([...envPath, "access", "registry"], `"${a.registry}" in stage ${String(stage)} writes to registry ${reg.name}, which another stack owns and a prod stage may pull from; push to a registry this stack creates and promote from it into the prod registry`);
      }
      if (a.registry === "pull" && reg?.existing && stage === "prod") {
        issue([...envPath, "access", "registry"], `"pull" in stage prod reads registry ${reg.name}, which another stack owns and non-prod stages may push to; pull in prod from a registry this stack creates`);
      }
      if (a.registry === "promote" && azureCfg?.registry && (azureCfg.registry.existing || azureCfg.registry.importFrom.length === 0)) {
        issue([...envPath, "access", "registry"], `"promote" requires release-infra:azure.registry.importFrom on a registry this stack owns (the registries to promote from)`);
      }
      if (a.cdn && !raw["release-infra:cdn"]) {
        issue([...envPath, "access", "cdn"], "requires release-infra:cdn (this stack declares no CDN)");
      }
      // Every subject the identity will trust must fit; the immutable form adds the ids' digits.
      const ownerId = (raw["release-infra:github"] as { ownerId?: unknown }).ownerId;
      const forms = trustedSubjectForms(repo, typeof ownerId === "number" ? ownerId : undefined);
      const parts = { owner: String(owner ?? ""), repository: repo.name, environment: env.name, ownerId: typeof ownerId === "number" ? ownerId : undefined, repositoryId: repo.id };
      for (const form of forms) {
        // An immutable form without its ids is reported at oidcSubjects.
        if (form === "immutable" && (parts.ownerId === undefined || parts.repositoryId === undefined)) continue;
        const subject = environmentSubject(form, parts);
        if (a.cdn && Buffer.byteLength(subject) > 127) {
          issue(
            [...envPath, "name"],
            `makes the ${form} OIDC subject "${subject}" ${Buffer.byteLength(subject)} bytes, longer than the 127 bytes Google's workload identity federation accepts as google.subject; use a shorter environment name`,
          );
        }
      }
      a.namespaces.forEach((ref, n) => {
        const cl = clustersByName.get(ref.cluster);
        if (!cl) {
          const known = [...clustersByName.keys()];
          issue([...envPath, "access", "namespaces", n, "cluster"], `"${ref.cluster}" is not a cluster of release-infra:azure.clusters (${known.length ? `declared: ${known.join(", ")}` : "none declared"})`);
        } else if (!cl.namespaces.some((ns) => ns.name === ref.namespace)) {
          const known = cl.namespaces.map((ns) => ns.name);
          issue([...envPath, "access", "namespaces", n, "namespace"], `"${ref.namespace}" is not a namespace of cluster ${ref.cluster} (${known.length ? `declared: ${known.join(", ")}` : "none declared"})`);
        }
      });
      if (!azureCfg && (a.registry || a.namespaces.length > 0)) {
        issue([...envPath, "access"], "requires release-infra:azure (the CI identity is an Azure managed identity)");
      }
    });
  });
}
