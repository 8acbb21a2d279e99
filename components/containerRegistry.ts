import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as containerregistry from "@pulumi/azure-native/containerregistry";
import type { AccessConfig, RegistryConfig, Stage } from "../config/load";
import { grantRole } from "./roleAssignment";

/**
 * Built-in role definition ids: AVM `builtInRoleNames` (Azure/bicep-registry-modules,
 * avm/res/container-registry/registry/main.bicep) and
 * https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers; the importer
 * role is what https://learn.microsoft.com/azure/container-registry/container-registry-import-images asks for.
 */
export const ROLES = {
  acrpull: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
  acrpush: "8311e382-0749-4cb8-b61a-304f252e45ec",
  /** "Container Registry Data Importer and Data Reader": what `az acr import` needs on source and target. */
  importer: "577a9874-89fd-4f24-9dbd-b5034d0ad23a",
} as const;
type Role = keyof typeof ROLES;

/** A principal that may pull from or push to the registry. */
export interface RegistryPrincipal {
  /** Stable key (cluster or `<repository>-<environment>` name); names the assignment, so never a list position. */
  name: string;
  /** Object (principal) id of the managed identity or service principal. */
  principalId: pulumi.Input<string>;
}

/** A CI identity and what it may do on the registry. */
export interface CiRegistryPrincipal extends RegistryPrincipal {
  /** pull: AcrPull; push: AcrPush; promote: importer role on this registry and on every `importFrom` source. */
  access: NonNullable<AccessConfig["registry"]>;
}

export interface ContainerRegistryArgs {
  /** The stack's registry: created here, or (`existing: true`) owned by another stack and only granted on. */
  registry: RegistryConfig;
  /** Resource group the registry is created in, and of an existing registry without its own `resourceGroup`. */
  resourceGroupName: pulumi.Input<string>;
  /** Azure region of the created registry and its purge task. */
  location: pulumi.Input<string>;
  /** prod protects the registry from deletion. */
  stage: Stage;
  /** Tags on the registry and its purge task. */
  tags: Record<string, string>;
  /** AKS kubelet identities that get AcrPull. */
  kubeletPrincipals: RegistryPrincipal[];
  /** CI identities and their access. */
  ciPrincipals: CiRegistryPrincipal[];
}

/** The `acr purge` command of the scheduled task (acr-cli: `--untagged` and `--untagged-only` are exclusive). */
export function purgeCommand(purge: NonNullable<RegistryConfig["purge"]>): string {
  const mode = purge.untaggedOnly ? "--untagged-only" : "--untagged";
  return `acr purge --filter '${purge.filter}' --ago ${purge.olderThanDays}d ${mode}`;
}

/**
 * The stack's Azure Container Registry (or a reference to one another stack owns) and who may use
 * it: AcrPull for AKS kubelets, AcrPull/AcrPush for CI, and the importer role on target and sources
 * for promotion with `az acr import`. Every grant is scoped to a registry, never wider.
 */
export class ContainerRegistry extends pulumi.ComponentResource {
  /** ARM id of the registry. */
  public readonly registryId: pulumi.Output<string>;
  /** e.g. `acmeprodacr.azurecr.io`. */
  public readonly loginServer: pulumi.Output<string>;
  public readonly registryName: pulumi.Output<string>;
  public readonly resourceGroupName: pulumi.Output<string>;
  /** Ids of each CI principal's role assignments, by principal name: wire them into the identity's client id. */
  public readonly ciAssignmentIds: Record<string, pulumi.Output<string>[]>;
  /** Ids of each kubelet's AcrPull assignment, by principal name. */
  public readonly kubeletAssignmentIds: Record<string, pulumi.Output<string>[]>;

