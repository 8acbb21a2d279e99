import type { StackConfig } from "./load";

/**
 * What a stack manages. Two stacks that manage the same object flap forever (each `pulumi up`
 * undoes the other), so every object here must belong to exactly one stack file.
 */
export function ownedObjects(config: StackConfig): string[] {
  const owned: string[] = [];
  const { azure, cdn, github } = config;
  if (azure) {
    owned.push(`Azure resource group ${azure.resourceGroup}`);
    if (azure.registry && !azure.registry.existing) owned.push(`container registry ${azure.registry.name}`);
    for (const cluster of azure.clusters) {
      for (const ns of cluster.namespaces) owned.push(`Kubernetes namespace ${ns.name} on cluster ${cluster.resourceGroup}/${cluster.name}`);
    }
  }
  if (cdn) owned.push(`CDN bucket ${cdn.bucket}`);
  for (const repo of github?.repositories ?? []) {
    // GitHub compares these names case-insensitively, and so do we.
    const full = `${github?.owner}/${repo.name}`.toLowerCase();
    for (const env of repo.environments) owned.push(`GitHub environment ${full}:${env.name.toLowerCase()}`);
    for (const tp of repo.trustedPublishing) owned.push(`GitHub environment ${full}:${tp.environment.toLowerCase()}`);
    for (const rs of repo.rulesets) owned.push(`GitHub ruleset ${full}:${rs.name.toLowerCase()}`);
    for (const s of repo.secrets) owned.push(`GitHub repository secret ${full}:${s.toUpperCase()}`);
    for (const v of Object.keys(repo.variables)) owned.push(`GitHub repository variable ${full}:${v.toUpperCase()}`);
    if (repo.actionsDefaults) owned.push(`GitHub Actions defaults of ${full} (set actionsDefaults: false in all but one stack)`);
  }
  return owned;
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
