import * as pulumi from "@pulumi/pulumi";

/**
 * Where a resource is registered: its type token, its name and its parent's location (none: the
 * stack). A URN is made of exactly these, with the types of all ancestors
 * (pulumi/pulumi pkg/resource/deploy/deployment.go generateURN), so a resource keeps its state
 * only if neither its name nor any ancestor's type or name changes.
 */
export interface Location {
  type: string;
  name: string;
  parent?: Location;
}

/** The location of a child of `parent`. */
export function childOf(parent: Location, type: string, name: string): Location {
  return { type, name, parent };
}

/** Whether two locations are the same, and so give the same URN. */
export function sameLocation(a: Location | undefined, b: Location | undefined): boolean {
  if (!a || !b) return a === b;
  return a.type === b.type && a.name === b.name && sameLocation(a.parent, b.parent);
}

function urnOf(location: Location): pulumi.Output<string> {
  return pulumi.createUrn(location.name, location.type, location.parent && urnOf(location.parent));
}

/**
 * Aliases that let a resource take over the state of the same object registered at one of its
 * `previous` locations (an earlier naming scheme), so `pulumi up` updates it in place instead of
 * creating a new one and deleting the old. Locations equal to `current` need no alias.
 */
export function aliasesFrom(previous: readonly Location[], current?: Location): pulumi.Output<string>[] {
  return previous
    .filter((p, i) => !sameLocation(p, current) && previous.findIndex((q) => sameLocation(p, q)) === i)
    .map(urnOf);
}
