import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import type { Alias } from "@pulumi/pulumi/proto/alias_pb";
import type { RegisterResourceRequest, RegisterResourceResponse } from "@pulumi/pulumi/proto/resource_pb";
import { createHash } from "crypto";

/**
 * Pulumi's mock runtime, set up the way the offline plan and the tests need it: data sources
 * answer with deterministic placeholders built from their arguments, and every registered
 * resource is recorded with the options the engine would receive (parent, dependsOn, protect, ...).
 */

export const SUBSCRIPTION_ID = "<subscription-id>";
export const TENANT_ID = "<tenant-id>";

/** A JSON value as the engine receives it, with secrets and unknowns in their wire form. */
export type WireValue = null | boolean | number | string | WireValue[] | { [key: string]: WireValue };

/** One resource registration, as the engine would receive it. */
export interface RecordedResource {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  parent: string | null;
  /** Inputs in wire form: see `plainValue` to read them. */
  inputs: Record<string, WireValue>;
  dependsOn: string[];
  protect: boolean;
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  ignoreChanges: string[];
  /** Provider reference (`urn::id`) when the resource uses an explicit provider. */
  provider: string | null;
  /** Input paths whose change replaces the resource (the `replaceOnChanges` option, as the engine receives it). */
  replaceOnChanges: string[];
  /** URNs the resource was known by under another name or parent (the SDKs' type-only aliases left out). */
  aliases: string[];
}

/** A data source answer, for tests that need a cluster or team to look a certain way. */
export type CallOverride = (inputs: Record<string, unknown>) => Record<string, unknown>;

export interface MockOptions {
  /** Stack name (also the default stage). */
  stack: string;
  /** true: behave like `pulumi preview` (outputs computed by the cloud are unknown). */
  preview: boolean;
  /** Replace the placeholder answer of a data source token. */
  calls?: Record<string, CallOverride>;
  /**
   * What the GitHub placeholders answer per repository (name in lower case): the id getRepository
   * returns (default a placeholder number) and the team slugs getRepositoryTeams lists (default none).
   */
  repositories?: Record<string, { id?: number; teams?: string[] }>;
  /**
   * Registries and resource groups the stack creates (by name, lower case): ARM answers 404 for
   * them, as for objects that do not exist yet; every other registry (existing, a promotion source)
   * is found in the legacy role-assignment mode. Default: none, so every registry is found.
   */
  creates?: { registries?: string[]; resourceGroups?: string[] };
  /**
   * Logical names of resources already in the stack's state (imported, or created by an earlier
   * update): a preview registers them with their id, as the engine does, not as creates.
   */
  inState?: string[];
}

export interface MockSession {
  /** Registered resources, in registration order. */
  resources: RecordedResource[];
  /** Data source calls: token and arguments. */
  invokes: { token: string; inputs: Record<string, unknown> }[];
  /** What each placeholder number the data sources answered with stands for, e.g. "<id of team release-managers>". */
  placeholders: Record<string, string>;
}

/** A placeholder number for `parts`, recorded under `label` ("<id of team release-managers>"). */
type Label = (label: string, ...parts: string[]) => number;
/** A built-in placeholder answer; it names its placeholder numbers through `label`. */
type Placeholder = (inputs: Record<string, unknown>, label: Label) => Record<string, unknown>;

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** A wire value as plain JSON: secrets become "[secret]", unknowns "[unknown]", resource references their URN. */
export function plainValue(value: WireValue): WireValue {
  if (value === UNKNOWN) return "[unknown]";
  if (Array.isArray(value)) return value.map(plainValue);
  if (value !== null && typeof value === "object") {
    if (value[SIG_KEY] === SECRET_SIG) return "[secret]";
    if (value[SIG_KEY] === RESOURCE_SIG) return typeof value.urn === "string" ? value.urn : "[resource]";
    const out: Record<string, WireValue> = {};
    for (const key of Object.keys(value).sort()) out[key] = plainValue(value[key]);
    return out;
  }
  return value;
}

/** A deterministic number for a placeholder id, from the arguments that identify the object. */
export function placeholderNumber(...parts: string[]): number {
  const digest = createHash("sha256").update(parts.join("\u0000")).digest();
  return 10_000_000 + (digest.readUInt32BE(0) % 90_000_000);
}

