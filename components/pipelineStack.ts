import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";
import * as authorization from "@pulumi/azure-native/authorization";
import * as keyvault from "@pulumi/azure-native/keyvault";
import * as resources from "@pulumi/azure-native/resources";
import * as storage from "@pulumi/azure-native/storage";
import * as projects from "@pulumi/gcp/projects";
import type { PipelineSection } from "../config/load";
import { ownershipKey } from "../config/ownership";
import { trustedSubjectForms } from "../config/schema";
import type { DeployStack } from "../config/stackSet";
import type { Adoption } from "./adoption";
import { PUBLIC_ARM_ENDPOINT, resourceGroupExists } from "./arm";
import { namespaceDeployerRoleArgs } from "./aksCluster";
import { AzureCiIdentity } from "./azureCiIdentity";
import { cdnCustomRoleArgs } from "./cdnSite";
import { GcpCiIdentity } from "./gcpCiIdentity";
import { GcpWorkloadIdentityPool } from "./gcpWorkloadIdentityPool";
import { GithubLookups } from "./githubLookups";
import { environmentSubjects } from "./githubOidc";
import { shortHash } from "./names";
import { PipelineEnvironment, type PipelineEnvironmentKind } from "./pipelineEnvironment";
import { rulesetArgs } from "./repositoryGovernance";
import {
  CUSTOM_ROLES,
  derivePipeline,
  environmentOf,
  githubAppPermissions,
  previewEnvironmentOf,
  secretsKeyName,
  stateContainerName,
  type AzureGrant,
  type CustomRoleKey,
  type GcpGrant,
} from "./pipelineGrants";
import { AZURE_BUILT_IN_ROLES } from "./roleCatalogue";
import { deterministicGuid, grantRole } from "./roleAssignment";
import { checksTakeOver, takeOverProblems, type TakeOverProbe } from "./takeOver";

export interface PipelineStackArgs {
  /** The pipeline stack's own name: its drift check runs in `pulumi-<stack>-read`. */
  stack: string;
  /** The owner of this repository (github:owner). */
  owner: string;
  /** The `release-infra:pipeline` section. */
  pipeline: PipelineSection;
  /** Azure region of the pipeline identities (azure-native:location). */
  location: string;
  /** Tags on the pipeline's own resources. */
  tags: Record<string, string>;
  /** The deploy stacks beside the pipeline stack, in deploy order. */
  stacks: DeployStack[];
  /** The stack's `managed` output of its last update, for the take-over check of the deploy stacks' groups (components/takeOver.ts). */
  managedBefore?: pulumi.Input<string[]>;
  /** Azure Resource Manager endpoint of the take-over check's reads (default: the public cloud's; see armEndpoint in ./arm). */
  armEndpoint?: pulumi.Input<string>;
}

/** `azblob://<container>?storage_account=<account>`: a backend URL the workflows log in to. */
export function backendUrl(backend: PipelineSection["backend"], container: string): string {
  return `azblob://${container}?storage_account=${backend.storageAccount}`;
}

/** `azurekeyvault://<vault>.vault.azure.net/keys/<key>`: a stack's secrets provider. */
export function secretsProviderUrl(provider: PipelineSection["secretsProvider"], key: string): string {
  return `azurekeyvault://${provider.keyVault}.vault.azure.net/keys/${key}`;
}

/** A deploy stack's backend URL and secrets provider: its own container and key. */
export function stackState(pipeline: PipelineSection, stack: string): { backendUrl: string; secretsProvider: string } {
  return {
    backendUrl: backendUrl(pipeline.backend, stateContainerName(pipeline.backend, stack)),
    secretsProvider: secretsProviderUrl(pipeline.secretsProvider, secretsKeyName(pipeline.secretsProvider, stack)),
  };
}

/** One GitHub environment of the pipeline and what runs in it. */
interface EnvironmentPlan {
  /** The stack whose state and rights it holds (a deploy stack, or the pipeline stack itself). */
  stack: string;
  /** The GitHub environment's name. */
  environment: string;
  /** Deploys, main-only read-only checks, or pull-request previews. */
  kind: PipelineEnvironmentKind;
  /** The stack's stage. */
  stage: DeployStack["config"]["stage"];
  /** Required reviewers, if any. */
  reviewers?: PipelineSection["reviewers"];
  /** The App whose key it holds: the writer only behind reviewers, for a stack that manages GitHub objects. */
  app: "writer" | "reader";
  /** The stack's own state container, as `PULUMI_BACKEND_URL`. */
  backendUrl: string;
  /** Whether its identity gets a GCP service account (stacks with a CDN; the pipeline's reader with any). */
  gcp: boolean;
}

