import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as resources from "@pulumi/azure-native/resources";
import { isOfflinePlan, loadStackConfig, type AccessConfig, type EnvironmentConfig, type RepositoryConfig } from "./config/load";
import { ownedObjects, ownedWithinEnvironments, ownershipKey } from "./config/ownership";
import { trustedSubjectForms, type WIRED_VARIABLES } from "./config/schema";
import { adoptedObjects, keptWhenAdopted, type Adoption } from "./components/adoption";
import { armEndpoint, resourceGroupExists } from "./components/arm";
import { AksCluster, type Deployer } from "./components/aksCluster";
import { AzureCiIdentity } from "./components/azureCiIdentity";
import { CdnSite } from "./components/cdnSite";
import { ClusterNamespace } from "./components/clusterNamespace";
import { ContainerRegistry, type PromotionCommand } from "./components/containerRegistry";
import { GcpCiIdentity } from "./components/gcpCiIdentity";
import { GcpWorkloadIdentityPool } from "./components/gcpWorkloadIdentityPool";
import { GithubLookups } from "./components/githubLookups";
import { githubSettingsProblems } from "./components/githubSettingsCheck";
import { environmentSubjects } from "./components/githubOidc";
import { governanceName, RepositoryGovernance } from "./components/repositoryGovernance";
import { PipelineStack, pipelineStackOutputs } from "./components/pipelineStack";
import { checksTakeOver, PREVIEW_CHECKS_FAILED, takeOverProblems } from "./components/takeOver";
import { renamedPartAliases } from "./components/locations";
import { loadStackSet, pipelineStackBeside } from "./config/stackSet";

// Config in, components out, outputs of one component wired into inputs of another.
const config = loadStackConfig();
const { stack, stage, tags } = config;
const owner = config.github?.owner ?? "";
const prod = stage === "prod";

/**
 * The `managed` output of this stack's last update, read through a reference to the stack itself
 * (none before the first update). With the stack's state it tells the stack's own objects from
 * ones made elsewhere: a preview stops on an object the config declares that exists and is neither
 * (components/takeOver.ts), instead of a failed or silent take-over in the update.
 */
