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

/**
 * A transformation for a component and its children: each resource whose name contains a key of
 * `renamed` also gets an alias with that part as it was before (`renamed`'s value). A URN holds
 * the types of the ancestors but not their names, so the alias is the URN an existing stack
 * knows. An alias no stack knows is ignored by the engine.
 */
export function renamedPartAliases(renamed: ReadonlyMap<string, string>): pulumi.ResourceTransformation {
  return ({ name, props, opts }) => {
    const aliases = [...renamed].filter(([now, before]) => now !== before && name.includes(now)).map(([now, before]) => ({ name: name.replace(now, before) }));
    return aliases.length > 0 ? { props, opts: { ...opts, aliases: [...(opts.aliases ?? []), ...aliases] } } : undefined;
  };
}