function str(value: unknown, fallback: string): string {
  return typeof value === "string" && value !== "" ? value : fallback;
}

function kubeconfig(cluster: string, resourceGroup: string): string {
  const server = `https://${cluster}-dns.hcp.placeholder.azmk8s.io:443`;
  // The shape AKS returns for an Entra ID cluster in exec format (kubelogin, device code).
  return [
    "apiVersion: v1",
    "kind: Config",
    `clusters:\n- cluster:\n    certificate-authority-data: PLACEHOLDER\n    server: ${server}\n  name: ${cluster}`,
    `contexts:\n- context:\n    cluster: ${cluster}\n    user: clusterUser_${resourceGroup}_${cluster}\n  name: ${cluster}`,
    `current-context: ${cluster}`,
    "users:",
    `- name: clusterUser_${resourceGroup}_${cluster}`,
    "  user:",
    "    exec:",
    "      apiVersion: client.authentication.k8s.io/v1beta1",
    "      command: kubelogin",
    "      args: [get-token, --login, devicecode, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630, --client-id, 80faf920-1908-4b52-b5ef-a8e7bedfc67a, --tenant-id, placeholder-tenant, --environment, AzurePublicCloud]",
    "",
  ].join("\n");
}

const rgId = (rg: unknown) => `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${str(rg, "<resource-group>")}`;

/** Placeholders of the GitHub data sources that answer per repository, from `MockOptions.repositories`. */
function repositoryPlaceholders(repositories: NonNullable<MockOptions["repositories"]>): Record<string, Placeholder> {
  const known = (name: string) => repositories[name.toLowerCase()] ?? {};
  return {
    // The config's spelling stands offline: the answer repeats the names asked for.
    "github:index/getRepository:getRepository": (a, label) => {
      const fullName = str(a.fullName, str(a.name, "<repository>"));
      const name = fullName.split("/").pop() ?? fullName;
      return { id: name, repoId: known(name).id ?? label(`<id of repository ${fullName}>`, "repository", fullName), nodeId: `<node id of ${fullName}>`, name, fullName };
    },
    "github:index/getRepositoryTeams:getRepositoryTeams": (a) => {
      const name = str(a.name, str(a.fullName, "<repository>").split("/").pop() ?? "");
      return { id: name, name, fullName: str(a.fullName, name), teams: (known(name).teams ?? []).map((slug) => ({ slug, name: slug, permission: "pull" })) };
    },
  };
}

/**
 * Pseudo-token of a plain Azure Resource Manager GET the program sends itself (with the token of
 * getClientToken) for what azure-native cannot read; recorded and answered like a data source, with
 * inputs `{ path, apiVersion }` and a list's `filter`. An answer `{ error: { code } }` is an ARM error (ResourceNotFound: 404).
 */
export const ARM_GET = "azure-rest:GET";
const ARM_ENDPOINT = "https://management.azure.com";

