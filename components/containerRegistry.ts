import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as containerregistry from "@pulumi/azure-native/containerregistry";
import type { AccessConfig, RegistryConfig, Stage } from "../config/load";
import { ownershipKey } from "../config/ownership";
import { keptWhenAdopted, type Adoption } from "./adoption";
import { armGet, armList, PUBLIC_ARM_ENDPOINT } from "./arm";
import { grantRole, roleAssignmentName, type RoleGrant } from "./roleAssignment";
import { checksTakeOver, takeOverProblems, type TakeOverProbe } from "./takeOver";
import { AZURE_BUILT_IN_ROLES } from "./roleCatalogue";

/**
 * Built-in role definition ids: AVM `builtInRoleNames` (Azure/bicep-registry-modules,
 * avm/res/container-registry/registry/main.bicep) and
 * https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers.
 */
export const REGISTRY_ROLES = {
  acrpull: AZURE_BUILT_IN_ROLES.AcrPull.id,
  acrpush: AZURE_BUILT_IN_ROLES.AcrPush.id,
  /**
   * "Container Registry Data Importer and Data Reader": triggers `az acr import` into the registry it is
   * granted on. Its importImage/action accepts any source (another ACR, Docker Hub, any registry with
   * credentials) and `--force` alike, so it may overwrite any unlocked tag: granted on the promotion
   * target only, never on a source.
   */
  importer: AZURE_BUILT_IN_ROLES["Container Registry Data Importer and Data Reader"].id,
  /**
   * "Reader" on a promotion source: `az acr import --registry <source id>` resolves the source by its
   * resource id (Microsoft.ContainerRegistry/registries/read) and pulls from it; Reader's `*\/read` covers
   * both, including registries/pull/read, AcrPull's one action. Read-only: no push, no import into the
   * source. The import page asked for exactly this ("read from the source registry (Reader role)",
   * MicrosoftDocs/azure-docs articles/container-registry/container-registry-import-images.md) before it
   * switched to the importer role, which would also let the identity import into the source.
   */
  reader: AZURE_BUILT_IN_ROLES.Reader.id,
} as const;
type Role = keyof typeof REGISTRY_ROLES;

/**
 * The first stable ARM API version whose registry GET returns `roleAssignmentMode` (2025-04-01 has
 * none; azure-rest-api-specs specification/containerregistry/.../Registry/Registry.models.tsp). The
 * Registry type of azure-native 3.x uses 2023-01-01-preview and cannot set or read the mode, and its
 * generic `resources.getResource` always sends the resources API version (pulumi/pulumi-azure-native#4109),
 * so the mode is read with a plain ARM request.
 */
export const ROLE_ASSIGNMENT_MODE_API_VERSION = "2025-11-01";

/** What ARM says about a registry's role-assignment mode: absent (404), or the mode (undefined: ARM sent none). */
type RegistryMode = { found: false } | { found: true; mode: string | undefined };

async function readRegistryMode(armEndpoint: string, registryId: string, token: string): Promise<RegistryMode> {
  const body = await armGet(armEndpoint, registryId, ROLE_ASSIGNMENT_MODE_API_VERSION, token);
  if (body === undefined) return { found: false };
  const properties = body.properties;
  const mode = typeof properties === "object" && properties !== null && "roleAssignmentMode" in properties ? properties.roleAssignmentMode : undefined;
  return { found: true, mode: typeof mode === "string" ? mode : undefined };
}

/** List For Scope: https://learn.microsoft.com/rest/api/authorization/role-assignments/list-for-scope */
const ROLE_ASSIGNMENTS_API_VERSION = "2022-04-01";

/**
 * Names of the assignments of `roleId` to `principalId` on exactly `scope`. ARM's principalId
 * filter also returns assignments above and below the scope, which are left out here.
 */
