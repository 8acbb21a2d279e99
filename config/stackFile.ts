/**
 * Stack files (`Pulumi.<stack>.yaml`) as the Pulumi CLI reads them: finding them in a folder,
 * the stack a file belongs to, and reading one into config values keyed as in the file.
 */
import * as fs from "fs";
import * as path from "path";
import { parseDocument } from "yaml";
import { ConfigError } from "./errors";
import { parseStackConfig } from "./load";

const STACK_FILE = /^Pulumi\.(.+)\.ya?ml$/;

/** Stack files in a folder: `Pulumi.<stack>.yaml`, by stack name, sorted. */
export function stackFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of fs.readdirSync(dir).sort()) {
    const match = STACK_FILE.exec(entry);
    if (match) files.set(match[1], path.join(dir, entry));
  }
  return files;
}

/** The stack a file belongs to: `explicit`, else `<name>` of `Pulumi.<name>.yaml`, else the base name. */
export function stackNameOf(file: string, explicit?: string): string {
  if (explicit) return explicit;
  const base = path.basename(file);
  return STACK_FILE.exec(base)?.[1] ?? base.replace(/\.[^.]*$/, "");
}

const FILE_KEYS = ["config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"];

/** Reads a stack file as the CLI would, into config values keyed as in the file. Throws ConfigError. */
export function readStackFile(file: string, display: string): Record<string, unknown> {
  let text: string;
  try {
    if (fs.statSync(file).isDirectory()) {
      throw new ConfigError([`${display}: is a directory; --config takes a stack file such as ${path.join(display, "Pulumi.prod.yaml")}, and --all plans every stack file of the current directory`]);
    }
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([code === "ENOENT" ? `${display}: file not found` : `${display}: cannot be read (${code ?? "error"})`]);
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    // The first error is the cause; the parser's later ones follow from it (e.g. one indentation slip).
    const [first] = doc.errors;
    throw new ConfigError([`${display}: YAML: ${first.message.split("\n")[0].replace(/:$/, "")}`]);
  }
  const root: unknown = doc.toJS();
  if (root === null || root === undefined) throw new ConfigError([`${display}: config: the file is empty; a stack file needs a config: section`]);
  if (typeof root !== "object" || Array.isArray(root)) throw new ConfigError([`${display}: the file must be a YAML mapping with a config: section`]);
  const rootObject = root as Record<string, unknown>;
  const problems = Object.keys(rootObject)
    .filter((k) => !FILE_KEYS.includes(k))
    .map((k) => `${display}: ${k}: unknown top-level key; a stack file has ${FILE_KEYS.join(", ")}`);
  const config = rootObject.config;
  if (config === undefined || config === null) problems.push(`${display}: config: is missing or empty; put the stack's settings under config:`);
  else if (typeof config !== "object" || Array.isArray(config)) problems.push(`${display}: config: must be a mapping of keys to values`);
  if (problems.length > 0) throw new ConfigError(problems);
  return config as Record<string, unknown>;
}

/** Reads and validates a stack file, returning its values and the program's config view. Throws ConfigError. */
export function validateStackFile(file: string, stack: string, display = path.relative(process.cwd(), file) || file) {
  const values = readStackFile(file, display);
  return { values, ...parseStackConfig(values, { file: display, stack, source: "offline-plan" }) };
}