/** Placeholder answers of the data sources the program calls, keyed by function token. */
const PLACEHOLDERS: Record<string, Placeholder> = {
  "azure-native:authorization:getClientToken": () => ({ token: "<arm-token>" }),
  "github:index/getRepositoryEnvironments:getRepositoryEnvironments": (a) => ({ id: str(a.repository, ""), repository: a.repository, environments: [] }),
  "github:index/getActionsVariables:getActionsVariables": (a) => ({ id: str(a.name, ""), name: a.name, fullName: a.name, variables: [] }),
  "github:index/getActionsEnvironmentVariables:getActionsEnvironmentVariables": (a) => ({ id: str(a.name, ""), name: a.name, fullName: a.name, environment: a.environment, variables: [] }),
  "github:index/getActionsSecrets:getActionsSecrets": (a) => ({ id: str(a.name, ""), name: a.name, fullName: a.name, secrets: [] }),
  "github:index/getActionsEnvironmentSecrets:getActionsEnvironmentSecrets": (a) => ({ id: str(a.name, ""), name: a.name, fullName: a.name, environment: a.environment, secrets: [] }),
  // Lists answer empty: offline, nothing the stack would create exists yet.
  "github:index/getRestApi:getRestApi": (a) => {
    const endpoint = str(a.endpoint, "");
    const body = /\/deployment-branch-policies(\?|$)/.test(endpoint) ? { total_count: 0, branch_policies: [] } : [];
    return { id: "<request id>", endpoint, code: 200, status: "200 OK", headers: "{}", body: JSON.stringify(body) };
  },
  // A failed invoke reaches the program as new Error(err.details) (@pulumi/pulumi runtime/invoke.js),
  // so the engine's message travels in `details`, as it does from a real provider.
  "gcp:storage/getBucket:getBucket": () => {
    const message = "googleapi: Error 404: The specified bucket does not exist., notFound";
    throw Object.assign(new Error(message), { details: message });
  },
  "azure-native:authorization:getClientConfig": () => ({
    clientId: "<deployer-client-id>",
    objectId: "<deployer-object-id>",
    subscriptionId: SUBSCRIPTION_ID,
    tenantId: TENANT_ID,
  }),
  "azure-native:containerregistry:getRegistry": (a) => ({
    id: `${rgId(a.resourceGroupName)}/providers/Microsoft.ContainerRegistry/registries/${str(a.registryName, "<registry>")}`,
    name: a.registryName,
    loginServer: `${str(a.registryName, "<registry>")}.azurecr.io`,
    location: "<location>",
    sku: { name: "<sku>" },
  }),
  "azure-native:containerservice:getManagedCluster": (a) => {
    const name = str(a.resourceName, "<cluster>");
    return {
      id: `${rgId(a.resourceGroupName)}/providers/Microsoft.ContainerService/managedClusters/${name}`,
      name,
      location: "<location>",
      identityProfile: {
        kubeletidentity: {
          clientId: `<kubelet-client-id of ${name}>`,
          objectId: `<kubelet-object-id of ${name}>`,
          resourceId: `${rgId(`MC_${str(a.resourceGroupName, "")}_${name}`)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}-agentpool`,
        },
      },
      // Unknown offline; a real preview reads the cluster's network policy engine.
      networkProfile: { networkPolicy: `<network policy of ${name}>` },
      aadProfile: { managed: true, enableAzureRBAC: true },
      enableRBAC: true,
    };
  },
  "azure-native:containerservice:listManagedClusterUserCredentials": (a) => ({
    kubeconfigs: [
      {
        name: "clusterUser",
        value: Buffer.from(kubeconfig(str(a.resourceName, "<cluster>"), str(a.resourceGroupName, "<resource-group>"))).toString("base64"),
      },
    ],
  }),
  "github:index/getUser:getUser": (a, label) => ({
    id: String(label(`<id of user ${str(a.username, "")}>`, "user", str(a.username, ""))),
    nodeId: `<node id of user ${str(a.username, "")}>`,
    login: a.username,
    username: a.username,
  }),
  "github:index/getOrganization:getOrganization": (a, label) => ({
    id: String(label(`<id of organization ${str(a.name, "")}>`, "organization", str(a.name, ""))),
    orgId: String(label(`<id of organization ${str(a.name, "")}>`, "organization", str(a.name, ""))),
    login: a.name,
    name: a.name,
  }),
  "github:index/getTeam:getTeam": (a, label) => ({
    id: String(label(`<id of team ${str(a.slug, "")}>`, "team", str(a.slug, ""))),
    nodeId: `<node id of team ${str(a.slug, "")}>`,
    slug: a.slug,
    name: a.slug,
  }),
  "github:index/getActionsRepositoryOidcSubjectClaimCustomizationTemplate:getActionsRepositoryOidcSubjectClaimCustomizationTemplate": (a) => ({
    id: a.name,
    name: a.name,
    useDefault: true,
    includeClaimKeys: [],
  }),
  "gcp:organizations/getProject:getProject": (a, label) => ({
    projectId: a.projectId,
    number: String(label(`<number of project ${str(a.projectId, "")}>`, "project", str(a.projectId, ""))),
    name: a.projectId,
  }),
};