  constructor(name: string, args: ContainerRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("release-infra:azure:ContainerRegistry", name, args, opts);
    const cfg = args.registry;
    const subscriptionId = authorization.getClientConfigOutput({ parent: this }).subscriptionId;
    const rgName = cfg.existing && cfg.resourceGroup ? cfg.resourceGroup : args.resourceGroupName;
    // Built from names known in a preview (unlike a new registry's id), so the plan shows each grant's target.
    const scopeOf = (resourceGroup: pulumi.Input<string>, registryName: string) =>
      pulumi.interpolate`/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${registryName}`;
    const targetScope = scopeOf(rgName, cfg.name);

    let target: { scope: pulumi.Output<string>; dependsOn: pulumi.Resource[] };
    if (cfg.existing) {
      const existing = containerregistry.getRegistryOutput({ registryName: cfg.name, resourceGroupName: rgName }, { parent: this });
      this.registryId = existing.id;
      this.loginServer = existing.loginServer;
      this.registryName = existing.name;
      target = { scope: existing.id, dependsOn: [] };
    } else {
      const registry = this.createRegistry(name, args);
      this.registryId = registry.id;
      this.loginServer = registry.loginServer;
      this.registryName = registry.name;
      target = { scope: targetScope, dependsOn: [registry] };
      if (cfg.purge) this.createPurgeTask(name, args, cfg.purge, registry);
    }
    this.resourceGroupName = pulumi.output(rgName);

    const sources = cfg.importFrom.map((source) => ({
      name: source.name,
      guidScope: scopeOf(source.resourceGroup, source.name),
      // Read, not built: a missing source registry fails the preview instead of the first promotion.
      scope: containerregistry.getRegistryOutput({ registryName: source.name, resourceGroupName: source.resourceGroup }, { parent: this }).id,
    }));

    const assign = (
      logicalName: string,
      principal: RegistryPrincipal,
      principalKey: string,
      role: Role,
      scope: pulumi.Output<string>,
      guidScope: pulumi.Output<string>,
      dependsOn: pulumi.Resource[],
    ): pulumi.Output<string> =>
      grantRole(
        logicalName,
        {
          principalId: principal.principalId,
          principalKey,
          roleId: ROLES[role],
          scope,
          // From config names only, so the name is stable and known in a preview.
          nameScope: guidScope,
          subscriptionId,
          description: `release-infra: ${role} for ${principalKey}`,
        },
        { parent: this, dependsOn },
      ).id;

    this.kubeletAssignmentIds = {};
    for (const kubelet of args.kubeletPrincipals) {
      this.kubeletAssignmentIds[kubelet.name] = [
        assign(`${name}-kubelet-${kubelet.name}-acrpull`, kubelet, `kubelet:${kubelet.name}`, "acrpull", target.scope, targetScope, target.dependsOn),
      ];
    }

    this.ciAssignmentIds = {};
    for (const ci of args.ciPrincipals) {
      const key = `ci:${ci.name}`;
      const prefix = `${name}-ci-${ci.name}`;
      if (ci.access === "promote") {
        this.ciAssignmentIds[ci.name] = [
          assign(`${prefix}-importer-${cfg.name}`, ci, key, "importer", target.scope, targetScope, target.dependsOn),
          ...sources.map((source) => assign(`${prefix}-importer-${source.name}`, ci, key, "importer", source.scope, source.guidScope, [])),
        ];
      } else {
        const role: Role = ci.access === "push" ? "acrpush" : "acrpull";
        this.ciAssignmentIds[ci.name] = [assign(`${prefix}-${role}`, ci, key, role, target.scope, targetScope, target.dependsOn)];
      }
    }

    this.registerOutputs({
      registryId: this.registryId,
      loginServer: this.loginServer,
      registryName: this.registryName,
      resourceGroupName: this.resourceGroupName,
      ciAssignmentIds: this.ciAssignmentIds,
      kubeletAssignmentIds: this.kubeletAssignmentIds,
    });
  }

  private createRegistry(name: string, args: ContainerRegistryArgs): containerregistry.Registry {
    const cfg = args.registry;
    if (!cfg.sku) throw new Error(`registry ${cfg.name}: sku is required for a registry this stack creates`);
    const premium = cfg.sku === "Premium";
    return new containerregistry.Registry(
      `${name}-registry`,
      {
        registryName: cfg.name,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        sku: { name: cfg.sku },
        adminUserEnabled: false,
        anonymousPullEnabled: false,
        // Trusted services: `az acr import` and ACR Tasks keep working if networking is restricted later.
        networkRuleBypassOptions: "AzureServices",
        // Premium-only settings; no trustPolicy: content trust is deprecated and Azure rejects enabling it.
        zoneRedundancy: premium && cfg.zoneRedundant !== undefined ? (cfg.zoneRedundant ? "Enabled" : "Disabled") : undefined,
        policies:
          premium && cfg.untaggedRetentionDays !== undefined
            ? { retentionPolicy: { status: "enabled", days: cfg.untaggedRetentionDays } }
            : undefined,
        tags: args.tags,
      },
      { parent: this, protect: args.stage === "prod" },
    );
  }

  private createPurgeTask(
    name: string,
    args: ContainerRegistryArgs,
    purge: NonNullable<RegistryConfig["purge"]>,
    registry: containerregistry.Registry,
  ): containerregistry.Task {
    // The task YAML `az acr task create --cmd` would generate; JSON strings are valid YAML scalars.
    const taskYaml = [
      "version: v1.1.0",
      "steps:",
      `  - cmd: ${JSON.stringify(purgeCommand(purge))}`,
      "    disableWorkingDirectoryOverride: true",
      "    timeout: 3600",
      "",
    ].join("\n");
    return new containerregistry.Task(
      `${name}-purge`,
      {
        taskName: "acr-purge",
        registryName: args.registry.name,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        platform: { os: "Linux" },
        status: "Enabled",
        step: { type: "EncodedTask", encodedTaskContent: Buffer.from(taskYaml).toString("base64") },
        // ACR task schedules are UTC.
        trigger: { timerTriggers: [{ name: "purge-schedule", schedule: purge.schedule, status: "Enabled" }] },
        timeout: 3600,
        tags: args.tags,
      },
      { parent: this, dependsOn: [registry] },
    );
  }
}
