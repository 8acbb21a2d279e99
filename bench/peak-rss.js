// @ts-check
"use strict";
/**
 * Preloaded by bench/run.ts through NODE_OPTIONS into every node process of a measured command
 * (npm and the plan it runs): appends the process's peak RSS and arguments to $BENCH_PEAK_RSS_FILE.
 */
const fs = require("fs");

const file = process.env.BENCH_PEAK_RSS_FILE;
if (file) {
  process.once("exit", () => fs.appendFileSync(file, `${process.resourceUsage().maxRSS}\t${process.argv.slice(1).join(" ")}\n`));
}