/** Outputs a cloud computes, for non-preview tests; a preview leaves them unknown as `pulumi preview` does. */
function computedOutputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const project = str(inputs.project, "<project>");
  switch (type) {
    case "azure-native:resources:ResourceGroup":
      return { id: rgId(inputs.resourceGroupName), name: inputs.resourceGroupName };
    case "azure-native:containerregistry:Registry":
      return {
        id: `${rgId(inputs.resourceGroupName)}/providers/Microsoft.ContainerRegistry/registries/${str(inputs.registryName, name)}`,
        name: inputs.registryName,
        loginServer: `${str(inputs.registryName, name)}.azurecr.io`,
      };
    case "azure-native:managedidentity:UserAssignedIdentity": {
      const identity = str(inputs.resourceName, name);
      return {
        id: `${rgId(inputs.resourceGroupName)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${identity}`,
        name: identity,
        clientId: `<client-id of ${identity}>`,
        principalId: `<principal-id of ${identity}>`,
        tenantId: TENANT_ID,
      };
    }
    case "azure-native:authorization:RoleAssignment":
      return { id: `${str(inputs.scope, "")}/providers/Microsoft.Authorization/roleAssignments/${str(inputs.roleAssignmentName, name)}` };
    case "gcp:storage/bucket:Bucket":
      return { name: inputs.name, url: `gs://${str(inputs.name, name)}`, selfLink: `https://www.googleapis.com/storage/v1/b/${str(inputs.name, name)}` };
    case "gcp:compute/backendBucket:BackendBucket":
    case "gcp:compute/uRLMap:URLMap":
    case "gcp:compute/targetHttpsProxy:TargetHttpsProxy":
    case "gcp:compute/targetHttpProxy:TargetHttpProxy":
    case "gcp:compute/managedSslCertificate:ManagedSslCertificate":
    case "gcp:compute/sSLPolicy:SSLPolicy": {
      const kind = type.split(":").pop() ?? "";
      const collection = { BackendBucket: "backendBuckets", URLMap: "urlMaps", TargetHttpsProxy: "targetHttpsProxies", TargetHttpProxy: "targetHttpProxies", ManagedSslCertificate: "sslCertificates", SSLPolicy: "sslPolicies" }[kind];
      const resourceName = str(inputs.name, name);
      return { name: resourceName, selfLink: `https://www.googleapis.com/compute/v1/projects/${project}/global/${collection}/${resourceName}` };
    }
    case "gcp:certificatemanager/dnsAuthorization:DnsAuthorization": {
      const domain = str(inputs.domain, "<domain>");
      return {
        id: `projects/${project}/locations/global/dnsAuthorizations/${str(inputs.name, name)}`,
        // The record Certificate Manager asks for: a CNAME under _acme-challenge (its data is Google's to choose).
        dnsResourceRecords: [{ name: `_acme-challenge.${domain}.`, type: "CNAME", data: `<authorization of ${domain}>.authorize.certificatemanager.goog.` }],
      };
    }
    case "gcp:certificatemanager/certificate:Certificate":
      return { id: `projects/${project}/locations/global/certificates/${str(inputs.name, name)}` };
    case "gcp:certificatemanager/certificateMap:CertificateMap":
      return { id: `projects/${project}/locations/global/certificateMaps/${str(inputs.name, name)}`, name: inputs.name };
    case "gcp:compute/globalAddress:GlobalAddress":
      return { name: str(inputs.name, name), address: "203.0.113.10" };
    case "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
      return { name: `projects/${placeholderNumber("project", project)}/locations/global/workloadIdentityPools/${str(inputs.workloadIdentityPoolId, name)}` };
    case "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
      return {
        name: `projects/${placeholderNumber("project", project)}/locations/global/workloadIdentityPools/${str(inputs.workloadIdentityPoolId, "<pool>")}/providers/${str(inputs.workloadIdentityPoolProviderId, name)}`,
      };
    case "gcp:serviceaccount/account:Account": {
      const email = `${str(inputs.accountId, name)}@${project}.iam.gserviceaccount.com`;
      return { email, name: `projects/${project}/serviceAccounts/${email}`, member: `serviceAccount:${email}` };
    }
    case "gcp:projects/iAMCustomRole:IAMCustomRole":
      return { name: `projects/${project}/roles/${str(inputs.roleId, name)}` };
    default:
      return {};
  }
}

