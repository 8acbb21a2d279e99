/**
 * The fake cloud of one engine run, shared by the stand-in provider plugins (separate processes
 * started by the CLI) and the loopback ARM and Kubernetes servers: a directory holding the stack's
 * FakeWorld (world.json) and one file per object the stand-ins created that the program reads
 * back (resource groups, registries, namespaces). What was declared as created by the stack is
 * absent until a stand-in creates it, as in the offline plan before the first update.
 */
import * as fs from "fs";
import * as path from "path";
import type { FakeWorld } from "../lib/fakeCloud";

/** Environment variable naming the world directory; the CLI passes its environment on to plugins. */
export const WORLD_ENV = "RELEASE_INFRA_FAKE_WORLD";

/** world.json: the FakeWorld, with the loopback Kubernetes API server's URL. */
export interface WorldFile {
  repositories: NonNullable<FakeWorld["repositories"]>;
  creates: NonNullable<FakeWorld["creates"]>;
  kubeServer: string;
}

/** The objects the program reads back, by type token, and the input naming each. */
const TRACKED: Record<string, (inputs: Record<string, unknown>) => unknown> = {
  "azure-native:resources:ResourceGroup": (i) => i.resourceGroupName,
  "azure-native:containerregistry:Registry": (i) => i.registryName,
  "kubernetes:core/v1:Namespace": (i) => (typeof i.metadata === "object" && i.metadata !== null && "name" in i.metadata ? i.metadata.name : undefined),
};

const kindOf = (type: string) => type.split(":").pop()?.toLowerCase() ?? type;
const objectFile = (dir: string, kind: string, name: string) => path.join(dir, "objects", `${kind}-${name.toLowerCase()}`);

/** Writes the world; `adopted`: what a read finds of each object that exists before the stack (by import id). */
export function writeWorld(dir: string, world: WorldFile, adopted: Record<string, unknown> = {}): void {
  fs.mkdirSync(path.join(dir, "objects"), { recursive: true });
  fs.writeFileSync(path.join(dir, "world.json"), JSON.stringify(world, null, 2));
  fs.writeFileSync(path.join(dir, "adopted.json"), JSON.stringify(adopted, null, 2));
}

/** What a read finds of the object with import id `id` that existed before the stack; undefined if none. */
export function adoptedObject(dir: string, id: string): Record<string, unknown> | undefined {
  const adopted = JSON.parse(fs.readFileSync(path.join(dir, "adopted.json"), "utf8")) as Record<string, Record<string, unknown>>;
  return adopted[id];
}

/** Records that a stand-in created (present) or deleted an object of `type`. */
export function recordObject(dir: string, type: string, inputs: Record<string, unknown>, present: boolean): void {
  const name = TRACKED[type]?.(inputs);
  if (typeof name !== "string") return;
  const file = objectFile(dir, kindOf(type), name);
  if (present) fs.writeFileSync(file, "");
  else fs.rmSync(file, { force: true });
}

/** Whether a stand-in created the namespace `name` (on any cluster: the world keeps one API server). */
export function namespaceExists(dir: string, name: string): boolean {
  return fs.existsSync(objectFile(dir, "namespace", name));
}

/** The FakeWorld as it is now: what the stack creates and the stand-ins created is found. */
export function readWorld(dir: string): FakeWorld {
  const world = JSON.parse(fs.readFileSync(path.join(dir, "world.json"), "utf8")) as WorldFile;
  const absent = (kind: string, names: string[] | undefined) => (names ?? []).filter((n) => !fs.existsSync(objectFile(dir, kind, n)));
  return {
    repositories: world.repositories,
    creates: { registries: absent("registry", world.creates.registries), resourceGroups: absent("resourcegroup", world.creates.resourceGroups) },
    kubeServer: () => world.kubeServer,
  };
}