/**
 * The environments of the pipeline: per deploy stack `pulumi-<stack>` (deploys, main only),
 * `pulumi-<stack>-read` (drift and convergence checks, main only) and `pulumi-<stack>-preview`
 * (pull-request previews, any ref, behind reviewers), and `pulumi-<pipeline>-read` for the
 * pipeline stack's own drift check.
 *
 * GitHub App permissions hold per repository installation, not per environment: a key that can
 * change one environment of a repository can change all of them and its rulesets. So the writer
 * key is held only by deploy environments of stacks that manage GitHub objects, and every such
 * environment gets the protection of the most protected object it can change (prod's: reviewers,
 * no admin bypass, main only), whatever the stack's stage.
 */
export function pipelineEnvironments(pipelineStack: string, pipeline: PipelineSection, stacks: readonly DeployStack[]): EnvironmentPlan[] {
  const previewReviewers = pipeline.previewReviewers ?? pipeline.reviewers;
  const gcpStacks = stacks.some((s) => s.config.cdn);
  return [
    ...stacks.flatMap((s): EnvironmentPlan[] => {
      const managesGithub = s.config.github !== undefined;
      const common = { stack: s.stack, stage: s.config.stage, backendUrl: stackState(pipeline, s.stack).backendUrl, gcp: s.config.cdn !== undefined };
      return [
        { ...common, environment: environmentOf(s.stack, "write"), kind: "deploy", app: managesGithub ? "writer" : "reader", ...(managesGithub || s.config.stage === "prod" ? { reviewers: pipeline.reviewers } : {}) },
        { ...common, environment: environmentOf(s.stack, "read"), kind: "read", app: "reader" },
        { ...common, environment: previewEnvironmentOf(s.stack), kind: "preview", app: "reader", reviewers: previewReviewers },
      ];
    }),
    {
      stack: pipelineStack,
      environment: environmentOf(pipelineStack, "read"),
      kind: "read",
      stage: "prod",
      app: "reader",
      backendUrl: backendUrl(pipeline.backend, pipeline.backend.container),
      gcp: pipeline.gcp !== undefined && gcpStacks,
    },
  ];
}

/**
 * What the workflows of this repository run as, for every deploy stack beside the pipeline stack
 * and for the pipeline stack's own drift check: the GitHub environments (pipelineEnvironments), an
 * Azure identity (and, with a CDN, a GCP service account) per environment trusted only for that
 * environment, the variables the workflows read, and the role assignments derived from what the
 * stack's config manages (components/pipelineGrants.ts). It also creates each deploy stack's
 * resource group, state container and secrets key, so its writer can be granted on them before the
 * stack's first `up` (the deploy stack then adopts its group), the CDN's custom roles and the
 * custom Azure roles, so no pipeline identity writes role definitions.
 */
export class PipelineStack extends pulumi.ComponentResource {
  /** Per environment: its identities' ids. */
  public readonly environments: pulumi.Output<Record<string, { azureClientId: string; gcpServiceAccount?: string }>>;
  /** Every derived right, one line each: `<environment>: <role> on <scope>`. */
  public readonly rights: string[];
  /** The deploy stacks' groups that exist already (release-infra:pipeline.stacks.<stack>.adoptResourceGroup). */
  public readonly adoptions: Adoption[] = [];
  /** In a preview: deploy stacks' groups that exist and are neither adopted nor in this stack's state. */
  public readonly takeOverProblems: pulumi.Output<string[]>;

