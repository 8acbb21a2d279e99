import * as pulumi from "@pulumi/pulumi";

/**
 * An object that exists already and that this stack takes over instead of creating: the resource
 * that will manage it and the id `pulumi import` reads it by (each type's "Import" id format).
 * The offline plan writes them into the file `pulumi import --file` takes (docs/migration.md).
 */
export interface Adoption {
  /** The resource that manages the object once imported. */
  resource: pulumi.Resource;
  /** The import id, e.g. `/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/registries/<name>` or `<repo>:<env>`. */
  importId: pulumi.Input<string>;
}

/** What a stack output lists per adoption: the URN the resource registers and its import id. */
export interface AdoptedObject {
  urn: string;
  importId: string;
}

/** The adoptions as plain values, once every URN is known. */
export function adoptedObjects(adoptions: readonly Adoption[]): pulumi.Output<AdoptedObject[]> {
  return pulumi.all(adoptions.map((a) => pulumi.all([a.resource.urn, a.importId]).apply(([urn, importId]) => ({ urn, importId }))));
}

/**
 * What an adopted object keeps as it is: each of `inputs` (provider input paths, mapped to the
 * config's value, undefined where the stack file does not set it) that the config leaves unset.
 * Pulumi then sends the value `pulumi import` read (`ignoreChanges`) instead of a default, until
 * the stack file sets it. A created object gets the defaults: nothing is ignored.
 */
export function keptWhenAdopted(adopted: boolean, inputs: Record<string, unknown>): string[] {
  return adopted ? Object.keys(inputs).filter((path) => inputs[path] === undefined) : [];
}