const managedBefore = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}`)
  .getOutput("managed")
  .apply((list: unknown) => (Array.isArray(list) ? list.filter((k): k is string => typeof k === "string") : []));
/** Objects that exist already and are imported instead of created (npm run plan -- --import-file). */
const adoptions: Adoption[] = [];
/** Per component, in a preview: objects it declares that exist already and are not this stack's. */
const takeOvers: pulumi.Output<string[]>[] = [];

// Pulumi.pipeline.yaml (release-infra:pipeline) holds no deploy section: it creates what the
// workflows run as, for the deploy stacks beside it, and nothing below applies to it.
/** ARM of the provider's cloud, for the program's own reads (components/arm.ts); asked only by stacks that use Azure. */
let cloudArm: pulumi.Output<string> | undefined;
const armEndpointOfCloud = () => (cloudArm ??= pulumi.output(armEndpoint(config.azureCloud)));
const pipelineArgs = config.pipeline && { stack: pulumi.getStack(), armEndpoint: armEndpointOfCloud(), owner: config.pipeline.owner, pipeline: config.pipeline, location: config.pipeline.location, tags, stacks: loadStackSet().stacks, managedBefore };
const pipelineStack = pipelineArgs && new PipelineStack("pipeline", pipelineArgs);
/** The pipeline stack's environments, rights, GitHub App permissions and backend setup; null in a deploy stack. */
export const pipeline = pipelineArgs && pipelineStack ? pipelineStackOutputs(pipelineStack, pipelineArgs) : null;
if (pipelineStack) {
  adoptions.push(...pipelineStack.adoptions);
  takeOvers.push(pipelineStack.takeOverProblems);
}

/**
 * An environment whose CI identity gets cloud access; `key` (`repo-env`, lower-cased: GitHub
 * compares repository and environment names case-insensitively,
 * https://docs.github.com/actions/reference/workflows-and-actions/deployments-and-environments)
 * names everything made for it, so a change of case in the config keeps every URN.
 */
interface AccessEnvironment {
  key: string;
  /** `repo-env` as written: what release-infra named everything after before keys were lower-cased. */
  writtenKey: string;
  repo: RepositoryConfig;
  env: EnvironmentConfig;
  access: AccessConfig;
  /** The OIDC subjects its identities trust: the forms the repository's oidcSubjects names. */
  subjects: string[];
  /** GitHub must spell owner and repository as configured and send the default subject template, or the preview fails. */
  trustAfter: pulumi.Output<unknown>[];
}
const ownerId = config.github?.ownerId;
/** One lookup of each team, user and repository per stack, however many environments need it. */
const lookups = new GithubLookups(owner);
function environmentKey(repository: string, environment: string): string {
  return `${repository}-${environment}`.toLowerCase();
}
const accessEnvironments: AccessEnvironment[] = (config.github?.repositories ?? []).flatMap((repo) =>
  repo.environments.flatMap((env) =>
    env.access
      ? [
          {
            key: environmentKey(repo.name, env.name),
            writtenKey: `${repo.name}-${env.name}`,
            repo,
            env,
            access: env.access,
            subjects: environmentSubjects(trustedSubjectForms(repo, ownerId), { owner, repository: repo.name, environment: env.name, ownerId, repositoryId: repo.id }),
            trustAfter: [lookups.repository(repo.name, repo.id), lookups.defaultSubjectTemplate(repo.name)],
          },
        ]
      : [],
  ),
);

/**
 * For the components that name resources after environment keys: aliases to the names made from
 * keys as written, so stacks created before keys were lower-cased keep their state.
 */
const writtenKeys: pulumi.ComponentResourceOptions = {
  transformations: [renamedPartAliases(new Map(accessEnvironments.map((e) => [e.key, e.writtenKey])))],
};

type WiredVariable = (typeof WIRED_VARIABLES)[number];
/** Per environment key: each wired variable's value and, for reviewers of the plan, where it comes from. */
const wiring = new Map<string, Partial<Record<WiredVariable, { value: pulumi.Input<string>; source: string }>>>();
function wire(key: string, variable: WiredVariable, value: pulumi.Input<string>, source: string) {
  wiring.set(key, { ...wiring.get(key), [variable]: { value, source } });
}

/** A value that resolves only once `after` exist, so a workflow never receives a half-built identity. */
function readyAfter(value: pulumi.Output<string>, after: pulumi.Input<string>[]): pulumi.Output<string> {
  return pulumi.all([value, ...after]).apply(([v]) => v);
}

// ---------------------------------------------------------------------------------------------
// Azure: resource group, CI identities, clusters and namespaces, registry.

// null rather than undefined: Pulumi warns about undefined stack outputs.
export let registryLoginServer: pulumi.Output<string> | null = null;
/** Per importFrom source: the `az acr import` by digest and the tag lock (docs/deploying.md#promotion). */
export let promotion: pulumi.Output<PromotionCommand[]> | null = null;
export let namespaces: pulumi.Output<string>[] | null = null;

if (config.azure) {
  const azure = config.azure;
  const client = authorization.getClientConfigOutput();
  const groupId = pulumi.interpolate`/subscriptions/${client.subscriptionId}/resourceGroups/${azure.resourceGroup}`;
  const group = new resources.ResourceGroup(
    "resource-group",
    { resourceGroupName: azure.resourceGroup, location: azure.location, tags },
    // Deleting the group deletes the registry and every identity in it. An adopted group keeps
    // its tags without release-infra:tags (Azure replaces them as a whole) and its managedBy.
    { protect: prod, ignoreChanges: keptWhenAdopted(azure.adoptResourceGroup, { tags: Object.keys(tags).length > 0 ? tags : undefined, managedBy: undefined }) },
  );
  // azure-native refuses to create a group that exists ("cannot create already existing resource").
  if (checksTakeOver(managedBefore)) {
    takeOvers.push(
      takeOverProblems(
        [
          {
            key: ownershipKey.resourceGroup(azure.resourceGroup),
            what: `Azure resource group ${azure.resourceGroup}`,
            adoptKey: "release-infra:azure.adoptResourceGroup: true",
            adopted: azure.adoptResourceGroup,
            exists: pulumi.all([armEndpointOfCloud(), groupId, authorization.getClientTokenOutput().token]).apply(([endpoint, id, token]) => resourceGroupExists(endpoint, id, token)),
            resource: group,
          },
        ],
        managedBefore,
      ),
    );
  }
  if (azure.adoptResourceGroup) adoptions.push({ resource: group, importId: groupId });
  // Known in a preview (so scopes and names are readable), and still ordered after the group.
  const resourceGroupName = group.urn.apply(() => azure.resourceGroup);

  const identities = new Map<string, AzureCiIdentity>();
  for (const e of accessEnvironments.filter((e) => e.access.registry || e.access.namespaces.length > 0)) {
    identities.set(
      e.key,
      new AzureCiIdentity(`ci-${e.key}`, {
        owner,
        repository: e.repo.name,
        environment: e.env.name,
        subjects: e.subjects,
        trustAfter: e.trustAfter,
        resourceGroupName,
        location: azure.location,
        tags,
        previousName: `ci-${e.writtenKey}`,
      }, writtenKeys),
    );
  }
  const deployersOf = (cluster: string, namespace?: string): Deployer[] =>
    accessEnvironments
      .filter((e) => e.access.namespaces.some((ref) => ref.cluster === cluster && (namespace === undefined || ref.namespace === namespace)))
      .flatMap((e) => {
        const identity = identities.get(e.key);
        return identity ? [{ name: e.key, principalId: identity.principalId }] : [];
      });

  // With a pipeline stack beside it, that stack defines the namespace deployer roles (components/pipelineStack.ts).
  const pipelineBeside = pipelineStackBeside();
  const clusters = new Map<string, AksCluster>();
  const clusterNamespaces = new Map<string, ClusterNamespace>();
  for (const cluster of azure.clusters) {
    const aks = new AksCluster(cluster.name, { cluster, deployers: deployersOf(cluster.name), ownerResourceGroup: azure.resourceGroup, readsNamespaces: !isOfflinePlan(), definesDeployerRole: !pipelineBeside }, writtenKeys);
    clusters.set(cluster.name, aks);
    for (const namespace of cluster.namespaces) {
      const clusterNamespace = new ClusterNamespace(`${cluster.name}-${namespace.name}`, {
        namespace,
        provider: aks.provider,
        clusterId: aks.clusterId,
        deployerRole: aks.deployerRole,
        stage,
        stack,
        deployers: deployersOf(cluster.name, namespace.name),
        takeOver: {
          exists: aks.existingNamespaces.apply((found) => found.includes(namespace.name)),
          key: ownershipKey.namespace(cluster.resourceGroup, cluster.name, namespace.name),
          clusterName: cluster.name,
          managedBefore,
        },
      }, writtenKeys);
      clusterNamespaces.set(`${cluster.name}/${namespace.name}`, clusterNamespace);
      takeOvers.push(clusterNamespace.takeOverProblems);
    }
  }
  namespaces = [...clusterNamespaces.values()].map((ns) => ns.namespaceName);
  adoptions.push(...[...clusterNamespaces.values()].flatMap((ns) => ns.adoptions));

  const registry =
    azure.registry &&
    new ContainerRegistry("registry", {
      armEndpoint: armEndpointOfCloud(),
      registry: azure.registry,
      resourceGroupName,
      location: azure.location,
      stage,
      tags,
      kubeletPrincipals: azure.clusters
        .filter((cluster) => cluster.pullFromRegistry)
        .map((cluster) => ({
          name: cluster.name,
          adoptAssignment: cluster.adoptAcrPull,
          takeOver: {
            key: ownershipKey.kubeletAcrPull(cluster.resourceGroup, cluster.name, azure.registry?.name ?? ""),
            adoptKey: `release-infra:azure.clusters[${cluster.name}].adoptAcrPull`,
          },
          principalId: (clusters.get(cluster.name)?.kubeletObjectId ?? pulumi.output(undefined)).apply((id) => {
            if (!id) throw new Error(`cluster ${cluster.name} has no managed kubelet identity to grant AcrPull to; set pullFromRegistry: false`);
            return id;
          }),
        })),
      ciPrincipals: accessEnvironments.flatMap((e) => {
        const identity = identities.get(e.key);
        return e.access.registry && identity ? [{ name: e.key, principalId: identity.principalId, access: e.access.registry }] : [];
      }),
      managedBefore,
    }, writtenKeys);
  if (registry) {
    adoptions.push(...registry.adoptions);
    takeOvers.push(registry.takeOverProblems);
  }
  registryLoginServer = registry ? registry.loginServer : null;
  promotion = registry && azure.registry?.importFrom.length ? registry.promotion : null;

  for (const e of accessEnvironments) {
    const identity = identities.get(e.key);
    if (!identity) continue;
    // Every namespace the identity may deploy to, as a list; the single variables only when there is exactly one.
    const targets = e.access.namespaces.flatMap((ref) => {
      const aks = clusters.get(ref.cluster);
      const ns = clusterNamespaces.get(`${ref.cluster}/${ref.namespace}`);
      return aks && ns ? [{ ref, aks, ns }] : [];
    });
    const grants = [
      ...(registry?.ciAssignmentIds[e.key] ?? []),
      ...e.access.namespaces.flatMap((ref) => [
        clusters.get(ref.cluster)?.clusterUserAssignmentIds[e.key],
        clusterNamespaces.get(`${ref.cluster}/${ref.namespace}`)?.writerAssignmentIds[e.key],
      ]),
    ].filter((id): id is pulumi.Output<string> => id !== undefined);
    wire(e.key, "AZURE_CLIENT_ID", readyAfter(identity.clientId, grants), `clientId of ci-${e.key}, after its federated credential and ${grants.length} role assignment(s)`);
    wire(e.key, "AZURE_TENANT_ID", identity.tenantId, `tenantId of ci-${e.key}`);
    wire(e.key, "AZURE_SUBSCRIPTION_ID", identity.subscriptionId, `subscription of the deploying Azure client`);
    if (registry && e.access.registry) wire(e.key, "REGISTRY_LOGIN_SERVER", registry.loginServer, `loginServer of registry ${azure.registry?.name}`);
    if (targets.length > 0) {
      const list = pulumi
        .all(targets.map(({ aks, ns }) => pulumi.all([aks.clusterName, aks.resourceGroupName, ns.namespaceName])))
        .apply((all) => JSON.stringify(all.map(([cluster, resourceGroup, namespace]) => ({ cluster, resourceGroup, namespace }))));
      const names = targets.map(({ ref }) => `${ref.namespace} on ${ref.cluster}`).join(", ");
      wire(e.key, "K8S_NAMESPACES", list, `JSON list of { cluster, resourceGroup, namespace }: ${names}, each after its quota, limits, policies and role assignments`);
    }
    if (targets.length === 1) {
      const [{ ref, aks, ns }] = targets;
      wire(e.key, "AKS_CLUSTER_NAME", aks.clusterName, `existing cluster ${ref.cluster}`);
      wire(e.key, "AKS_RESOURCE_GROUP", aks.resourceGroupName, `resource group of cluster ${ref.cluster}`);
      wire(e.key, "K8S_NAMESPACE", ns.namespaceName, `namespace ${ref.namespace} on ${ref.cluster}, after its quota, limits, policies and role assignments`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GCP: the CDN and the identities that publish to it.

export let cdn: {
  baseUrl: pulumi.Output<string>;
  bucket: pulumi.Output<string>;
  urlMap: pulumi.Output<string>;
  ipAddress: pulumi.Output<string>;
  /** DNS records to create, in order (certificate authorization CNAMEs, then A records). */
  dnsRecords: CdnSite["dnsRecords"];
} | null = null;

if (config.cdn) {
  const publishing = accessEnvironments.filter((e) => e.access.cdn === "publish");
  const identities = new Map<string, GcpCiIdentity>();
  if (publishing.length > 0) {
    const pool = new GcpWorkloadIdentityPool("github", {
      project: config.cdn.project,
      poolId: `github-${stack}`,
      owner,
      // Pinned by immutable repository id, so a deleted and re-created repository cannot publish.
      repositories: [...new Map(publishing.map((e) => [e.repo.name, e.repo])).values()].map((repo) => ({
        name: repo.name,
        id: repo.id !== undefined ? String(repo.id) : lookups.repository(repo.name).id.apply(String),
      })),
    });
    for (const e of publishing) {
      identities.set(
        e.key,
        new GcpCiIdentity(`ci-${e.key}`, {
          project: config.cdn.project,
          owner,
          repository: e.repo.name,
          environment: e.env.name,
          subjects: e.subjects,
          trustAfter: e.trustAfter,
          poolName: pool.poolName,
          providerName: pool.providerName,
          previousName: `ci-${e.writtenKey}`,
        }, writtenKeys),
      );
    }
  }
  const site = new CdnSite("cdn", {
    cdn: config.cdn,
    project: config.cdn.project,
    stage,
    labels: tags,
    publishers: publishing.flatMap((e) => {
      const identity = identities.get(e.key);
      return identity ? [{ name: e.key, serviceAccountEmail: identity.serviceAccountEmail }] : [];
    }),
    managedBefore,
    // With a pipeline stack beside it, that stack defines the CDN's custom roles (components/pipelineStack.ts).
    definesCustomRoles: !pipelineStackBeside(),
  }, writtenKeys);
  adoptions.push(...site.adoptions);
  takeOvers.push(site.takeOverProblems);
  cdn = { baseUrl: site.baseUrl, bucket: site.bucketName, urlMap: site.urlMapName, ipAddress: site.ipAddress, dnsRecords: site.dnsRecords };

  for (const e of publishing) {
    const identity = identities.get(e.key);
    if (!identity) continue;
    wire(e.key, "GCP_WORKLOAD_IDENTITY_PROVIDER", identity.workloadIdentityProvider, `provider of pool github-${stack}`);
    // The service account is usable once it may upload and invalidate, hence the CDN outputs.
    wire(e.key, "GCP_SERVICE_ACCOUNT", readyAfter(identity.serviceAccountEmail, [site.bucketName, site.urlMapName]), `service account of ci-${e.key}, after its CDN grants`);
    wire(e.key, "CDN_BUCKET", site.bucketName, `bucket ${config.cdn.bucket}`);
    wire(e.key, "CDN_URL_MAP", site.urlMapName, `URL map of the CDN (cache invalidation)`);
    wire(e.key, "CDN_BASE_URL", site.baseUrl, `https://${config.cdn.domains[0]}`);
  }
}

