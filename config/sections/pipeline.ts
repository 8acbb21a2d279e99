import { z } from "zod";
import { cron } from "./azure";
import { pattern, resourceGroupName, strict } from "./common";
import { repositoryName, reviewers, ruleset } from "./github";

/**
 * `release-infra:pipeline` (only in `Pulumi.pipeline.yaml`): what the workflows of this repository
 * run as. The deploy stacks are the other `Pulumi.<stack>.yaml` files beside it; their rights are
 * derived from what each of them manages (components/pipelineGrants.ts).
 */

/** Azure storage account names: 3-24 lowercase letters and digits. */
const storageAccountName = pattern(/^[a-z0-9]{3,24}$/, "must be a storage account name: 3-24 lowercase letters or digits");
/** Blob container names: 3-63 lowercase letters, digits and single hyphens. */
const containerName = pattern(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/, "must be a blob container name: 3-63 lowercase letters, digits or single hyphens");
/** Key Vault names: 3-24 letters, digits and hyphens, starting with a letter. */
const keyVaultName = pattern(/^[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){2,23}$/, "must be a Key Vault name: 3-24 letters, digits or single hyphens, starting with a letter");
const keyName = pattern(/^[A-Za-z0-9-]{1,127}$/, "must be a Key Vault key name: 1-127 letters, digits or '-'");
/** Stack names as the Pulumi CLI accepts them. */
export const stackName = pattern(/^[A-Za-z0-9_.-]{1,100}$/, "must be a stack name: letters, digits, '_', '.' or '-'");

const githubApp = strict({
  appId: z.number().int().positive().describe("The App's numeric id (its settings page, About); its private key is never in this stack (the administrator sets GH_APP_PRIVATE_KEY on each environment with gh secret set)."),
});

export const pipeline = strict({
  repository: strict({
    name: repositoryName.describe("This repository's name (the one holding the program and its workflows), without the owner (github:owner)."),
    id: z.number().int().positive().optional().describe("Its numeric id (gh api repos/OWNER/REPO --jq .id): with ownerId, the pipeline identities also trust GitHub's immutable OIDC subject."),
    visibility: z.enum(["public", "private", "internal"]).describe("Its visibility; with plan it decides whether required reviewers exist."),
    plan: z.enum(["free", "pro", "team", "enterprise"]).describe("GitHub plan of github:owner."),
  }).describe("The repository whose workflows deploy the stacks; its pulumi-<stack>, pulumi-<stack>-read and pulumi-<stack>-preview environments are created here."),
  ownerId: z.number().int().positive().optional().describe("Numeric id of github:owner (gh api users/OWNER --jq .id), for GitHub's immutable OIDC subjects."),
  azure: strict({
    resourceGroup: resourceGroupName.describe("Resource group created by this stack for the pipeline identities (in azure-native:location)."),
  }).describe("Where the pipelines' Azure identities live."),
  gcp: strict({
    project: pattern(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "must be a GCP project id: 6-30 lowercase letters, digits or '-'").describe(
      "GCP project of the pipelines' workload identity pool and service accounts (required when a deploy stack has release-infra:cdn).",
    ),
  })
    .optional()
    .describe("Where the pipelines' GCP identities live."),
  backend: strict({
    storageAccount: storageAccountName.describe("Storage account of the state (azblob:// backend); not managed by any stack."),
    resourceGroup: resourceGroupName.describe("Its resource group."),
    container: containerName.describe("Blob container of the pipeline stack's own state; each deploy stack's state gets a container of its own, <container>-<stack>, created by the pipeline stack."),
  }).describe("The self-managed state backend: per deploy stack a container, on which its writer gets Storage Blob Data Contributor and its readers Storage Blob Data Reader; the pipeline stack's container is reachable only by its own drift reader."),
  secretsProvider: strict({
    keyVault: keyVaultName.describe("Key Vault (Azure RBAC permission model) holding the secrets key; not managed by any stack."),
    resourceGroup: resourceGroupName.describe("Its resource group."),
    key: keyName.describe("RSA key of the pipeline stack's azurekeyvault:// secrets provider; each deploy stack gets a key of its own, <key>-<stack>, created by the pipeline stack."),
  }).describe("The secrets provider: per stack a key, which only that stack's identities may decrypt with (a custom role with the decrypt data action only)."),
  reviewers: reviewers.describe(
    "Required reviewers of the pulumi-<stack> environment of every prod stack and of every stack that manages GitHub objects (its key can change any environment and ruleset of the repositories it governs); needs a public repository or GitHub Enterprise.",
  ),
  previewReviewers: reviewers
    .optional()
    .describe("Required reviewers of the pulumi-<stack>-preview environments: one approves running a pull request's code with a stack's read rights. Default: reviewers."),
  preventSelfReview: z.boolean().default(true).describe("Reviewers may not approve a prod deployment they triggered."),
  rulesets: z
    .array(ruleset)
    .default([])
    .describe("Rulesets of this repository (same keys as a repository's rulesets): merging to main deploys the dev and staging stacks, so main needs a pull request with an approval and the tests."),
  githubApps: strict({
    writer: githubApp.describe("Used only by pulumi-<stack> environments of stacks that manage GitHub objects, which require reviewers: write on the repositories the stacks govern; never installed on this repository."),
    reader: githubApp.describe("Used by every other environment (read, preview, and deploy environments of stacks that manage no GitHub objects): read only; also installed on this repository for the pipeline stack's drift check."),
  }).describe("The GitHub Apps whose tokens the GitHub provider uses; the stack outputs the permissions each needs."),
  stacks: z
    .record(
      stackName,
      strict({
        adoptResourceGroup: z
          .boolean()
          .default(false)
          .describe("true: this deploy stack's resource group exists already (it holds a registry the stack adopts, say): the pipeline stack imports it (npm run plan -- --stack pipeline --import-file) instead of creating it."),
        drift: cron
          .optional()
          .describe("When the drift check runs, five-field cron in UTC; the minute is ignored (checks start at minute 23 of each matching hour). Default: hourly in prod, 05:00 UTC otherwise."),
      }),
    )
    .default({})
    .describe("Per deploy stack settings, by stack name (each must have a Pulumi.<stack>.yaml beside this file)."),
});

export type PipelineInput = z.output<typeof pipeline>;