  constructor(name: string, args: PipelineStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("release-infra:pipeline:PipelineStack", name, {}, opts);
    const { owner, pipeline, stacks } = args;
    const plan = derivePipeline(stacks, pipeline, args.stack);
    const client = authorization.getClientConfigOutput({ parent: this });
    const subscriptionId = client.subscriptionId;
    const absolute = (scope: string) => pulumi.interpolate`/subscriptions/${subscriptionId}${scope}`;
    const repository = pipeline.repository;
    // GitHub's spelling and subject template are checked before any identity trusts a subject.
    const lookups = new GithubLookups(owner);
    const trustAfter = [lookups.repository(repository.name, repository.id), lookups.defaultSubjectTemplate(repository.name)];
    // Both forms when the ids are known (a repository may send either), else the name-only one.
    const subjects = (environment: string) =>
      environmentSubjects(trustedSubjectForms(repository, pipeline.ownerId), {
        owner,
        repository: repository.name,
        environment,
        ownerId: pipeline.ownerId,
        repositoryId: repository.id,
      });

    const group = new resources.ResourceGroup(
      `${name}-resource-group`,
      { resourceGroupName: pipeline.azure.resourceGroup, location: args.location, tags: args.tags },
      // Deleting it deletes every pipeline identity: no workflow could run any more.
      { parent: this, protect: true },
    );
    const groupName = group.urn.apply(() => pipeline.azure.resourceGroup);

    // The deploy stacks' groups: created here once, then owned by their stack (it sets the tags and
    // may delete the group); this stack never updates or deletes them.
    const deployGroups = new Map(
      plan.resourceGroups.map((rg) => [
        rg.name.toLowerCase(),
        new resources.ResourceGroup(
          `${name}-rg-${rg.name.toLowerCase()}`,
          { resourceGroupName: rg.name, location: rg.location, tags: rg.tags },
          { parent: this, retainOnDelete: true, ignoreChanges: ["tags"] },
        ),
      ]),
    );
    // azure-native refuses to create a group that exists ("cannot create already existing resource").
    const token = authorization.getClientTokenOutput({}, { parent: this }).token;
    const probes: TakeOverProbe[] = [];
    for (const rg of plan.resourceGroups) {
      const resource = deployGroups.get(rg.name.toLowerCase());
      if (!resource) continue;
      const adopted = pipeline.stacks[rg.stack]?.adoptResourceGroup ?? false;
      const id = absolute(`/resourceGroups/${rg.name}`);
      if (adopted) this.adoptions.push({ resource, importId: id });
      if (!checksTakeOver(args.managedBefore)) continue;
      probes.push({
        key: ownershipKey.resourceGroup(rg.name),
        what: `Azure resource group ${rg.name} (of stack ${rg.stack})`,
        adoptKey: `release-infra:pipeline.stacks.${rg.stack}.adoptResourceGroup: true`,
        adopted,
        exists: pulumi.all([args.armEndpoint ?? PUBLIC_ARM_ENDPOINT, id, token]).apply(([endpoint, groupId, bearer]) => resourceGroupExists(endpoint, groupId, bearer)),
        resource,
      });
    }
    this.takeOverProblems = checksTakeOver(args.managedBefore) ? takeOverProblems(probes, args.managedBefore) : pulumi.output([]);

    // Each deploy stack's state container and secrets key, in the backend's account and vault (which
    // no stack manages). Kept when a stack leaves the folder: its state and secrets stay readable.
    const stateScopes: pulumi.Resource[] = [];
    for (const state of plan.stackState) {
      stateScopes.push(
        new storage.BlobContainer(
          `${name}-state-${state.stack}`,
          { accountName: pipeline.backend.storageAccount, resourceGroupName: pipeline.backend.resourceGroup, containerName: state.container, publicAccess: "None" },
          { parent: this, retainOnDelete: true },
        ),
        new keyvault.Key(
          `${name}-key-${state.stack}`,
          {
            vaultName: pipeline.secretsProvider.keyVault,
            resourceGroupName: pipeline.secretsProvider.resourceGroup,
            keyName: state.key,
            // Encrypt only for the administrator's `pulumi stack init`; CI decrypts (pipelineGrants.ts CUSTOM_ROLES).
            properties: { kty: "RSA", keySize: 3072, keyOps: ["encrypt", "decrypt"] },
          },
          { parent: this, retainOnDelete: true },
        ),
      );
    }

    // Each deploy stack's namespace deployer role, defined here so no deploy identity may write role
    // definitions (it could widen the role its role-assignment right is conditioned to).
    for (const role of plan.namespaceDeployerRoles) {
      new authorization.RoleDefinition(
        `${name}-deployer-role-${role.stack}-${role.cluster.name.toLowerCase()}`,
        namespaceDeployerRoleArgs(role.cluster, role.ownerResourceGroup, absolute(`/resourceGroups/${role.cluster.resourceGroup}`)),
        { parent: this },
      );
    }

    const customRoles = new Map(
      plan.customRoles.map(({ key, assignableScopes }) => {
        const role = CUSTOM_ROLES[key];
        const id = deterministicGuid("release-infra", `${owner}/${repository.name}`.toLowerCase(), key);
        return [
          key,
          {
            id,
            definition: new authorization.RoleDefinition(
              `${name}-role-${key}`,
              {
                scope: pulumi.interpolate`/subscriptions/${subscriptionId}`,
                roleDefinitionId: id,
                roleName: customRoleName(key, owner, repository.name),
                description: role.description,
                roleType: "CustomRole",
                permissions: [{ actions: [...role.actions], notActions: [...role.notActions], dataActions: [...role.dataActions], notDataActions: [] }],
                assignableScopes: assignableScopes.map(absolute),
              },
              { parent: this },
            ),
          },
        ] as const;
      }),
    );

    // GCP: the APIs first. Everything this stack creates in a project depends on that project's
    // services (a transformation adds them to every child of a component), so nothing races the
    // enabling of iam, sts or iamcredentials on a fresh project.
    const services = new Map<string, projects.Service[]>();
    for (const { project, service } of plan.gcpServices) {
      // Never disabled on destroy: other workloads of the project may use the API.
      const api = new projects.Service(`${name}-api-${project}-${service}`, { project, service, disableOnDestroy: false }, { parent: this });
      services.set(project, [...(services.get(project) ?? []), api]);
    }
    const afterServices = (project: string): pulumi.ResourceTransformation => (resource) => ({
      props: resource.props,
      opts: pulumi.mergeOptions(resource.opts, { dependsOn: services.get(project) ?? [] }),
    });
    const inProject = (project: string) => ({ parent: this, transformations: [afterServices(project)] });

    // The CDN's custom roles, defined here so no writer administers roles (components/cdnSite.ts).
    for (const site of plan.cdnCustomRoles) {
      const roles = cdnCustomRoleArgs(site.project, site.bucket);
      new projects.IAMCustomRole(`${name}-cdn-fill-role-${site.stack}`, roles.fill, inProject(site.project));
      new projects.IAMCustomRole(`${name}-cdn-invalidator-role-${site.stack}`, roles.invalidator, inProject(site.project));
    }

    // One pool for this repository's workflows, in the pipeline's project.
    const gcp = pipeline.gcp;
    const pool =
      gcp && stacks.some((s) => s.config.cdn)
        ? new GcpWorkloadIdentityPool(
            `${name}-github`,
            {
              project: gcp.project,
              poolId: "release-infra-pipelines",
              owner,
              repositories: [
                {
                  name: repository.name,
                  id: repository.id !== undefined ? String(repository.id) : lookups.repository(repository.name).id.apply(String),
                },
              ],
            },
            inProject(gcp.project),
          )
        : undefined;

    // Merging to main deploys every dev and staging stack (their environments need no approval), so
    // main is protected here like any repository's (the deploy-refs policy checks it is covered).
    for (const rs of pipeline.rulesets) {
      new github.RepositoryRuleset(`${name}-ruleset-${rs.name.toLowerCase()}`, { repository: repository.name, ...rulesetArgs(rs) }, { parent: this });
    }
    // A pull request's code runs in previews; it must not be able to approve a pull request, its own
    // included (https://docs.github.com/rest/actions/permissions#set-default-workflow-permissions-for-a-repository).
    new github.WorkflowRepositoryPermissions(
      `${name}-actions-defaults`,
      { repository: repository.name, defaultWorkflowPermissions: "read", canApprovePullRequestReviews: false },
      { parent: this },
    );

    const apps = { writer: pipeline.githubApps.writer, reader: pipeline.githubApps.reader };
    const environments: pulumi.Output<[string, { azureClientId: string; gcpServiceAccount?: string }]>[] = [];
    for (const env of pipelineEnvironments(args.stack, pipeline, stacks)) {
      const environment = env.environment;
      const prefix = `${name}-${environment}`;
      const identity = new AzureCiIdentity(
        prefix,
        { owner, repository: repository.name, environment, subjects: subjects(environment), trustAfter, resourceGroupName: groupName, location: args.location, tags: args.tags },
        { parent: this },
      );
      const azureGrants = plan.grants.filter((g): g is AzureGrant => g.cloud === "azure" && g.environment === environment);
      const assignments = azureGrants.map((g) => {
        const custom = g.role in CUSTOM_ROLES ? customRoles.get(g.role as CustomRoleKey) : undefined;
        const roleId = custom ? custom.id : AZURE_BUILT_IN_ROLES[g.role as keyof typeof AZURE_BUILT_IN_ROLES].id;
        const deployGroup = deployGroups.get(/^\/resourceGroups\/([^/]+)/.exec(g.scope)?.[1]?.toLowerCase() ?? "");
        return grantRole(
          `${prefix}-${g.role.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-${shortHash(g.scope.toLowerCase())}`,
          {
            principalId: identity.principalId,
            principalKey: `pipeline:${environment}`,
            roleId,
            scope: absolute(g.scope),
            subscriptionId,
            description: `release-infra pipeline ${environment}: ${g.reason}`.slice(0, 1024),
            condition: g.condition,
          },
          { parent: this, dependsOn: [...(deployGroup ? [deployGroup] : []), ...(custom ? [custom.definition] : []), ...stateScopes] },
        ).id;
      });

      const variables: Record<string, pulumi.Input<string>> = {
        AZURE_CLIENT_ID: pulumi.all([identity.clientId, ...assignments]).apply(([id]) => id),
        AZURE_TENANT_ID: identity.tenantId,
        AZURE_SUBSCRIPTION_ID: subscriptionId,
        PULUMI_BACKEND_URL: env.backendUrl,
        GH_APP_ID: String(apps[env.app].appId),
      };
      let serviceAccount: pulumi.Output<string> | undefined;
      if (pool && gcp && env.gcp) {
        const sa = new GcpCiIdentity(
          prefix,
          { project: gcp.project, owner, repository: repository.name, environment, subjects: subjects(environment), trustAfter, poolName: pool.poolName, providerName: pool.providerName },
          inProject(gcp.project),
        );
        const members = plan.grants
          .filter((g): g is GcpGrant => g.cloud === "gcp" && g.environment === environment)
          .map(
            (g) =>
              new projects.IAMMember(
                `${prefix}-${g.project}-${g.role.replace(/^roles\//, "")}`,
                { project: g.project, role: g.role, member: pulumi.interpolate`serviceAccount:${sa.serviceAccountEmail}`, ...(g.condition ? { condition: { ...g.condition, description: g.reason } } : {}) },
                inProject(g.project),
              ).id,
          );
        serviceAccount = pulumi.all([sa.serviceAccountEmail, ...members]).apply(([email]) => email);
        variables.GCP_WORKLOAD_IDENTITY_PROVIDER = sa.workloadIdentityProvider;
        variables.GCP_SERVICE_ACCOUNT = serviceAccount;
      }

      new PipelineEnvironment(
        prefix,
        {
          owner,
          repository,
          environment,
          kind: env.kind,
          stage: env.stage,
          reviewers: env.reviewers,
          preventSelfReview: pipeline.preventSelfReview,
          variables,
          lookups,
        },
        { parent: this },
      );
      environments.push(
        pulumi.all([variables.AZURE_CLIENT_ID, serviceAccount]).apply(([azureClientId, gcpServiceAccount]): [string, { azureClientId: string; gcpServiceAccount?: string }] => [
          environment,
          { azureClientId, ...(gcpServiceAccount ? { gcpServiceAccount } : {}) },
        ]),
      );
    }

    this.environments = pulumi.all(environments).apply((entries) => Object.fromEntries(entries));
    this.rights = plan.grants.map((g) =>
      g.cloud === "azure"
        ? `${g.environment}: ${g.role in CUSTOM_ROLES ? customRoleName(g.role as CustomRoleKey, owner, repository.name) : g.role} on ${g.scope}${g.condition ? " (conditioned)" : ""}`
        : `${g.environment}: ${g.role} on projects/${g.project}${g.condition ? ` (only if ${g.condition.title})` : ""}`,
    );
    this.registerOutputs({ environments: this.environments, rights: this.rights, githubApps: githubAppPermissions(stacks, owner, pipeline) });
  }
}