export async function registryRoleAssignments(armEndpoint: string, scope: string, principalId: string, roleId: string, token: string): Promise<string[]> {
  const list = await armList(armEndpoint, `${scope}/providers/Microsoft.Authorization/roleAssignments`, ROLE_ASSIGNMENTS_API_VERSION, token, `principalId eq '${principalId}'`);
  const names: string[] = [];
  for (const item of list) {
    const properties = item.properties;
    if (typeof properties !== "object" || properties === null || typeof item.name !== "string") continue;
    const at = "scope" in properties && typeof properties.scope === "string" ? properties.scope : "";
    const role = "roleDefinitionId" in properties && typeof properties.roleDefinitionId === "string" ? properties.roleDefinitionId : "";
    if (at.toLowerCase() === scope.toLowerCase() && role.toLowerCase().endsWith(`/${roleId}`)) names.push(item.name);
  }
  return names;
}

/** The preview-failing message for a registry in ABAC mode, with the fix. */
export function abacModeMessage(registryName: string, resourceGroup: string): string {
  return (
    `registry ${registryName} (resource group ${resourceGroup}) uses the role-assignment mode AbacRepositoryPermissions ("RBAC Registry + ABAC Repository Permissions"), ` +
    `where Azure does not honour AcrPull or AcrPush and ACR tasks lose their default access to the registry: the kubelet pulls, CI pushes and the purge task this stack grants would fail (ImagePullBackOff, 401). ` +
    `Switch it to RBAC-only with az acr update --name ${registryName} --resource-group ${resourceGroup} --role-assignment-mode rbac once nothing relies on ABAC-mode role assignments, ` +
    `or manage its access outside release-infra (https://learn.microsoft.com/azure/container-registry/container-registry-rbac-abac-repository-permissions)`
  );
}

/** The commands that promote one image from a source registry into the target by digest, then lock the tag. */
export interface PromotionCommand {
  /** Registry the image is promoted from. */
  source: string;
  /** Registry the image is promoted into. */
  target: string;
  /** `az acr import` of `<repository>@sha256:<digest>` (the digest E2E verified), as the promoting identity. */
  importCommand: string;
  /**
   * `az acr repository update --write-enabled false`: makes the promoted tag immutable. Not the
   * promoting identity's right: the metadata write that locks a tag also unlocks it (docs/deploying.md#promotion-what-is-guaranteed).
   */
  lockCommand: string;
}

/** The promotion commands for a target registry and one source (placeholders in angle brackets). */
export function promotionCommand(target: string, source: { name: string; id: string }): PromotionCommand {
  return {
    source: source.name,
    target,
    // No --force, so an existing target tag fails this command. Azure does not enforce that:
    // importImage/action is one right with or without force (the request's `mode`), so the
    // importer role may overwrite any unlocked tag; only the lock protects a promoted tag.
    importCommand: `az acr import --name ${target} --registry ${source.id} --source <repository>@sha256:<digest> --image <repository>:<version>`,
    lockCommand: `az acr repository update --name ${target} --image <repository>:<version> --write-enabled false --delete-enabled false`,
  };
}

/** A principal that may pull from or push to the registry. */
export interface RegistryPrincipal {
  /** Stable key (cluster or `<repository>-<environment>` name); names the assignment, so never a list position. */
  name: string;
  /** Object (principal) id of the managed identity or service principal. */
  principalId: pulumi.Input<string>;
  /** Name (GUID) of an existing assignment of the same role to adopt, instead of a deterministic new one. */
  adoptAssignment?: string;
  /** Check in a preview that no other assignment of the role exists (its ownership key, and the config key that adopts one by name, without the name). */
  takeOver?: { key: string; adoptKey: string };
}

/** A CI identity and what it may do on the registry. */
export interface CiRegistryPrincipal extends RegistryPrincipal {
  /** pull: AcrPull; push: AcrPush; promote: importer role on this registry, Reader on every `importFrom` source. */
  access: NonNullable<AccessConfig["registry"]>;
}

