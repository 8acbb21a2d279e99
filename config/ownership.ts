import type { StackConfig } from "./load";

/**
 * How an object a stack manages is named, in the cross-stack check and in the stack's `managed`
 * output (which the next preview reads to tell its own objects from ones made elsewhere).
 * GitHub compares these names case-insensitively, and so do the keys.
 */
export const ownershipKey = {
  resourceGroup: (name: string) => `Azure resource group ${name}`,
  registry: (name: string) => `container registry ${name}`,
  bucket: (name: string) => `CDN bucket ${name}`,
  namespace: (clusterResourceGroup: string, cluster: string, namespace: string) => `Kubernetes namespace ${namespace} on cluster ${`${clusterResourceGroup}/${cluster}`.toLowerCase()}`,
  /** The assignment is named from registry, kubelet and role: a second stack would create (and on destroy delete) the same one. */
  kubeletAcrPull: (clusterResourceGroup: string, cluster: string, registry: string) =>
    `AcrPull of the kubelet of cluster ${`${clusterResourceGroup}/${cluster}`.toLowerCase()} on container registry ${registry} (set pullFromRegistry: false in all but one stack)`,
  githubEnvironment: (owner: string, repository: string, environment: string) => `GitHub environment ${`${owner}/${repository}`.toLowerCase()}:${environment.toLowerCase()}`,
  githubRuleset: (owner: string, repository: string, ruleset: string) => `GitHub ruleset ${`${owner}/${repository}`.toLowerCase()}:${ruleset.toLowerCase()}`,
  githubVariable: (owner: string, repository: string, variable: string) => `GitHub repository variable ${`${owner}/${repository}`.toLowerCase()}:${variable.toUpperCase()}`,
  githubDeploymentPolicy: (owner: string, repository: string, environment: string, pattern: string) =>
    `GitHub deployment policy ${`${owner}/${repository}`.toLowerCase()}:${environment.toLowerCase()}:${pattern}`,
  githubEnvironmentVariable: (owner: string, repository: string, environment: string, variable: string) =>
    `GitHub environment variable ${`${owner}/${repository}`.toLowerCase()}:${environment.toLowerCase()}:${variable.toUpperCase()}`,
  githubEnvironmentSecret: (owner: string, repository: string, environment: string, secret: string) =>
    `GitHub environment secret ${`${owner}/${repository}`.toLowerCase()}:${environment.toLowerCase()}:${secret.toUpperCase()}`,
};

/**
 * What a stack manages. Two stacks that manage the same object flap forever (each `pulumi up`
 * undoes the other, and destroying one removes what the other still needs), so every object here
 * must belong to exactly one stack file.
 */
export function ownedObjects(config: StackConfig): string[] {
  const owned: string[] = [];
  const { azure, cdn, github } = config;
  if (azure) {
    owned.push(ownershipKey.resourceGroup(azure.resourceGroup));
    const registry = azure.registry;
    if (registry && !registry.existing) owned.push(ownershipKey.registry(registry.name));
    for (const cluster of azure.clusters) {
      for (const ns of cluster.namespaces) owned.push(ownershipKey.namespace(cluster.resourceGroup, cluster.name, ns.name));
      if (cluster.pullFromRegistry && registry) owned.push(ownershipKey.kubeletAcrPull(cluster.resourceGroup, cluster.name, registry.name));
    }
  }
  if (cdn) owned.push(ownershipKey.bucket(cdn.bucket));
  for (const repo of github?.repositories ?? []) {
    const owner = github?.owner ?? "";
    const full = `${owner}/${repo.name}`.toLowerCase();
    for (const env of repo.environments) {
      owned.push(ownershipKey.githubEnvironment(owner, repo.name, env.name));
      for (const v of Object.keys(env.variables)) owned.push(ownershipKey.githubEnvironmentVariable(owner, repo.name, env.name, v));
    }
    for (const tp of new Set(repo.trustedPublishing.map((t) => t.environment.toLowerCase()))) owned.push(ownershipKey.githubEnvironment(owner, repo.name, tp));
    for (const rs of repo.rulesets) owned.push(ownershipKey.githubRuleset(owner, repo.name, rs.name));
    for (const s of repo.secrets) owned.push(`GitHub repository secret ${full}:${s.toUpperCase()}`);
    for (const v of Object.keys(repo.variables)) owned.push(ownershipKey.githubVariable(owner, repo.name, v));
    if (repo.actionsDefaults) owned.push(`GitHub Actions defaults of ${full} (set actionsDefaults: false in all but one stack)`);
  }
  return owned;
}