/** The URN an alias stands for, built the way MockMonitor builds URNs (the parent's own type, then the type), so it matches the plan's URNs. */
function aliasUrn(alias: Alias, req: RegisterResourceRequest, urn: string): string {
  const spec = alias.getSpec();
  if (alias.hasUrn() || !spec) return alias.getUrn();
  const [stack, project] = urn.slice("urn:pulumi:".length).split("::");
  const parent = spec.getNoparent() ? "" : spec.getParenturn() || req.getParent();
  const type = spec.getType() || req.getType();
  const qualified = parent ? `${parent.split("::")[2].split("$").pop()}$${type}` : type;
  return `urn:pulumi:${spec.getStack() || stack}::${spec.getProject() || project}::${qualified}::${spec.getName() || req.getName()}`;
}

/**
 * Whether an alias only renames the resource's own type, as the SDKs add for every API version or
 * module rename: the same name under a parent of the same type (URNs hold parents' types, not names).
 */
function typeOnlyAlias(alias: string, urn: string): boolean {
  const parts = (u: string) => {
    const [, , chain = "", name = ""] = u.slice("urn:pulumi:".length).split("::");
    const parents = chain.split("$").slice(0, -1).filter((t) => t !== "pulumi:pulumi:Stack");
    return { name, parent: parents.pop() ?? "" };
  };
  const a = parts(alias);
  const r = parts(urn);
  return a.name === r.name && a.parent === r.parent;
}

function recordRequest(req: RegisterResourceRequest, urn: string): RecordedResource {
  const object = req.getObject();
  const inputs = (object ? object.toJavaScript() : {}) as Record<string, WireValue>;
  const aliases = [...req.getAliasurnsList(), ...req.getAliasesList().map((a) => aliasUrn(a, req, urn))].filter((a) => a !== urn && !typeOnlyAlias(a, urn));
  return {
    urn,
    type: req.getType(),
    name: req.getName(),
    custom: req.getCustom(),
    parent: req.getParent() || null,
    inputs,
    dependsOn: [...req.getDependenciesList()].sort(),
    protect: req.getProtect() === true,
    retainOnDelete: req.getRetainondelete() === true,
    deleteBeforeReplace: req.getDeletebeforereplace(),
    ignoreChanges: [...req.getIgnorechangesList()],
    provider: req.getProvider() || null,
    replaceOnChanges: [...req.getReplaceonchangesList()].sort(),
    aliases: [...new Set(aliases)].sort(),
  };
}

const realFetch = globalThis.fetch;

/**
 * ARM answers: registries in the legacy role-assignment mode, the one AcrPull and AcrPush apply in,
 * and resource groups; those the stack creates are not found yet (404).
 */
function armPlaceholder(creates: NonNullable<MockOptions["creates"]>): Placeholder {
  const registries = new Set((creates.registries ?? []).map((r) => r.toLowerCase()));
  const groups = new Set((creates.resourceGroups ?? []).map((g) => g.toLowerCase()));
  const notFound = (code: string) => ({ error: { code, message: "not found (offline plan: the stack creates it)" } });
  return (a) => {
    const path = str(a.path, "");
    // Offline nothing was assigned by hand: role assignment lists are empty.
    if (/\/providers\/Microsoft\.Authorization\/roleAssignments$/i.test(path)) return { value: [] };
    const registry = /\/providers\/Microsoft\.ContainerRegistry\/registries\/([^/]+)$/i.exec(path)?.[1];
    if (registry !== undefined) {
      if (registries.has(registry.toLowerCase())) return notFound("ResourceNotFound");
      return { id: path, name: registry, properties: { roleAssignmentMode: "LegacyRegistryPermissions" } };
    }
    const group = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)$/i.exec(path)?.[1];
    if (group !== undefined) return groups.has(group.toLowerCase()) ? notFound("ResourceGroupNotFound") : { id: path, name: group };
    throw new Error(`the offline plan has no placeholder for GET ${path}; add one to scripts/mocks.ts`);
  };
}