export interface ContainerRegistryArgs {
  /** The stack's registry: created here, or (`existing: true`) owned by another stack and only granted on. */
  registry: RegistryConfig;
  /** Resource group the registry is created in, and of an existing or adopted registry without its own `resourceGroup`. */
  resourceGroupName: pulumi.Input<string>;
  /** Azure region of a created registry (its purge task runs in the registry's region). */
  location: pulumi.Input<string>;
  /** prod protects the registry from deletion. */
  stage: Stage;
  /** Tags on the registry and its purge task. */
  tags: Record<string, string>;
  /** AKS kubelet identities that get AcrPull. */
  kubeletPrincipals: RegistryPrincipal[];
  /** CI identities and their access. */
  ciPrincipals: CiRegistryPrincipal[];
  /** Azure Resource Manager endpoint the role-assignment mode is read from (default: the public cloud's; see armEndpoint in ./arm). */
  armEndpoint?: pulumi.Input<string>;
  /**
   * The stack's `managed` output of its last update: a registry this stack would create that exists
   * already, is not adopted and is not the stack's own fails the preview (its create would fail
   * mid-update). Without it (component tests) nothing is checked.
   */
  managedBefore?: pulumi.Input<string[]>;
}

/**
 * The acr-cli image the purge task runs, pinned. ACR Tasks' `acr` alias runs whatever version the
 * service's builder maps it to (Azure/acr-builder graph/global-defaults-linux.go: 0.17 until
 * 2026-02-20, then 0.18, 0.19 since 2026-04-05), and no document says which builder a region runs;
 * `--untagged-only` exists from acr-cli v0.18 (Azure/acr-cli tag v0.18, 2026-02-18; v0.17's
 * cmd/acr/purge.go has no such flag). `0.18` is the tag that defaults file published.
 */
export const ACR_CLI_IMAGE = "mcr.microsoft.com/acr/acr-cli:0.18";

/**
 * The purge step's command (Azure/acr-cli cmd/acr/purge.go: `--untagged` and `--untagged-only` are
 * exclusive; `--keep` keeps the latest N of the tags that would be deleted, per repository, so it
 * only applies when tags are deleted). The image takes the registry from `--registry` and its
 * credentials from the task (Azure/acr-cli README, "Integration with ACR Tasks").
 */
export function purgeCommand(purge: NonNullable<RegistryConfig["purge"]>): string {
  const purgeOf = `${ACR_CLI_IMAGE} purge --registry {{.Run.Registry}} --filter '${purge.filter}' --ago ${purge.olderThanDays}d`;
  return purge.untaggedOnly ? `${purgeOf} --untagged-only` : `${purgeOf} --keep ${purge.keep} --untagged`;
}

