import * as path from "path";

/**
 * Node arguments that run a .ts entry point fast (scripts/register.js: esbuild and V8's code
 * cache, both cached by content), for child processes: `spawn(process.execPath, [...FAST_TS_NODE_ARGS, "scripts/plan.ts", ...])`.
 * The path is absolute, so the child may run in any directory.
 */
export const FAST_TS_NODE_ARGS: string[] = ["--require", path.join(__dirname, "..", "register.js")];
