import * as pulumi from "@pulumi/pulumi";

/**
 * An object the config declares, and whether it exists already. Creating one that exists either
 * fails in the middle of an update (Azure, GCS, GitHub variables and rulesets answer 409) or
 * silently takes it over (a GitHub environment is created with PUT): a preview stops on both,
 * naming the `adopt` key to set.
 */
export interface TakeOverProbe {
  /** Ownership key of the object (config/ownership.ts ownershipKey), as the stack's `managed` output lists it. */
  key: string;
  /** The object in words: `GitHub environment acme/shop:production`. */
  what: string;
  /** The key that adopts it: `release-infra:github.repositories[shop].environments[production].adopt: true`. */
  adoptKey: pulumi.Input<string>;
  /** The config adopts it already: then it only has to be imported before the stack can manage it. */
  adopted: boolean;
  /** True when the object exists. */
  exists: pulumi.Input<boolean>;
  /** The resource that manages it: once it is in the stack's state, the object is the stack's own. */
  resource: pulumi.CustomResource;
  /** What to do instead of setting an adopt key, for objects no key adopts (a deployment policy's import). */
  remedy?: pulumi.Input<string>;
}

/** The import steps every message points to, for this stack. */
function importSteps(): string {
  const stack = pulumi.getStack();
  return `npm run plan -- --stack ${stack} --import-file ${stack}-import.json, then pulumi import --file ${stack}-import.json --stack ${stack} --generate-code=false (docs/migration.md)`;
}

/**
 * Whether `resource` is in the stack's state, as a preview registers it: the engine keeps the old
 * id of a resource it updates or leaves alone (pkg/resource/deploy/step.go, "Always propagate the ID
 * ... even in previews") and has none for one it would create. `pulumi:pulumi:getResource` is the
 * engine's built-in read of a registered resource (pkg/resource/deploy/builtins.go).
 */
function inState(resource: pulumi.CustomResource): pulumi.Output<boolean> {
  return resource.urn.apply(async (urn) => {
    const state: unknown = await pulumi.runtime.invoke("pulumi:pulumi:getResource", { urn });
    const id = typeof state === "object" && state !== null && "id" in state ? state.id : undefined;
    return typeof id === "string" && id !== "";
  });
}

/**
 * The first line of the error that fails a preview on what its checks found (index.ts), so a
 * drift run tells these findings (drift) from a preview that broke (scripts/drift-report.ts).
 */
export const PREVIEW_CHECKS_FAILED = "The preview's checks failed (one line per object, each with its fix):";

/**
 * Whether a component runs its take-over lookups: only in a preview, and only when it was given the
 * stack's previous `managed` output. `pulumi up` previews first, and by the update the check has
 * passed, so the update makes none of these reads.
 */
export function checksTakeOver(managedBefore: pulumi.Input<string[]> | undefined): managedBefore is pulumi.Input<string[]> {
  return managedBefore !== undefined && pulumi.runtime.isDryRun();
}

/**
 * One line per object a preview would create although it exists: not in the stack's state and
 * not listed in the stack's last `managed` output (which covers a replacement that keeps the
 * name). Empty outside a preview: `pulumi up` previews first, and by the update the check has
 * passed. index.ts fails the preview with all lines at once.
 */
export function takeOverProblems(probes: readonly TakeOverProbe[], managedBefore: pulumi.Input<string[]>): pulumi.Output<string[]> {
  if (!pulumi.runtime.isDryRun() || probes.length === 0) return pulumi.output([]);
  return pulumi
    .all([
      pulumi.output(managedBefore),
      pulumi.all(probes.map((p) => p.exists)),
      pulumi.all(probes.map((p) => inState(p.resource))),
      pulumi.all(probes.map((p) => p.adoptKey)),
      pulumi.all(probes.map((p) => p.remedy ?? "")),
    ])
    .apply(([before, exists, states, adoptKeys, remedies]) => {
      const own = new Set(before.map((k) => k.toLowerCase()));
      return probes.flatMap((p, i) => {
        if (exists[i] !== true || states[i] || own.has(p.key.toLowerCase())) return [];
        if (remedies[i]) return [`${p.what} exists already and this stack does not manage it: ${remedies[i]}`];
        // A preview registers a replacement as a create, with no id, like an object never imported.
        if (p.adopted) {
          return [
            `${p.what} is adopted but not in this stack's state, so the update would create it again: import it first (${importSteps()}); if it is imported, the config forces its replacement: pulumi preview --diff names the input`,
          ];
        }
        return [`${p.what} exists already and this stack does not manage it: set ${adoptKeys[i]} and import it (${importSteps()}), or rename it in the config`];
      });
    });
}