/**
 * The stack's Azure Container Registry (or a reference to one another stack owns) and who may use
 * it: AcrPull for AKS kubelets, AcrPull/AcrPush for CI, and for promotion with `az acr import` the
 * importer role on this registry and Reader on each source. Every grant is scoped to a registry,
 * never wider, and waits for a check that the registry is in the legacy role-assignment mode in
 * which these roles apply.
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
  /** What this component takes over instead of creating: the registry (`adopt`), adopted kubelet assignments. */
  public readonly adoptions: Adoption[] = [];
  /** Per `importFrom` source, the commands that promote an image by digest; empty without sources. */
  public readonly promotion: pulumi.Output<PromotionCommand[]>;
  /** Ids of this registry and of each source, once ARM confirmed they are in the legacy role-assignment mode. */
  public readonly checkedRegistryIds: pulumi.Output<string[]>;
  /** In a preview: the registry and kubelet AcrPull assignments that exist and are not this stack's (components/takeOver.ts). */
  public readonly takeOverProblems: pulumi.Output<string[]>;

  constructor(name: string, args: ContainerRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    // Recorded inputs are the desired state: the last update's `managed` list changes with every first
    // update and the ARM endpoint with the cloud's address, so a component holding them would show an
    // update in the preview right after `up` (found by the engine runs, docs/engine.md).
    const { managedBefore: _managedBefore, armEndpoint: _armEndpoint, ...inputs } = args;
    super("release-infra:azure:ContainerRegistry", name, inputs, opts);
    const cfg = args.registry;
    const subscriptionId = authorization.getClientConfigOutput({ parent: this }).subscriptionId;
    // An existing or adopted registry lives where it is; one this stack creates, in the stack's group.
    const rgName = cfg.resourceGroup ?? args.resourceGroupName;
    // Built from names known in a preview (unlike a new registry's id), so the plan shows each grant's target.
    const scopeOf = (resourceGroup: pulumi.Input<string>, registryName: string) =>
      pulumi.interpolate`/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${registryName}`;
    const targetScope = scopeOf(rgName, cfg.name);

    // Every grant's scope resolves only after ARM confirmed the registry's role-assignment mode.
    const token = authorization.getClientTokenOutput({}, { parent: this }).token;
    const armEndpoint = pulumi.output(args.armEndpoint ?? PUBLIC_ARM_ENDPOINT);
    // One read per registry id: a preview's take-over check and mode check ask about the same registry.
    const modes = new Map<string, Promise<RegistryMode>>();
    const modeOf = (endpoint: string, id: string, bearer: string) => {
      const known = modes.get(id) ?? readRegistryMode(endpoint, id, bearer);
      modes.set(id, known);
      return known;
    };
    const inLegacyMode = (scope: pulumi.Input<string>, registryName: string, resourceGroup: pulumi.Input<string>, mayBeAbsent: boolean) =>
      pulumi.all([scope, resourceGroup, token, armEndpoint]).apply(([id, group, bearer, endpoint]) =>
        pulumi.output(modeOf(endpoint, id, bearer)).apply((state) => {
          if (!state.found && !mayBeAbsent) throw new Error(`registry ${registryName} (resource group ${group}) does not exist`);
          if (state.found && state.mode === "AbacRepositoryPermissions") throw new Error(abacModeMessage(registryName, group));
          return id;
        }),
      );

    const probes: TakeOverProbe[] = [];
    let target: { scope: pulumi.Output<string>; dependsOn: pulumi.Resource[] };
    if (cfg.existing) {
      const existing = containerregistry.getRegistryOutput({ registryName: cfg.name, resourceGroupName: rgName }, { parent: this });
      this.registryId = existing.id;
      this.loginServer = existing.loginServer;
      this.registryName = existing.name;
      target = { scope: inLegacyMode(existing.id, cfg.name, rgName, false), dependsOn: [] };
    } else {
      const registry = this.createRegistry(name, args, rgName);
      if (cfg.adopt) this.adoptions.push({ resource: registry, importId: targetScope });
      this.registryId = registry.id;
      this.loginServer = registry.loginServer;
      this.registryName = registry.name;
      // A preview reads the registry by name: absent means new, present (adopted, or created by an
      // earlier update) is checked. An update checks again once the registry exists, before any grant.
      const checked = pulumi.runtime.isDryRun() ? targetScope : pulumi.all([targetScope, registry.id]).apply(([scope]) => scope);
      target = { scope: inLegacyMode(checked, cfg.name, rgName, true), dependsOn: [registry] };
      // azure-native refuses to create a registry that exists ("cannot create already existing resource").
      if (checksTakeOver(args.managedBefore)) {
        probes.push({
          key: ownershipKey.registry(cfg.name),
          what: `container registry ${cfg.name}`,
          adoptKey: "release-infra:azure.registry.adopt: true",
          adopted: cfg.adopt,
          exists: pulumi.all([targetScope, token, armEndpoint]).apply(async ([id, bearer, endpoint]) => (await modeOf(endpoint, id, bearer)).found),
          resource: registry,
        });
      }
      if (cfg.purge) this.createPurgeTask(name, args, rgName, cfg.purge, registry, target.scope);
    }
    this.resourceGroupName = pulumi.output(rgName);

    const sources = cfg.importFrom.map((source) => {
      // Read, not built: a missing source registry fails the preview instead of the first promotion.
      const id = containerregistry.getRegistryOutput({ registryName: source.name, resourceGroupName: source.resourceGroup }, { parent: this }).id;
      return { name: source.name, id, guidScope: scopeOf(source.resourceGroup, source.name), scope: inLegacyMode(id, source.name, source.resourceGroup, false) };
    });
    this.checkedRegistryIds = pulumi.all([target.scope, ...sources.map((source) => source.scope)]);
    this.promotion = pulumi.all(sources.map((source) => source.id)).apply((ids) => sources.map((source, i) => promotionCommand(cfg.name, { name: source.name, id: ids[i] })));

    const assign = (
      logicalName: string,
      principal: RegistryPrincipal,
      principalKey: string,
      role: Role,
      scope: pulumi.Output<string>,
      guidScope: pulumi.Output<string>,
      dependsOn: pulumi.Resource[],
    ): { assignment: authorization.RoleAssignment; assignmentName: pulumi.Output<string> } => {
      const grant: RoleGrant = {
        principalId: principal.principalId,
        principalKey,
        roleId: REGISTRY_ROLES[role],
        scope,
        // From config names only, so the name is stable and known in a preview; it waits for the
        // mode check too, so a failed check fails every input of the grant alike.
        nameScope: pulumi.all([guidScope, scope]).apply(([name]) => name),
        name: principal.adoptAssignment,
        subscriptionId,
        description: `release-infra: ${role} for ${principalKey}`,
      };
      const assignment = grantRole(logicalName, grant, { parent: this, dependsOn });
      if (principal.adoptAssignment) {
        this.adoptions.push({ resource: assignment, importId: pulumi.interpolate`${guidScope}/providers/Microsoft.Authorization/roleAssignments/${principal.adoptAssignment}` });
      }
      return { assignment, assignmentName: roleAssignmentName(grant) };
    };

    this.kubeletAssignmentIds = {};
    for (const kubelet of args.kubeletPrincipals) {
      const { assignment, assignmentName } = assign(`${name}-kubelet-${kubelet.name}-acrpull`, kubelet, `kubelet:${kubelet.name}`, "acrpull", target.scope, targetScope, target.dependsOn);
      this.kubeletAssignmentIds[kubelet.name] = [assignment.id];
      // `az aks update --attach-acr` made an AcrPull under a random name: ours would get 409 RoleAssignmentExists.
      if (checksTakeOver(args.managedBefore) && kubelet.takeOver) {
        const adopted = kubelet.adoptAssignment;
        const existing = pulumi
          .all([targetScope, kubelet.principalId, token, armEndpoint])
          .apply(async ([scope, principalId, bearer, endpoint]) => registryRoleAssignments(endpoint, scope, principalId, REGISTRY_ROLES.acrpull, bearer));
        probes.push({
          key: kubelet.takeOver.key,
          what: `AcrPull of the kubelet of cluster ${kubelet.name} on container registry ${cfg.name}`,
          adoptKey: pulumi.all([existing, assignmentName]).apply(([names, ours]) => `${kubelet.takeOver?.adoptKey}: ${names.find((n) => n.toLowerCase() !== ours.toLowerCase()) ?? "<its name>"}`),
          adopted: adopted !== undefined,
          exists: pulumi.all([existing, assignmentName]).apply(([names, ours]) =>
            names.some((n) => (adopted !== undefined ? n.toLowerCase() === adopted.toLowerCase() : n.toLowerCase() !== ours.toLowerCase())),
          ),
          resource: assignment,
        });
      }
    }
    this.takeOverProblems = takeOverProblems(probes, args.managedBefore ?? []);

    this.ciAssignmentIds = {};
    for (const ci of args.ciPrincipals) {
      const key = `ci:${ci.name}`;
      const prefix = `${name}-ci-${ci.name}`;
      if (ci.access === "promote") {
        this.ciAssignmentIds[ci.name] = [
          assign(`${prefix}-importer-${cfg.name}`, ci, key, "importer", target.scope, targetScope, target.dependsOn).assignment.id,
          ...sources.map((source) => assign(`${prefix}-reader-${source.name}`, ci, key, "reader", source.scope, source.guidScope, []).assignment.id),
        ];
      } else {
        const role: Role = ci.access === "push" ? "acrpush" : "acrpull";
        this.ciAssignmentIds[ci.name] = [assign(`${prefix}-${role}`, ci, key, role, target.scope, targetScope, target.dependsOn).assignment.id];
      }
    }

    this.registerOutputs({
      // First: outputs are serialized in order, and a failed mode check must not wait behind grants it prevented.
      checkedRegistryIds: this.checkedRegistryIds,
      registryId: this.registryId,
      loginServer: this.loginServer,
      registryName: this.registryName,
      resourceGroupName: this.resourceGroupName,
      ciAssignmentIds: this.ciAssignmentIds,
      kubeletAssignmentIds: this.kubeletAssignmentIds,
      promotion: this.promotion,
    });
  }

  private createRegistry(name: string, args: ContainerRegistryArgs, resourceGroupName: pulumi.Input<string>): containerregistry.Registry {
    const cfg = args.registry;
    if (!cfg.sku) throw new Error(`registry ${cfg.name}: sku is required for a registry this stack creates`);
    const premium = cfg.sku === "Premium";
    // Premium-only settings; no trustPolicy: content trust is deprecated and Azure rejects enabling it.
    const zoneRedundancy = premium && cfg.zoneRedundant !== undefined ? (cfg.zoneRedundant ? "Enabled" : "Disabled") : undefined;
    const retentionPolicy = premium && cfg.untaggedRetentionDays !== undefined ? { status: "enabled", days: cfg.untaggedRetentionDays } : undefined;
    // An adopted registry keeps what its stack file does not set. azure-native 3.28.0 fills in
    // `publicNetworkAccess ?? "Enabled"`, `networkRuleBypassOptions ?? "AzureServices"` and
    // `zoneRedundancy ?? "Disabled"` (containerregistry/registry.js), which would open a registry
    // reachable only through a private endpoint, or try to change zone redundancy, which is fixed at
    // creation; the inputs the program never sets (network rules, data endpoints, customer-managed
    // encryption and its identity, the other policies) would be dropped from the PUT. Nested paths
    // only under `policies` when the config sends it: ignoreChanges cannot set a path whose parent is missing.
    const ignoreChanges = keptWhenAdopted(cfg.adopt, {
      // Fixed at creation (another region is another registry), and need not be the stack's region.
      location: undefined,
      publicNetworkAccess: cfg.publicNetworkAccess,
      networkRuleBypassOptions: cfg.networkRuleBypassOptions,
      networkRuleSet: undefined,
      dataEndpointEnabled: undefined,
      encryption: undefined,
      identity: undefined,
      zoneRedundancy,
      // Azure replaces tags as a whole: without release-infra:tags the registry keeps its own.
      tags: Object.keys(args.tags).length > 0 ? args.tags : undefined,
      ...(retentionPolicy
        ? Object.fromEntries(["exportPolicy", "quarantinePolicy", "softDeletePolicy", "trustPolicy", "azureADAuthenticationAsArmPolicy"].map((policy) => [`policies.${policy}`, undefined]))
        : { policies: undefined }),
    });
    return new containerregistry.Registry(
      `${name}-registry`,
      {
        registryName: cfg.name,
        resourceGroupName,
        location: args.location,
        sku: { name: cfg.sku },
        adminUserEnabled: false,
        anonymousPullEnabled: false,
        // Public, as azure-native's default: CI on GitHub-hosted runners and AKS without a private
        // endpoint reach the registry there.
        publicNetworkAccess: cfg.publicNetworkAccess ?? "Enabled",
        // Trusted services: `az acr import` keeps working if networking is restricted later (ACR is on
        // the trusted-services list of https://learn.microsoft.com/azure/container-registry/allow-access-trusted-services;
        // ACR Tasks are not, so the purge task needs the registry reachable from its agents).
        networkRuleBypassOptions: cfg.networkRuleBypassOptions ?? "AzureServices",
        zoneRedundancy,
        policies: retentionPolicy ? { retentionPolicy } : undefined,
        tags: args.tags,
      },
      { parent: this, protect: args.stage === "prod", ignoreChanges },
    );
  }

  private createPurgeTask(
    name: string,
    args: ContainerRegistryArgs,
    resourceGroupName: pulumi.Input<string>,
    purge: NonNullable<RegistryConfig["purge"]>,
    registry: containerregistry.Registry,
    checkedScope: pulumi.Output<string>,
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
    // No managed identity: in the legacy role-assignment mode (checked first, hence checkedScope) a
    // task has data-plane access to its own registry without one; in ABAC mode it would not.
    return new containerregistry.Task(
      `${name}-purge`,
      {
        taskName: "acr-purge",
        registryName: checkedScope.apply(() => args.registry.name),
        resourceGroupName,
        // The registry's own region: an adopted one keeps its region (createRegistry).
        location: registry.location,
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
