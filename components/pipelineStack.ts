import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";
import * as authorization from "@pulumi/azure-native/authorization";
import * as resources from "@pulumi/azure-native/resources";
import * as projects from "@pulumi/gcp/projects";
import type { PipelineSection } from "../config/load";
import { ownershipKey } from "../config/ownership";
import { trustedSubjectForms } from "../config/schema";
import type { DeployStack } from "../config/stackSet";
import type { Adoption } from "./adoption";
import { PUBLIC_ARM_ENDPOINT, resourceGroupExists } from "./arm";
import { namespaceDeployerRoleArgs } from "./aksCluster";
import { AzureCiIdentity } from "./azureCiIdentity";
import { GcpCiIdentity } from "./gcpCiIdentity";
import { GcpWorkloadIdentityPool } from "./gcpWorkloadIdentityPool";
import { GithubLookups } from "./githubLookups";
import { environmentSubjects } from "./githubOidc";
import { shortHash } from "./names";
import { PipelineEnvironment } from "./pipelineEnvironment";
import { rulesetArgs } from "./repositoryGovernance";
import { AZURE_ROLES, CUSTOM_ROLES, derivePipeline, environmentOf, githubAppPermissions, type Access, type AzureGrant, type CustomRoleKey, type GcpGrant } from "./pipelineGrants";
import { deterministicGuid, grantRole } from "./roleAssignment";
import { checksTakeOver, takeOverProblems, type TakeOverProbe } from "./takeOver";

export interface PipelineStackArgs {
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
  /** Secret values by name (release-infra:secrets): the GitHub Apps' private keys. */
  secrets: Record<string, pulumi.Output<string>>;
  /** The stack's `managed` output of its last update, for the take-over check of the deploy stacks' groups (components/takeOver.ts). */
  managedBefore?: pulumi.Input<string[]>;
  /** Azure Resource Manager endpoint of the take-over check's reads (default: the public cloud's; see armEndpoint in ./arm). */
  armEndpoint?: pulumi.Input<string>;
}

/** `azblob://<container>?storage_account=<account>`: the backend URL the workflows log in to. */
export function backendUrl(backend: PipelineSection["backend"]): string {
  return `azblob://${backend.container}?storage_account=${backend.storageAccount}`;
}

/** `azurekeyvault://<vault>.vault.azure.net/keys/<key>`: every stack's secrets provider. */
export function secretsProviderUrl(provider: PipelineSection["secretsProvider"]): string {
  return `azurekeyvault://${provider.keyVault}.vault.azure.net/keys/${provider.key}`;
}

