/**
 * The file `pulumi import --file FILE` takes, built from a plan: one entry per object the config
 * adopts, with its import id, and an entry per component it is nested in, so every imported
 * resource gets the URN the next `pulumi up` registers it under. Format: `importFile` and
 * `importSpec` of the Pulumi CLI (pkg/cmd/pulumi/operations/import.go); an entry's URN is built
 * from its parent entry's type chain, its type and its logical name, as the engine does.
 */
import * as fs from "fs";
import * as path from "path";
import { parseDocument } from "yaml";
import { SUBSCRIPTION_ID } from "../mocks";
import type { PlanDocument, PlannedResource } from "./planStack";

/** One entry of `resources` in an import file. */
export interface ImportEntry {
  type: string;
  /** The entry's name in this file (parents and providers refer to it). */
  name: string;
  /** The import id, in the format of the type's "Import" section; absent on components. */
  id?: string;
  /** Name of the entry (or nameTable key) of the parent component. */
  parent?: string;
  /** nameTable key of an explicit provider. */
  provider?: string;
  /** Plugin version: the installed SDK's, so the default provider is the one `pulumi up` uses. */
  version?: string;
  component?: boolean;
  /** The resource's Pulumi name (the first argument to `new Resource`). */
  logicalName: string;
}

export interface ImportFile {
  /** Explicit providers by name: the URN the program registers them under. */
  nameTable?: Record<string, string>;
  resources: ImportEntry[];
  /** Inputs of explicit providers not in the stack's state yet (Pulumi CLI 3.231 or later). */
  providerInputs?: Record<string, Record<string, string>>;
}

/** Why no import file can be written: exit code 2, one line per problem. */
export class ImportFileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

