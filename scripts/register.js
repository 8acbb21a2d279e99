// @ts-check
"use strict";
/**
 * Fast TypeScript entry points on Node 20: `node --require ./scripts/register.js file.ts`
 * (scripts/lib/fastTs.ts has the arguments for a child process). Three caches, all in
 * os.tmpdir() and keyed by content, so a stale entry can never run old code:
 *
 * - `.ts` files are transpiled by esbuild (to CommonJS, types stripped, no type check: that is
 *   `tsc --noEmit`), keyed by the source, its path, tsconfig.json and the Node and esbuild versions.
 * - Every CommonJS module is compiled with V8's code cache, keyed by its path and source, one
 *   cache file per V8 version and flags. Node 20 has no `module.enableCompileCache`.
 * - Where a require inside an installed package leads is cached per content of
 *   node_modules/.package-lock.json, which npm rewrites whenever it changes what is installed.
 *
 * Instead of tsx: its ESM hooks run in a worker thread, it lexes every loaded file for exports,
 * and it turns on source maps, which makes every `new Error().stack` (Pulumi takes one per
 * resource and per promise) expensive. Here source maps exist only when Node runs with
 * --enable-source-maps (as `npm test` does, for TypeScript lines in failures); then the project's
 * own files are compiled by Node, which registers their maps, and only installed packages come
 * from the code cache.
 */
const crypto = require("crypto");
const fs = require("fs");
const Module = require("module");
const os = require("os");
const path = require("path");
const v8 = require("v8");
const vm = require("vm");

/**
 * @typedef {(content: string, filename: string, format?: string) => unknown} Compile
 * @typedef {NodeJS.Module & { _compile: Compile }} LoadableModule
 * @typedef {typeof Module & {
 *   _cache: NodeJS.Dict<NodeJS.Module>,
 *   _extensions: NodeJS.RequireExtensions,
 *   _resolveFilename: (request: string, parent: NodeJS.Module | null | undefined, isMain: boolean, options?: { paths?: string[] }) => string,
 *   _resolveLookupPaths: (request: string, parent: NodeJS.Module) => string[] | null,
 *   _load: (request: string, parent: NodeJS.Module | null | undefined, isMain: boolean) => unknown,
 * }} CjsLoader  The CommonJS loader internals a require hook works with (as tsx and v8-compile-cache do).
 */
const loader = /** @type {CjsLoader} */ (Module);
const moduleProto = /** @type {LoadableModule} */ (Module.prototype);

const INSTALLED = `${path.sep}node_modules${path.sep}`;
const CACHE_DIR = path.join(os.tmpdir(), `release-infra-${typeof process.getuid === "function" ? process.getuid() : "user"}`);
const hashOf = (/** @type {(string | Buffer)[]} */ ...parts) => {
  const hash = crypto.createHash("sha1");
  for (const part of parts) hash.update(part).update("\0");
  return hash.digest("base64url");
};

/** Writes through a temporary file, so a concurrent reader sees the old file or the new one. */
function writeAtomically(/** @type {string} */ file, /** @type {string | Buffer} */ data) {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, data);
    fs.renameSync(temporary, file);
  } catch {
    // A cache that cannot be written only costs the next run time.
  }
}

// ---------------------------------------------------------------------------------------------
// .ts: esbuild, cached

const TSCONFIG = fs.readFileSync(path.join(__dirname, "..", "tsconfig.json"), "utf8");
/** @type {import("esbuild").TransformOptions} */
const TRANSFORM = { loader: "ts", format: "cjs", target: "node20", sourcemap: process.sourceMapsEnabled ? "inline" : false, tsconfigRaw: TSCONFIG };
const TRANSFORM_KEY = JSON.stringify([process.version, require("esbuild/package.json").version, TRANSFORM]);

loader._extensions[".ts"] = (/** @type {NodeJS.Module} */ module, /** @type {string} */ filename) => {
  const source = fs.readFileSync(filename, "utf8");
  const cached = path.join(CACHE_DIR, "ts", `${hashOf(TRANSFORM_KEY, filename, source)}.js`);
  let code;
  try {
    code = fs.readFileSync(cached, "utf8");
  } catch {
    // Loaded only on a miss: starting esbuild's service costs more than reading a cached file.
    code = require("esbuild").transformSync(source, { ...TRANSFORM, sourcefile: filename }).code;
    writeAtomically(cached, code);
  }
  moduleProto._compile.call(module, code, filename);
};

// ---------------------------------------------------------------------------------------------
// V8 code cache for every CommonJS module, in one file: [header length][header JSON][data]

