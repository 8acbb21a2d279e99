import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** The repository's files under `root`: git's list when it is a clone, else everything but dependencies. */
export function repositoryFiles(root: string): string[] {
  try {
    return execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" }).split("\0").filter(Boolean);
  } catch {
    const walk = (dir: string): string[] =>
      fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
        const rel = path.join(dir, entry.name);
        if (entry.name === "node_modules" || entry.name === ".git") return [];
        return entry.isDirectory() ? walk(rel) : [rel];
      });
    return walk("");
  }
}
