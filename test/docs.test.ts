import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { FAST_TS_NODE_ARGS } from "../scripts/lib/fastTs";

// README.md and docs/ are what a stranger reads first: their links must resolve and the commands
// they show must exist as written.
const ROOT = path.resolve(__dirname, "..");
const PLAN = path.join(ROOT, "scripts", "plan.ts");

const DOCS = ["README.md", ...fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => path.join("docs", f))];
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

/** Markdown without fenced code blocks, so that example output is not read as links or headings. */
function withoutFences(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```[ \t]*$/gm, "");
}

/** Markdown prose: no fenced code blocks and no inline code spans. */
function prose(markdown: string): string {
  return withoutFences(markdown).replace(/`[^`\n]*`/g, "");
}

/** Link targets of a Markdown file (`[text](target)`), outside code. */
function links(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of withoutFences(markdown).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    out.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return out;
}

/** Every relative link of the docs as `{ file, target, resolved, anchor }`. */
function relativeLinks() {
  return DOCS.flatMap((file) =>
    links(read(file))
      .filter((target) => !isExternal(target))
      .map((target) => {
        const [linkPath, anchor] = target.split("#", 2);
        const resolved = linkPath === "" ? path.join(ROOT, file) : path.resolve(ROOT, path.dirname(file), decodeURIComponent(linkPath));
        return { file, target, resolved, anchor };
      }),
  );
}

/** Command lines the docs show: every line of code blocks and every inline code span. */
function commandTexts(markdown: string): string[] {
  const fenced = [...markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```[ \t]*$/gm)].flatMap((m) => m[1].split("\n"));
  const inline = [...withoutFences(markdown).matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
  return [...fenced, ...inline];
}

/**
 * `npm run [-s|--silent] <script> [-- args]` occurrences: the script, whether `--` separates its
 * arguments from npm's, and the arguments up to a shell operator or comment.
 */
function npmRuns(text: string): { script: string; separated: boolean; args: string[] }[] {
  return [...text.matchAll(/\bnpm run(?:\s+(?:-s|--silent))*\s+([A-Za-z][\w:-]*)(\s+--(?=\s|$))?([^|<>;&#`]*)/g)].map((m) => ({
    script: m[1],
    separated: m[2] !== undefined,
    args: m[3].trim().split(/\s+/).filter(Boolean),
  }));
}

/** The options the plan command's --help lists, in its usage lines and its options list. */
function planOptions(): Set<string> {
  const run = spawnSync(process.execPath, [...FAST_TS_NODE_ARGS, PLAN, "--help"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  const options = new Set<string>();
  for (const line of run.stdout.split("\n")) {
    const usage = /^\s+npm run plan -- (.*)$/.exec(line);
    const option = /^\s+(-[\w-]+(?:,\s*-[\w-]+)*)\s/.exec(line);
    const flags = usage ? usage[1].split(/\s{2,}/)[0] : option ? option[1] : "";
    for (const flag of flags.match(/(?<![\w-])--?[a-z][\w-]*/g) ?? []) options.add(flag);
  }
  return options;
}

test("every relative link in README.md and docs/ points at a file or folder of the repository", () => {
  const found = relativeLinks();
  assert.ok(found.length > 0, "no relative links found");
  const broken = found.filter((l) => !fs.existsSync(l.resolved)).map((l) => `${l.file}: ${l.target}`);
  assert.deepEqual(broken, []);
});

test("every #anchor of a link in README.md and docs/ names a heading of the file it points at", () => {
  const withAnchors = relativeLinks().filter((l) => l.anchor !== undefined && l.resolved.endsWith(".md") && fs.existsSync(l.resolved));
  assert.ok(withAnchors.length > 0, "no anchored links found");
  const broken = withAnchors.filter((l) => !anchors(fs.readFileSync(l.resolved, "utf8")).has(l.anchor ?? "")).map((l) => `${l.file}: ${l.target}`);
  assert.deepEqual(broken, []);
});

test("no file of the project mentions internal design notes, seed documents or reference notes", () => {
  const FORBIDDEN = [/\.\.\/shared\b/, /\bshared\/(seeds|reference)\b/, /\bDESIGN\.md\b/, /\bseeds?\s+\d{3}\b/i, /\b\d{3}_[0-9a-f]{16}\b/, /\breference\/[a-z-]+\.md\b/];
  const SCOPE = ["README.md", "index.ts", "docs", "examples", "policy", "components", "config", "scripts", ".github"];
  const files: string[] = [];
  const walk = (rel: string) => {
    const full = path.join(ROOT, rel);
    if (fs.statSync(full).isDirectory()) {
      for (const entry of fs.readdirSync(full).sort()) if (entry !== "node_modules") walk(path.join(rel, entry));
    } else {
      files.push(rel);
    }
  };
  SCOPE.filter((rel) => fs.existsSync(path.join(ROOT, rel))).forEach(walk);
  assert.ok(files.length > 20, `only ${files.length} files checked`);
  const hits = files.flatMap((file) =>
    read(file)
      .split("\n")
      .flatMap((line, i) => (FORBIDDEN.some((re) => re.test(line)) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
  );
  assert.deepEqual(hits, []);
});

test("every npm run script named in README.md and docs/ exists in package.json", () => {
  const scripts = Object.keys((JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts);
  const named = DOCS.flatMap((file) => commandTexts(read(file)).flatMap((text) => npmRuns(text).map((run) => ({ file, script: run.script }))));
  assert.ok(named.length > 0, "no npm run commands found");
  const missing = named.filter((n) => !scripts.includes(n.script)).map((n) => `${n.file}: npm run ${n.script}`);
  assert.deepEqual(missing, []);
});

/** Every `npm run plan` the docs show, with its file. */
function planRuns() {
  return DOCS.flatMap((file) =>
    commandTexts(read(file)).flatMap((text) => npmRuns(text).filter((run) => run.script === "plan").map((run) => ({ file, ...run }))),
  );
}

test("every npm run plan command in README.md and docs/ uses only options the plan accepts", () => {
  const accepted = planOptions();
  assert.ok(accepted.has("--stack") && accepted.has("--json"), `options read from --help: ${[...accepted].join(" ")}`);
  const runs = planRuns();
  assert.ok(runs.some((r) => r.args.length > 0), "no npm run plan commands with options found");
  const unknown = runs.flatMap((r) => r.args.filter((a) => a.startsWith("-") && !accepted.has(a)).map((a) => `${r.file}: ${a} in npm run plan -- ${r.args.join(" ")}`));
  assert.deepEqual(unknown, []);
});

test("every npm run plan command in README.md and docs/ passes its options after --", () => {
  // Without `--`, npm takes the options as its own and the plan never sees them.
  const unseparated = planRuns()
    .filter((r) => !r.separated && r.args.length > 0)
    .map((r) => `${r.file}: npm run plan ${r.args.join(" ")}`);
  assert.deepEqual(unseparated, []);
});