/** The project name URNs carry: Pulumi.yaml's `name` (a fork may rename it). */
function projectName(): string {
  const name: unknown = parseDocument(fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8")).get("name");
  return typeof name === "string" ? name : "release-infra";
}

/** Version of the installed SDK of a type's package (`azure-native:…` → @pulumi/azure-native). */
function sdkVersion(type: string): string | undefined {
  const pkg = type.startsWith("pulumi:providers:") ? type.slice("pulumi:providers:".length) : type.split(":")[0];
  try {
    const manifest: unknown = JSON.parse(fs.readFileSync(require.resolve(`@pulumi/${pkg}/package.json`, { paths: [PROJECT_ROOT] }), "utf8"));
    return typeof manifest === "object" && manifest !== null && "version" in manifest && typeof manifest.version === "string" ? manifest.version : undefined;
  } catch {
    return undefined;
  }
}

/** A plan resource's URN as the engine forms it: the types of all its ancestors but the stack (deployment.go generateURN). */
export function engineUrn<R extends Pick<PlannedResource, "type" | "name" | "parent">>(resource: R, byUrn: ReadonlyMap<string, R>, stack: string, project: string): string {
  const chain: string[] = [];
  for (let r: R | undefined = resource; r && r.type !== "pulumi:pulumi:Stack"; r = r.parent ? byUrn.get(r.parent) : undefined) chain.unshift(r.type);
  return `urn:pulumi:${stack}::${project}::${chain.join("$")}::${resource.name}`;
}

/**
 * The import file of a plan. `subscriptionId` (the stack file's azure-native:subscriptionId) takes
 * the place of the plan's subscription placeholder; without it Azure ids cannot be written.
 */
export function importFileOf(plan: PlanDocument, subscriptionId: string | undefined, stackFile: string): ImportFile {
  const adopted = plan.resources.flatMap((r) => (r.importId === undefined ? [] : [{ resource: r, importId: r.importId }]));
  if (adopted.length === 0) {
    throw new ImportFileError([`${stackFile}: adopts nothing, so there is nothing to import; mark objects that exist already with their adopt key (docs/migration.md)`]);
  }
  const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
  const project = projectName();
  const problems: string[] = [];
  const fill = (value: string) => (subscriptionId === undefined ? value : value.split(SUBSCRIPTION_ID).join(subscriptionId));

  const entries = new Map<string, ImportEntry>();
  const names = new Set<string>();
  const providers = new Map<string, string>();
  const nameTable: Record<string, string> = {};
  const providerInputs: Record<string, Record<string, string>> = {};
  const unique = (logicalName: string) => {
    let name = logicalName;
    for (let n = 2; names.has(name); n++) name = `${logicalName}#${n}`;
    names.add(name);
    return name;
  };
  /** The entry of a component ancestor (and of its own ancestors), by URN; undefined for the stack. */
  const component = (urn: string | null): string | undefined => {
    const resource = urn ? byUrn.get(urn) : undefined;
    if (!resource || resource.type === "pulumi:pulumi:Stack") return undefined;
    const known = entries.get(resource.urn);
    if (known) return known.name;
    const parent = component(resource.parent);
    const entry: ImportEntry = { type: resource.type, name: unique(resource.name), logicalName: resource.name, component: true, ...(parent ? { parent } : {}) };
    entries.set(resource.urn, entry);
    return entry.name;
  };
  /** The nameTable key of an explicit provider, with the inputs `pulumi import` creates it with. */
  const providerKey = (provider: PlannedResource): string => {
    const known = providers.get(provider.urn);
    if (known) return known;
    const key = unique(provider.name);
    providers.set(provider.urn, key);
    nameTable[key] = engineUrn(provider, byUrn, plan.stack, project);
    const inputs = kubernetesProviderInputs(provider, provider.parent ? byUrn.get(provider.parent) : undefined, fill);
    if (inputs) providerInputs[key] = inputs;
    return key;
  };

  for (const { resource, importId } of adopted) {
    const parent = component(resource.parent);
    const version = sdkVersion(resource.type);
    const provider = resource.provider === undefined ? undefined : byUrn.get(resource.provider);
    const entry: ImportEntry = {
      type: resource.type,
      name: unique(resource.name),
      logicalName: resource.name,
      id: fill(importId),
      ...(parent ? { parent } : {}),
      ...(provider ? { provider: providerKey(provider) } : {}),
      ...(version ? { version } : {}),
    };
    entries.set(resource.urn, entry);
  }

  // `pulumi import` fails on an entry without an id, and reads nothing useful by a placeholder.
  const written = JSON.stringify({ entries: [...entries.values()], providerInputs });
  if (subscriptionId === undefined && written.includes(SUBSCRIPTION_ID)) {
    problems.push(`${stackFile}: azure-native:subscriptionId is not set; the import ids of adopted Azure objects name the subscription, so set it in the stack file`);
  }
  for (const entry of entries.values()) {
    if (entry.component) continue;
    if (!entry.id) problems.push(`${entry.type} ${entry.logicalName}: has no import id`);
    else if (/<[^>]*>/.test(entry.id) && !entry.id.includes(SUBSCRIPTION_ID)) problems.push(`${entry.type} ${entry.logicalName}: its import id ${entry.id} is not known offline`);
  }
  if (problems.length > 0) throw new ImportFileError(problems);
  return {
    ...(Object.keys(nameTable).length > 0 ? { nameTable } : {}),
    // Components first, each before its children, as `pulumi import` creates them in file order.
    resources: [...entries.values()],
    ...(Object.keys(providerInputs).length > 0 ? { providerInputs } : {}),
  };
}

/**
 * A cluster's Kubernetes provider as `pulumi import` creates it: the kubeconfig context named
 * after the cluster as `az aks get-credentials` writes it (then `kubelogin convert-kubeconfig`),
 * and the cluster identifier `pulumi up` keeps, so the update swaps the credentials without
 * replacing the provider or anything on it. The context comes from the cluster component's name,
 * the cluster as configured: the identifier is lower case, and context names are case-sensitive.
 */
function kubernetesProviderInputs(provider: PlannedResource, cluster: PlannedResource | undefined, fill: (value: string) => string): Record<string, string> | undefined {
  if (provider.type !== "pulumi:providers:kubernetes") return undefined;
  const identifier = provider.inputs.clusterIdentifier;
  if (typeof identifier !== "string") return undefined;
  const context = cluster?.type === "release-infra:aks:Cluster" ? cluster.name : (identifier.split("/").pop() ?? "");
  const version = sdkVersion(provider.type);
  // Lower case, as the program sends it (components/aksCluster.ts).
  return { context, clusterIdentifier: fill(identifier).toLowerCase(), ...(version ? { version } : {}) };
}