const DYNAMIC_IMPORT = /(?<![\w$.'"`])import\s*(?:\/\*[\s\S]*?\*\/\s*)*\(/g;

/**
 * Whether a module may call `import()`: a script compiled from cached data loses its import
 * callback (Node 20), so such a module is left to Node. Not an `import(` after a name or `.` (a
 * method), nor one inside a string on its line (typescript.js has messages that name `import()`).
 */
function mayImportDynamically(/** @type {string} */ content) {
  for (const match of content.matchAll(DYNAMIC_IMPORT)) {
    const before = content.slice(content.lastIndexOf("\n", match.index) + 1, match.index).replace(/\\./g, "");
    if (!['"', "'", "`"].some((quote) => before.split(quote).length % 2 === 0)) return true;
  }
  return false;
}

function installCodeCache() {
  // One file per V8 version, flags and CPU features: V8 rejects cached data made under others.
  const file = path.join(CACHE_DIR, `v8-2-${process.version}-${v8.cachedDataVersionTag()}.bin`);
  /** @type {Record<string, [number, number] | null>} key -> [start, end] in `blob`, or null: Node compiles it */
  let index = {};
  let blob = Buffer.alloc(0);
  try {
    const data = fs.readFileSync(file);
    const headerLength = data.readUInt32LE(0);
    index = JSON.parse(data.subarray(4, 4 + headerLength).toString("utf8"));
    blob = data.subarray(4 + headerLength);
  } catch {
    // No cache yet, or an unreadable one: everything is compiled and cached afresh.
  }
  const used = new Set();
  /** @type {Map<string, vm.Script | null>} compiled without usable cached data; cached at exit, when it includes every function that ran */
  const fresh = new Map();
  const nodeCompile = moduleProto._compile;

  moduleProto._compile = function (content, filename, format) {
    if (format === "module" || (process.sourceMapsEnabled && !filename.includes(INSTALLED))) return nodeCompile.call(this, content, filename, format);
    const key = hashOf(filename, content);
    used.add(key);
    const at = index[key];
    if (at === null) return nodeCompile.call(this, content, filename, format);
    if (at === undefined && mayImportDynamically(content)) {
      fresh.set(key, null);
      return nodeCompile.call(this, content, filename, format);
    }
    /** @type {vm.Script} */
    let script;
    try {
      // "#!" would be a syntax error inside the wrapper; "//" keeps every position.
      const body = content.startsWith("#!") ? `//${content.slice(2)}` : content;
      script = new vm.Script(Module.wrap(body), { filename, cachedData: at ? blob.subarray(at[0], at[1]) : undefined });
    } catch {
      // ES module syntax or a syntax error: Node's own compile loads it or reports it.
      fresh.set(key, null);
      return nodeCompile.call(this, content, filename, format);
    }
    if (script.cachedDataRejected !== false) fresh.set(key, script);
    const wrapper = script.runInThisContext({ displayErrors: true });
    return wrapper.call(this.exports, this.exports, makeRequire(this), this, filename, path.dirname(filename));
  };

  process.once("exit", () => {
    if (fresh.size === 0) return;
    // Entries of other entry points are kept unless the file grows past 64 MB.
    const keep = blob.length > 64 * 1024 * 1024 ? (/** @type {string} */ key) => used.has(key) : () => true;
    /** @type {Buffer[]} */
    const parts = [];
    /** @type {Record<string, [number, number] | null>} */
    const header = {};
    let offset = 0;
    const add = (/** @type {string} */ key, /** @type {Buffer | null} */ data) => {
      if (!data) {
        header[key] = null;
        return;
      }
      header[key] = [offset, offset + data.length];
      parts.push(data);
      offset += data.length;
    };
    for (const [key, at] of Object.entries(index)) if (!fresh.has(key) && keep(key)) add(key, at && blob.subarray(at[0], at[1]));
    for (const [key, script] of fresh) add(key, script && script.createCachedData());
    const headerBytes = Buffer.from(JSON.stringify(header), "utf8");
    const length = Buffer.alloc(4);
    length.writeUInt32LE(headerBytes.length, 0);
    writeAtomically(file, Buffer.concat([length, headerBytes, ...parts]));
  });
}
installCodeCache();

// ---------------------------------------------------------------------------------------------
// Resolution inside installed packages (Node probes files and reads package.json files, about
// 2,000 times per plan); requires from the project's own files are always resolved afresh.

const NODE_MODULES = path.join(__dirname, "..", "node_modules");
/** Flags that change where a require leads (export conditions, symlinks): with one, nothing is cached. */
const RESOLUTION_FLAG = /^(-C|--conditions|--preserve-symlinks)/;
/** @type {Buffer | undefined} */
let installed;
try {
  if (![...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)].some((arg) => RESOLUTION_FLAG.test(arg))) {
    installed = fs.readFileSync(path.join(NODE_MODULES, ".package-lock.json"));
  }
} catch {
  // Not installed by npm: nothing records what is installed, so nothing is cached.
}
if (installed) {
  const root = fs.realpathSync(NODE_MODULES) + path.sep;
  const file = path.join(CACHE_DIR, `resolve-${hashOf(process.version, root, installed)}.json`);
  /** @type {Record<string, string>} `<directory of the requiring file>\0<request>` -> file */
  let resolved = {};
  try {
    resolved = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    // No cache for this install yet.
  }
  let added = false;
  const nodeResolve = loader._resolveFilename;
  /** @type {CjsLoader["_resolveFilename"]} */
  const cachedResolve = (request, parent, isMain, options) => {
    const from = parent?.filename;
    if (isMain || options || !from?.startsWith(root)) return nodeResolve.call(loader, request, parent, isMain, options);
    const key = `${path.dirname(from)}\0${request}`;
    const known = resolved[key];
    if (known !== undefined) return known;
    const result = nodeResolve.call(loader, request, parent, isMain, options);
    // Only files of installed packages (a built-in module resolves to its own name).
    if (result.startsWith(root)) {
      resolved[key] = result;
      added = true;
    }
    return result;
  };
  loader._resolveFilename = cachedResolve;
  process.once("exit", () => {
    if (added) writeAtomically(file, JSON.stringify(resolved));
  });
}

// ---------------------------------------------------------------------------------------------
// Deferred dependencies: @pulumi/pulumi loads its closure serializer (serializeFunction, for
// dynamic providers and callbacks shipped as code) on start, and with it the TypeScript compiler
// and npm's Arborist: a fifth of a small plan's time, for code neither the program nor the tests
// call. Those two requires, from those two files only, get a stand-in that loads the real module
// on first use.

const PULUMI_CLOSURE = path.join(`${path.sep}node_modules`, "@pulumi", "pulumi", "runtime", "closure");
/**
 * @typedef {{ from: string, request: string, esModule: boolean }} Deferral
 *   `esModule`: the stand-in answers `__esModule: true` itself, so TypeScript's `__importStar` in the
 *   requiring file keeps the stand-in instead of copying (and so loading) every export.
 */
/** @type {Deferral[]} Each consumer uses the module only inside functions (checked against @pulumi/pulumi 3.x). */
const DEFERRED = [
  // ts.createSourceFile and friends, in parseFunction().
  { from: path.join(PULUMI_CLOSURE, "parseFunction.js"), request: "../../typescript-shim", esModule: false },
  // new arborist.Arborist(), in computeCodePaths().
  { from: path.join(PULUMI_CLOSURE, "codePaths.js"), request: "@npmcli/arborist", esModule: true },
];

/** A module object that loads the module behind it on first use. */
function deferredModule(/** @type {() => object} */ load, /** @type {boolean} */ esModule) {
  /** @type {object | undefined} */
  let real;
  const target = () => (real ??= load());
  return new Proxy(
    {},
    {
      get: (_, key) => (esModule && key === "__esModule" ? true : Reflect.get(target(), key)),
      has: (_, key) => Reflect.has(target(), key),
      ownKeys: () => Reflect.ownKeys(target()),
      getOwnPropertyDescriptor: (_, key) => {
        const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
        // A proxy may only report a non-configurable property its own target has.
        return descriptor && { ...descriptor, configurable: true };
      },
    },
  );
}

const nodeLoad = loader._load;
/** @type {CjsLoader["_load"]} */
const deferringLoad = (request, parent, isMain) => {
  const from = parent?.filename;
  const deferral = from && DEFERRED.find((d) => d.request === request && from.endsWith(d.from));
  if (deferral) return deferredModule(() => /** @type {object} */ (nodeLoad.call(loader, request, parent, isMain)), deferral.esModule);
  return nodeLoad.call(loader, request, parent, isMain);
};
loader._load = deferringLoad;

/** The `require` a module's code receives, as Node's loader builds it. */
function makeRequire(/** @type {NodeJS.Module} */ module) {
  /** @type {NodeJS.RequireResolve} */
  const resolve = Object.assign((/** @type {string} */ request, /** @type {{ paths?: string[] } | undefined} */ options) => loader._resolveFilename(request, module, false, options), {
    paths: (/** @type {string} */ request) => loader._resolveLookupPaths(request, module),
  });
  /** @type {NodeJS.Require} */
  const require = Object.assign((/** @type {string} */ id) => module.require(id), {
    resolve,
    main: process.mainModule,
    extensions: loader._extensions,
    cache: loader._cache,
  });
  return require;
}