// ---------------------------------------------------------------------------------------------
// GitHub: environments with their wired variables, secrets, rulesets, trusted publishing.

const governed: RepositoryGovernance[] = [];
for (const repo of config.github?.repositories ?? []) {
  const wiredVariables = Object.fromEntries(
    repo.environments.flatMap((env) => {
      const wired = wiring.get(environmentKey(repo.name, env.name));
      return wired ? [[env.name, Object.fromEntries(Object.entries(wired).map(([variable, w]) => [variable, w.value]))]] : [];
    }),
  );
  // One component per repository creates all its environments, whichever list names them.
  const governance = new RepositoryGovernance(governanceName(repo.name), { owner, repository: repo, stage, secrets: config.secrets, wiredVariables, lookups, managedBefore });
  adoptions.push(...governance.adoptions);
  takeOvers.push(governance.takeOverProblems);
  if (checksTakeOver(managedBefore)) {
    const withAccess = repo.environments.some((env) => env.access);
    takeOvers.push(githubSettingsProblems({ owner, repository: repo, trustedForms: withAccess ? trustedSubjectForms(repo, ownerId) : undefined, lookups }));
  }
  governed.push(governance);
}
/** What to enter on each package registry, one per package. */
export const trustedPublishers = pulumi.all(governed.map((g) => g.trustedPublishers)).apply((lists) => lists.flat());

export { stage };
/** Each adopted object: the URN of the resource that manages it and its import id (the plan's --import-file). */
export const adopted = adoptedObjects(adoptions);

/**
 * What this stack manages (config/ownership.ts), for the next preview. A preview that found
 * objects to take over fails here with one line for each, and the update never starts.
 */
export const managed = pulumi.all(takeOvers).apply((lists) => {
  const problems = lists.flat();
  // RunError: the message is the whole story, no stack trace.
  if (problems.length > 0) throw new pulumi.RunError([PREVIEW_CHECKS_FAILED, ...problems].join("\n"));
  return [...ownedObjects(config), ...ownedWithinEnvironments(config)].sort();
});
/** Each wired environment variable's value and where it comes from, per `owner/repo:environment`. */
export const wiredVariables = Object.fromEntries(
  accessEnvironments.map((e) => [`${owner}/${e.repo.name}:${e.env.name}`, wiring.get(e.key) ?? {}]),
);