/**
 * What a stack manages inside its environments: deployment policies (`branch:<pattern>`,
 * `tag:<pattern>`) and secrets. The cross-stack check covers them through their environment; the
 * stack's `managed` output lists them too, so that the next preview tells one the config dropped
 * (which the update deletes) from one added by hand (components/githubTakeOver.ts).
 */
export function ownedWithinEnvironments(config: StackConfig): string[] {
  const owner = config.github?.owner ?? "";
  const owned: string[] = [];
  for (const repo of config.github?.repositories ?? []) {
    const environments = [
      ...repo.environments.map((env) => ({ name: env.name, deployFrom: env.deployFrom, secrets: env.secrets })),
      ...repo.trustedPublishing.map((tp) => ({ name: tp.environment, deployFrom: tp.deployFrom, secrets: [] })),
    ];
    for (const env of environments) {
      for (const kind of ["branch", "tag"] as const) {
        for (const pattern of kind === "branch" ? env.deployFrom.branches : env.deployFrom.tags) owned.push(ownershipKey.githubDeploymentPolicy(owner, repo.name, env.name, `${kind}:${pattern}`));
      }
      for (const secret of env.secrets) owned.push(ownershipKey.githubEnvironmentSecret(owner, repo.name, env.name, secret));
    }
  }
  return [...new Set(owned)];
}

/** One line per object that more than one stack file manages, naming every such file. */
export function ownershipConflicts(stacks: { file: string; config: StackConfig }[]): string[] {
  const owners = new Map<string, string[]>();
  for (const { file, config } of stacks) {
    for (const object of new Set(ownedObjects(config))) owners.set(object, [...(owners.get(object) ?? []), file]);
  }
  return [...owners.entries()]
    .filter(([, files]) => files.length > 1)
    .map(([object, files]) => `${files.join(" and ")}: both manage ${object}; exactly one stack may own it`)
    .sort();
}

/**
 * References to a registry another stack creates, checked against where that stack creates it:
 * a wrong resource group plans fine alone and fails at the first `pulumi up` (404).
 */
export function registryReferenceProblems(stacks: { file: string; config: StackConfig }[]): string[] {
  const created = new Map<string, { file: string; resourceGroup: string }>();
  for (const { file, config } of stacks) {
    const registry = config.azure?.registry;
    // An adopted registry may live in a group of its own (registry.resourceGroup).
    if (config.azure && registry && !registry.existing) created.set(registry.name, { file, resourceGroup: registry.resourceGroup ?? config.azure.resourceGroup });
  }
  const problems: string[] = [];
  const check = (file: string, key: string, name: string, resourceGroup: string) => {
    const owner = created.get(name);
    if (owner && owner.file !== file && owner.resourceGroup.toLowerCase() !== resourceGroup.toLowerCase()) {
      problems.push(`${file}: ${key}: registry ${name} is created by ${owner.file} in resource group ${owner.resourceGroup}, not ${resourceGroup}; set resourceGroup: ${owner.resourceGroup}`);
    }
  };
  for (const { file, config } of stacks) {
    const azure = config.azure;
    const registry = azure?.registry;
    if (!azure || !registry) continue;
    if (registry.existing) check(file, "release-infra:azure.registry.resourceGroup", registry.name, registry.resourceGroup ?? azure.resourceGroup);
    for (const source of registry.importFrom) check(file, `release-infra:azure.registry.importFrom[${source.name}].resourceGroup`, source.name, source.resourceGroup);
  }
  return problems.sort();
}

/** Everything wrong between stack files: shared objects, and references that miss what another stack creates. */
export function crossStackProblems(stacks: { file: string; config: StackConfig }[]): string[] {
  return [...ownershipConflicts(stacks), ...registryReferenceProblems(stacks), ...pipelineGroupProblems(stacks)];
}

/**
 * The pipeline stack creates each deploy stack's resource group (so it can grant on it before
 * that stack's first `up`): the deploy stack must adopt it, or its first preview finds it existing.
 */
export function pipelineGroupProblems(stacks: { file: string; config: StackConfig }[]): string[] {
  const pipeline = stacks.find((s) => s.config.pipeline !== undefined);
  if (!pipeline) return [];
  return stacks
    .filter((s) => s.config.azure && !s.config.azure.adoptResourceGroup && s.config.pipeline === undefined)
    .map((s) => `${s.file}: release-infra:azure.adoptResourceGroup: must be true: ${pipeline.file} creates resource group ${s.config.azure?.resourceGroup}, and this stack imports it (docs/migration.md)`);
}
