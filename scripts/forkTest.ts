/**
 * The fork test: copies this repository to a temporary folder, replaces the root stack files with
 * another organisation's (test/fixtures/fork: stacks `qa` and `live` of "globex"), and runs
 * `npm test` there. It passes only if the suite tests the program, not our example organisation.
 *
 *   npm run test:fork
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { repositoryFiles } from "./lib/repositoryFiles";

const ROOT = path.resolve(__dirname, "..");
const FORK_STACKS = path.join(ROOT, "test", "fixtures", "fork");
const STACK_FILE = /^Pulumi\..+\.ya?ml$/;

const fork = fs.mkdtempSync(path.join(os.tmpdir(), "release-infra-fork-"));
try {
  for (const file of repositoryFiles(ROOT)) {
    if (!fs.existsSync(path.join(ROOT, file))) continue;
    // The fork's own stack files replace ours.
    if (!file.includes(path.sep) && STACK_FILE.test(file)) continue;
    fs.mkdirSync(path.dirname(path.join(fork, file)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, file), path.join(fork, file));
  }
  const stacks = fs.readdirSync(FORK_STACKS).filter((f) => STACK_FILE.test(f));
  for (const file of stacks) {
    // Their schema comment points at the repository root from test/fixtures/fork.
    fs.writeFileSync(path.join(fork, file), fs.readFileSync(path.join(FORK_STACKS, file), "utf8").replace("$schema=../../../", "$schema=./"));
  }
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(fork, "node_modules"), "dir");
  process.stdout.write(`fork test: ${fork} with stack files ${stacks.join(", ")} instead of the committed ones\n`);
  const run = spawnSync("npm", ["test"], { cwd: fork, stdio: "inherit" });
  process.exitCode = run.status ?? 1;
} finally {
  fs.rmSync(fork, { recursive: true, force: true });
}
