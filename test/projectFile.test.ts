import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { parseDocument } from "yaml";

// Every `pulumi` command loads Pulumi.yaml and the stack file with a YAML parser before the program
// starts, so a file our own loaders accept but a strict YAML 1.2 parser refuses breaks them all.
const ROOT = path.resolve(__dirname, "..");

/** The problems a strict YAML 1.2 parse finds (duplicate keys included), one line each. */
function strictYamlProblems(text: string): string[] {
  const doc = parseDocument(text, { version: "1.2", strict: true, uniqueKeys: true, prettyErrors: false });
  return [...doc.errors, ...doc.warnings].map((e) => e.message.split("\n")[0]);
}

// The keys the CLI's project schema defines: pulumi/pulumi sdk/go/common/workspace/project.json at
// v3.248.0 (the version package-lock.json pins), `properties`. Its runtime is a name or
// `{ name, options }` with nothing else ("additionalProperties": false).
const PROJECT_KEYS = ["name", "description", "author", "website", "license", "runtime", "main", "config", "stackConfigDir", "backend", "options", "template", "packages", "plugins"];
const RUNTIME_KEYS = ["name", "options"];
// The Node.js language host's runtime options (pulumi.com/docs/iac/concepts/projects/project-file,
// "runtime options"; `tsconfig` is the host's tsconfig path, -tsconfig in
// sdk/v3@v3.68.0 nodejs/cmd/pulumi-language-nodejs/main.go).
const NODEJS_OPTIONS = ["typescript", "nodeargs", "packagemanager", "tsconfig"];
// The schema's project name pattern: alphanumerics, hyphens, underscores and periods.
const PROJECT_NAME = /^[A-Za-z0-9_.-]+$/;

function projectFileProblems(text: string): string[] {
  const yamlProblems = strictYamlProblems(text);
  if (yamlProblems.length > 0) return yamlProblems;
  const project: unknown = parseDocument(text, { version: "1.2" }).toJS();
  if (typeof project !== "object" || project === null || Array.isArray(project)) return ["not a mapping"];
  const problems = Object.keys(project).filter((k) => !PROJECT_KEYS.includes(k)).map((k) => `unknown key ${k}`);
  const { name, runtime } = project as { name?: unknown; runtime?: unknown };
  if (typeof name !== "string" || !PROJECT_NAME.test(name)) problems.push("name must be alphanumerics, hyphens, underscores and periods");
  if (typeof runtime === "object" && runtime !== null && !Array.isArray(runtime)) {
    const { name: runtimeName, options = {} } = runtime as { name?: unknown; options?: unknown };
    problems.push(...Object.keys(runtime).filter((k) => !RUNTIME_KEYS.includes(k)).map((k) => `unknown key runtime.${k}`));
    if (runtimeName !== "nodejs") problems.push("runtime.name must be nodejs");
    if (typeof options !== "object" || options === null) problems.push("runtime.options must be a mapping");
    else problems.push(...Object.keys(options).filter((k) => !NODEJS_OPTIONS.includes(k)).map((k) => `unknown Node.js runtime option ${k}`));
  } else if (runtime !== "nodejs") problems.push("runtime must be nodejs");
  return problems;
}

test("Pulumi.yaml is strict YAML 1.2 with only the keys the CLI's project schema defines", () => {
  assert.deepEqual(projectFileProblems(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")), []);
});

test("a plain-scalar description with ': ' in it is refused, as the CLI refuses it", () => {
  const broken = "name: release-infra\ndescription: The infrastructure release pipelines stand on: registries.\nruntime: nodejs\n";
  assert.equal(projectFileProblems(broken).length, 1);
});

test("an unknown project key or runtime option is reported by name", () => {
  const typo = "name: release-infra\ndescripton: x\nruntime:\n  name: nodejs\n  options:\n    typescirpt: true\n";
  assert.deepEqual(projectFileProblems(typo), ["unknown key descripton", "unknown Node.js runtime option typescirpt"]);
});

test("a duplicate key is refused", () => {
  assert.equal(strictYamlProblems("config:\n  github:owner: a\n  github:owner: b\n").length, 1);
});

const stackFiles = [ROOT, ...fs.readdirSync(path.join(ROOT, "examples")).map((d) => path.join(ROOT, "examples", d))]
  .filter((dir) => fs.statSync(dir).isDirectory())
  .flatMap((dir) => fs.readdirSync(dir).filter((f) => /^Pulumi\..+\.ya?ml$/.test(f)).map((f) => path.join(dir, f)));

for (const file of stackFiles) {
  test(`${path.relative(ROOT, file)} is strict YAML 1.2`, () => {
    assert.deepEqual(strictYamlProblems(fs.readFileSync(file, "utf8")), []);
  });
}