/** A custom role's name as Azure shows it. Role names are unique per tenant: the repository keeps two forks' roles apart. */
function customRoleName(key: CustomRoleKey, owner: string, repository: string): string {
  return `release-infra ${CUSTOM_ROLES[key].title} (${owner}/${repository})`;
}

/**
 * The administrator's own setup commands: the data-plane roles Owner does not include (writing
 * state; encrypting each stack's data key at `pulumi stack init`), the pipeline stack's own backend
 * and secrets provider, then each environment's App key. The keys are never in any stack's config:
 * Pulumi decrypts every secret config value when it loads a stack, and `pulumi-<pipeline>-read`
 * loads the pipeline stack unreviewed. So they go straight into GitHub, the writer's only where
 * pipelineEnvironments gives the writer App.
 */
function administratorSetup(args: PipelineStackArgs): string[] {
  const { backend, secretsProvider, repository } = args.pipeline;
  const me = `"$(az ad signed-in-user show --query id -o tsv)"`;
  return [
    `az role assignment create --assignee ${me} --role "Storage Blob Data Contributor" --scope "$(az storage account show -n ${backend.storageAccount} -g ${backend.resourceGroup} --query id -o tsv)"`,
    `az role assignment create --assignee ${me} --role "Key Vault Crypto Officer" --scope "$(az keyvault show -n ${secretsProvider.keyVault} -g ${secretsProvider.resourceGroup} --query id -o tsv)"`,
    `pulumi login '${backendUrl(backend, backend.container)}'`,
    `pulumi stack init ${args.stack} --secrets-provider='${secretsProviderUrl(secretsProvider, secretsProvider.key)}'`,
    ...pipelineEnvironments(args.stack, args.pipeline, args.stacks).map(
      (env) => `gh secret set GH_APP_PRIVATE_KEY --env ${env.environment} --repo ${args.owner}/${repository.name} < ${env.app}.pem`,
    ),
  ];
}