/** Answers the program's ARM requests from `calls[ARM_GET]`; every other request goes out as usual. */
function mockArm(session: MockSession, calls: Record<string, Placeholder>, label: Label): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== ARM_ENDPOINT) return realFetch(input, init);
    const filter = url.searchParams.get("$filter");
    const inputs = { path: decodeURIComponent(url.pathname), apiVersion: url.searchParams.get("api-version") ?? "", ...(filter === null ? {} : { filter }) };
    session.invokes.push({ token: ARM_GET, inputs });
    const body = calls[ARM_GET](inputs, label);
    const code = typeof body.error === "object" && body.error !== null && "code" in body.error ? String(body.error.code) : undefined;
    const status = code === undefined ? 200 : /NotFound$/.test(code) ? 404 : 400;
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  };
}

/**
 * Pulumi takes a full stack trace (Error.stackTraceLimit raised to Infinity) in every resource's
 * constructor, to send the engine the source position of the registration (Resource.stackTrace,
 * private in the SDK's types). The mock engine drops it and the plan shows none, but formatting
 * and parsing that trace is a tenth of a large plan's CPU time and keeps an object per frame per
 * resource alive until the registration is sent. Under the mocks the resource has no position.
 */
function skipSourcePositions(): void {
  // Only if the SDK still has the method: otherwise registrations just stay slower.
  if (typeof Reflect.get(pulumi.Resource, "stackTrace") !== "function") return;
  Object.defineProperty(pulumi.Resource, "stackTrace", { value: (): never[] => [], configurable: true, writable: true });
}

/**
 * Installs the mock runtime for project `release-infra`. Call before the program or a component
 * module is loaded. Data sources without a placeholder fail loudly, naming the token.
 */
export function installMocks(options: MockOptions): MockSession {
  const session: MockSession = { resources: [], invokes: [], placeholders: {} };
  skipSourcePositions();
  const label: Label = (what, ...parts) => {
    const value = placeholderNumber(...parts);
    session.placeholders[String(value)] = what;
    return value;
  };
  const calls: Record<string, Placeholder> = {
    ...PLACEHOLDERS,
    ...repositoryPlaceholders(options.repositories ?? {}),
    [ARM_GET]: armPlaceholder(options.creates ?? {}),
    ...(options.calls ?? {}),
  };
  globalThis.fetch = mockArm(session, calls, label);
  pulumi.runtime.setMocks(
    {
      call(args) {
        session.invokes.push({ token: args.token, inputs: args.inputs });
        const answer = calls[args.token];
        if (!answer) throw new Error(`the offline plan has no placeholder for data source ${args.token}; add one to scripts/mocks.ts`);
        return answer(args.inputs, label);
      },
      newResource(args) {
        if (!args.custom) return { id: undefined, state: {} };
        // A reference to a stack (this one, for its last `managed` output) reads its outputs: none offline, as for a new stack.
        if (args.type === "pulumi:pulumi:StackReference") {
          return { id: str(args.inputs.name, args.name), state: { name: args.inputs.name, outputs: {}, secretOutputNames: [] } };
        }
        const inputs: Record<string, unknown> = args.inputs;
        if (options.preview && !options.inState?.includes(args.name)) {
          // As in `pulumi preview` of a create: inputs are known, the id and cloud-computed outputs are not.
          return { id: undefined, state: inputs };
        }
        const computed = computedOutputs(args.type, args.name, inputs);
        const id = typeof computed.id === "string" ? computed.id : `${args.name}-id`;
        return { id, state: { ...inputs, ...computed } };
      },
    },
    "release-infra",
    options.stack,
    options.preview,
    // What a self-managed backend calls every stack's organization.
    "organization",
  );

  const installed = pulumi.runtime.getMonitor();
  if (!(installed instanceof MockMonitor)) throw new Error("the Pulumi mock monitor is not installed");
  const monitor: MockMonitor = installed;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: RegisterResourceRequest, callback: (err: unknown, response: RegisterResourceResponse | undefined) => void) =>
    register(req, (err: unknown, response: RegisterResourceResponse | undefined) => {
      if (response) session.resources.push(recordRequest(req, response.getUrn()));
      callback(err, response);
    });
  return session;
}