/**
 * What the workflows of this repository run as, for every deploy stack beside the pipeline stack:
 * the GitHub environments `pulumi-<stack>` and `pulumi-<stack>-read`, an Azure identity (and, for
 * stacks with a CDN, a GCP service account) per environment trusted only for that environment,
 * the variables the workflows read, and the role assignments derived from what the stack's config
 * manages (components/pipelineGrants.ts). It also creates each deploy stack's resource group, so
 * its writer can be granted on it before the stack's first `up`; the deploy stack then adopts it.
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
    const plan = derivePipeline(stacks, pipeline);
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
                // Role names are unique per tenant: the repository keeps two forks' roles apart.
                roleName: `release-infra ${role.title} (${owner}/${repository.name})`,
                description: role.description,
                roleType: "CustomRole",
                permissions: [{ actions: [...role.actions], notActions: [], dataActions: [...role.dataActions], notDataActions: [] }],
                assignableScopes: assignableScopes.map(absolute),
              },
              { parent: this },
            ),
          },
        ] as const;
      }),
    );

    // GCP: one pool for this repository's workflows, in the pipeline's project.
    const gcpStacks = stacks.filter((s) => s.config.cdn);
    const gcp = pipeline.gcp;
    const pool =
      gcp && gcpStacks.length > 0
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
            { parent: this },
          )
        : undefined;
    for (const { project, service } of plan.gcpServices) {
      // Never disabled on destroy: other workloads of the project may use the API.
      new projects.Service(`${name}-api-${project}-${service}`, { project, service, disableOnDestroy: false }, { parent: this });
    }

    // Merging to main deploys every dev and staging stack (their environments need no approval), so
    // main is protected here like any repository's (the deploy-refs policy checks it is covered).
    for (const rs of pipeline.rulesets) {
      new github.RepositoryRuleset(`${name}-ruleset-${rs.name.toLowerCase()}`, { repository: repository.name, ...rulesetArgs(rs) }, { parent: this });
    }

    const app = { write: pipeline.githubApps.writer, read: pipeline.githubApps.reader };
    const environments: pulumi.Output<[string, { azureClientId: string; gcpServiceAccount?: string }]>[] = [];
    for (const stack of stacks) {
      for (const access of ["write", "read"] as Access[]) {
        const environment = environmentOf(stack.stack, access);
        const prefix = `${name}-${environment}`;
        const identity = new AzureCiIdentity(
          prefix,
          { owner, repository: repository.name, environment, subjects: subjects(environment), trustAfter, resourceGroupName: groupName, location: args.location, tags: args.tags },
          { parent: this },
        );
        const azureGrants = plan.grants.filter((g): g is AzureGrant => g.cloud === "azure" && g.environment === environment);
        const assignments = azureGrants.map((g) => {
          const custom = g.role in CUSTOM_ROLES ? customRoles.get(g.role as CustomRoleKey) : undefined;
          const roleId = custom ? custom.id : AZURE_ROLES[g.role as keyof typeof AZURE_ROLES];
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
            { parent: this, dependsOn: [...(deployGroup ? [deployGroup] : []), ...(custom ? [custom.definition] : [])] },
          ).id;
        });

        const variables: Record<string, pulumi.Input<string>> = {
          AZURE_CLIENT_ID: pulumi.all([identity.clientId, ...assignments]).apply(([id]) => id),
          AZURE_TENANT_ID: identity.tenantId,
          AZURE_SUBSCRIPTION_ID: subscriptionId,
          PULUMI_BACKEND_URL: backendUrl(pipeline.backend),
          GH_APP_ID: String(app[access].appId),
        };
        let serviceAccount: pulumi.Output<string> | undefined;
        if (pool && gcp && stack.config.cdn) {
          const sa = new GcpCiIdentity(
            prefix,
            { project: gcp.project, owner, repository: repository.name, environment, subjects: subjects(environment), trustAfter, poolName: pool.poolName, providerName: pool.providerName },
            { parent: this },
          );
          const members = plan.grants
            .filter((g): g is GcpGrant => g.cloud === "gcp" && g.environment === environment)
            .map(
              (g) =>
                new projects.IAMMember(
                  `${prefix}-${g.project}-${g.role.replace(/^roles\//, "")}`,
                  { project: g.project, role: g.role, member: pulumi.interpolate`serviceAccount:${sa.serviceAccountEmail}`, ...(g.condition ? { condition: { ...g.condition, description: g.reason } } : {}) },
                  { parent: this },
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
            access,
            stage: stack.config.stage,
            reviewers: pipeline.reviewers,
            preventSelfReview: pipeline.preventSelfReview,
            variables,
            secrets: { GH_APP_PRIVATE_KEY: args.secrets[app[access].privateKeySecret] },
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
    }

    this.environments = pulumi.all(environments).apply((entries) => Object.fromEntries(entries));
    this.rights = plan.grants.map((g) =>
      g.cloud === "azure"
        ? `${g.environment}: ${g.role} on ${g.scope}${g.condition ? " (conditioned)" : ""}`
        : `${g.environment}: ${g.role} on projects/${g.project}${g.condition ? ` (only if ${g.condition.title})` : ""}`,
    );
    this.registerOutputs({ environments: this.environments, rights: this.rights, githubApps: githubAppPermissions(stacks, owner) });
  }
}

/**
 * The pipeline stack and what an administrator needs from it: each environment's identities,
 * every right, the GitHub Apps' permissions, the backend and secrets provider, and the commands
 * that hand each deploy stack the resource group created here.
 */
export function pipelineStackOutputs(component: PipelineStack, args: PipelineStackArgs) {
  const apps = githubAppPermissions(args.stacks, args.owner);
  const backend = backendUrl(args.pipeline.backend);
  const secretsProvider = secretsProviderUrl(args.pipeline.secretsProvider);
  return {
    environments: component.environments,
    rights: component.rights,
    githubApps: {
      writer: { appId: args.pipeline.githubApps.writer.appId, ...apps.writer },
      reader: { appId: args.pipeline.githubApps.reader.appId, ...apps.reader },
    },
    backend: {
      url: backend,
      secretsProvider,
      // Run once per deploy stack by the administrator who applies this stack.
      setup: args.stacks.map((s) => `pulumi login '${backend}' && pulumi stack init ${s.stack} --secrets-provider='${secretsProvider}'`),
    },
    // Each deploy stack adopts its group (azure.adoptResourceGroup): its import file carries it.
    resourceGroupImports: args.stacks.flatMap((s) =>
      s.config.azure ? [`npm run plan -- --stack ${s.stack} --import-file ${s.stack}-import.json && pulumi import --file ${s.stack}-import.json --stack ${s.stack} --generate-code=false`] : [],
    ),
  };
}