/**
 * The pipeline stack and what an administrator needs from it: each environment's identities,
 * every right, the GitHub Apps' permissions, each stack's backend URL and secrets provider, and
 * the commands that create each deploy stack and hand it the resource group created here.
 */
export function pipelineStackOutputs(component: PipelineStack, args: PipelineStackArgs) {
  const apps = githubAppPermissions(args.stacks, args.owner, args.pipeline);
  const stacks = Object.fromEntries(
    args.stacks.map((s) => {
      const state = stackState(args.pipeline, s.stack);
      return [
        s.stack,
        {
          url: state.backendUrl,
          secretsProvider: state.secretsProvider,
          // Run once by the administrator who applies this stack; then commit Pulumi.<stack>.yaml.
          setup: `pulumi login '${state.backendUrl}' && pulumi stack init ${s.stack} --secrets-provider='${state.secretsProvider}'`,
        },
      ];
    }),
  );
  return {
    environments: component.environments,
    rights: component.rights,
    githubApps: {
      writer: { appId: args.pipeline.githubApps.writer.appId, ...apps.writer },
      reader: { appId: args.pipeline.githubApps.reader.appId, ...apps.reader },
    },
    // What the administrator runs once before the first `up` of this stack, with this organisation's names.
    administrator: administratorSetup(args),
    backend: {
      url: backendUrl(args.pipeline.backend, args.pipeline.backend.container),
      secretsProvider: secretsProviderUrl(args.pipeline.secretsProvider, args.pipeline.secretsProvider.key),
      stacks,
    },
    // Each deploy stack adopts its group (azure.adoptResourceGroup): its import file carries it.
    resourceGroupImports: args.stacks.flatMap((s) =>
      s.config.azure
        ? [`npm run plan -- --stack ${s.stack} --import-file ${s.stack}-import.json && pulumi login '${stacks[s.stack].url}' && pulumi import --file ${s.stack}-import.json --stack ${s.stack} --generate-code=false`]
        : [],
    ),
  };
}
