/**
 * sandbox-exec as one bundle, so that the process the tool router starts for every call loads one
 * file instead of stripping the types of some fifty modules and resolving five hundred (about a
 * third of the CPU a start cost: measure with `npm run bench -- sandbox-start`).
 *
 * The bundle is made with esbuild when the router first needs it and kept on disk under
 * `node_modules/.cache/wheelhouse/sandbox-exec/<hash>/`, where `<hash>` is the sha256 of every file
 * that went into it (ours and the packages', as esbuild's metafile lists them) with esbuild's
 * version: a process whose files are byte for byte those of a cached bundle uses it, a changed
 * file makes a new one. A build goes to a folder of its own and is renamed into place, so a
 * process never sees half a bundle and two routers starting at once both end with a whole one.
 * Beside the bundle, `compile-cache/` holds Node's compile cache for the sandbox processes.
 *
 * Nothing in sandbox-exec may find a file relative to its own module (`import.meta.url`): the
 * bundle runs from the cache folder. The only such path, the tool catalog's folder, is passed on
 * the command line (`--catalog-dir`). When the bundle cannot be made (esbuild missing, a build
 * error, a read-only checkout), sandbox-exec runs from its TypeScript source as before, and the
 * router warns once.
 */
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_CATALOG_DIR } from "../../lib/tools/index.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** sandbox-exec's TypeScript entry. */
export const SANDBOX_EXEC_SOURCE = join(REPO_ROOT, "services", "sandbox-exec", "main.ts");
export const DEFAULT_SANDBOX_BUNDLE_DIR = join(REPO_ROOT, "node_modules", ".cache", "wheelhouse", "sandbox-exec");

/**
 * Part of every bundle's key: change it when the build options below change, so that bundles
 * made with the old ones are not used.
 */
const BUILD_FORMAT = "esm-split-mjs-1";
const MAIN_FILE = "main.mjs";
const INPUTS_FILE = "inputs.json";
const HASH_NAME = /^[0-9a-f]{32}$/;
/** A cached bundle not used for this long is removed after a build (a router running it would lose it). */
const UNUSED_FOR_MS = 7 * 24 * 3600 * 1000;

/**
 * Writes the bundle of `entry` into `outdir` (its entry file named `main.mjs`) and answers with the
 * files that went into it, relative to `root`, and the bundler's version. Tests pass their own.
 */
export type BuildBundle = (
  entry: string,
  outdir: string,
  root: string,
) => Promise<{ readonly inputs: readonly string[]; readonly bundler: string }>;

export interface BundleCacheOptions {
  /** The TypeScript entry, absolute. */
  readonly entry: string;
  /** The folder the input paths are relative to (the repository). */
  readonly root: string;
  /** Where the `<hash>/` folders live. */
  readonly cacheDir: string;
  readonly build?: BuildBundle | undefined;
}

export interface CachedBundle {
  /** The bundle's folder, `<cacheDir>/<hash>`. */
  readonly dir: string;
  /** Its entry file. */
  readonly main: string;
  readonly hash: string;
  /** Whether this call made it (false: it was on disk). */
  readonly built: boolean;
}

/** What a bundle folder's `inputs.json` holds. */
interface BundleInputs {
  readonly format: string;
  readonly bundler: string;
  readonly entry: string;
  /** sha256 of each file that went into the bundle, by its path relative to the root. */
  readonly files: Readonly<Record<string, string>>;
}

/**
 * The bundle of `options.entry` from the cache when every file that went into it is unchanged,
 * else a new one (built, hashed and renamed into place). Throws when the build fails.
 */
export async function cachedBundle(options: BundleCacheOptions): Promise<CachedBundle> {
  const { cacheDir, root } = options;
  const entry = relative(root, options.entry);
  const hashOf = memoizedSha256(root);
  const found = findCached(cacheDir, entry, hashOf);
  if (found) return found;

  const build = options.build ?? esbuildBundle;
  mkdirSync(cacheDir, { recursive: true });
  // A file edited while esbuild read it would leave a bundle of the old text under the new text's
  // hash, used until that file changes again: such a build is made again (once).
  for (let attempt = 1; ; attempt++) {
    const tmp = join(cacheDir, `.build-${process.pid}-${randomUUID()}`);
    const startedAt = Date.now();
    try {
      const { inputs, bundler } = await build(options.entry, tmp, root);
      const files: Record<string, string> = {};
      let changed = false;
      for (const input of [...inputs].sort()) {
        const sha = hashOf(input);
        if (sha === null) throw new Error(`cannot read ${input}, which went into the bundle`);
        files[input] = sha;
        if (statSync(resolve(root, input)).mtimeMs >= startedAt) changed = true;
      }
      if (changed) {
        if (attempt < 2) continue;
        throw new Error("sources kept changing while they were bundled");
      }
      const described: BundleInputs = { format: BUILD_FORMAT, bundler, entry, files };
      const hash = keyOf(described);
      await writeFile(join(tmp, INPUTS_FILE), `${JSON.stringify(described, null, 1)}\n`);
      const dir = join(cacheDir, hash);
      try {
        renameSync(tmp, dir);
      } catch (error) {
        // Another process renamed the same bundle into place first: theirs is whole, use it.
        if (!existsSync(join(dir, MAIN_FILE))) throw error;
        return { dir, main: join(dir, MAIN_FILE), hash, built: false };
      }
      pruneUnused(cacheDir, hash);
      return { dir, main: join(dir, MAIN_FILE), hash, built: true };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

/** The newest cached bundle whose files all still hash the same, or null. */
function findCached(cacheDir: string, entry: string, hashOf: (path: string) => string | null): CachedBundle | null {
  let names: string[];
  try {
    names = readdirSync(cacheDir).filter((name) => HASH_NAME.test(name));
  } catch {
    return null;
  }
  const byNewest = names
    .map((name) => ({ name, mtime: mtimeOf(join(cacheDir, name)) }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const { name } of byNewest) {
    const dir = join(cacheDir, name);
    let described: BundleInputs;
    try {
      described = JSON.parse(readFileSync(join(dir, INPUTS_FILE), "utf8")) as BundleInputs;
    } catch {
      continue;
    }
    if (described.format !== BUILD_FORMAT || described.entry !== entry || keyOf(described) !== name) continue;
    if (!Object.entries(described.files).every(([path, sha]) => hashOf(path) === sha)) continue;
    if (!existsSync(join(dir, MAIN_FILE))) continue;
    try {
      // Its modification time says when it was last used (pruneUnused).
      const now = new Date();
      utimesSync(dir, now, now);
    } catch {
      // A read-only cache is still a cache.
    }
    return { dir, main: join(dir, MAIN_FILE), hash: name, built: false };
  }
  return null;
}

/** Removes bundle folders other than `keep` not used for a week, and builds abandoned as long. */
function pruneUnused(cacheDir: string, keep: string): void {
  for (const name of readdirSync(cacheDir)) {
    if (name === keep || !(HASH_NAME.test(name) || name.startsWith(".build-"))) continue;
    const path = join(cacheDir, name);
    if (Date.now() - mtimeOf(path) > UNUSED_FOR_MS) rmSync(path, { recursive: true, force: true });
  }
}

function keyOf(described: BundleInputs): string {
  const key = createHash("sha256").update(`${described.format}\0${described.bundler}\0${described.entry}\0`);
  for (const path of Object.keys(described.files).sort()) key.update(`${path}\0${described.files[path]}\n`);
  return key.digest("hex").slice(0, 32);
}

function memoizedSha256(root: string): (path: string) => string | null {
  const seen = new Map<string, string | null>();
  return (path) => {
    let sha = seen.get(path);
    if (sha === undefined) {
      try {
        sha = createHash("sha256")
          .update(readFileSync(resolve(root, path)))
          .digest("hex");
      } catch {
        sha = null;
      }
      seen.set(path, sha);
    }
    return sha;
  };
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * esbuild: one ES module file per entry and shared chunk (`splitting`), so what run.ts imports
 * dynamically (the MinIO client) stays in a file of its own that a call without an object-store
 * artifact never loads. `.mjs`, so Node does not look for a package.json to tell the format.
 * Bundled CommonJS packages call `require` for Node's built-ins: the banner makes one.
 */
const esbuildBundle: BuildBundle = async (entry, outdir, root) => {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: { main: entry },
    absWorkingDir: root,
    outdir,
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node24",
    outExtension: { ".js": ".mjs" },
    banner: {
      js: 'import { createRequire as __wheelhouseCreateRequire } from "node:module"; const require = __wheelhouseCreateRequire(import.meta.url);',
    },
    // Not read unless Node runs with --enable-source-maps (NODE_OPTIONS), which a start would pay for.
    sourcemap: "linked",
    metafile: true,
    logLevel: "silent",
  });
  return { inputs: Object.keys(result.metafile.inputs), bundler: `esbuild@${esbuild.version}` };
};

/** How to start one sandbox-exec process. */
export interface SandboxExecLaunch {
  readonly file: string;
  readonly args: readonly string[];
  /** Added to the process's environment (Node's compile cache). */
  readonly env: Readonly<Record<string, string>>;
  /** The bundle's folder, or null when it runs from the TypeScript source. */
  readonly bundle: string | null;
}

export interface SandboxExecLauncherOptions {
  readonly cacheDir?: string | undefined;
  readonly catalogDir?: string | undefined;
  readonly build?: BuildBundle | undefined;
  /** Told once why the TypeScript source runs instead of the bundle. */
  readonly warn?: ((message: string) => void) | undefined;
}

/**
 * How to start sandbox-exec: this Node on the cached bundle, made on the first call (every later
 * call answers the same), or on the TypeScript source when the bundle cannot be made.
 */
export function createSandboxExecLauncher(options: SandboxExecLauncherOptions = {}): () => Promise<SandboxExecLaunch> {
  const cacheDir = options.cacheDir ?? DEFAULT_SANDBOX_BUNDLE_DIR;
  const args = [`--catalog-dir=${options.catalogDir ?? DEFAULT_CATALOG_DIR}`];
  const warn = options.warn ?? ((message: string) => process.emitWarning(message, "WheelhouseSandboxBundle"));
  let launch: Promise<SandboxExecLaunch> | undefined;
  const make = async (): Promise<SandboxExecLaunch> => {
    try {
      const bundle = await cachedBundle({
        entry: SANDBOX_EXEC_SOURCE,
        root: REPO_ROOT,
        cacheDir,
        build: options.build,
      });
      return {
        file: process.execPath,
        args: [bundle.main, ...args],
        env: { NODE_COMPILE_CACHE: join(bundle.dir, "compile-cache") },
        bundle: bundle.dir,
      };
    } catch (error) {
      warn(
        `sandbox-exec runs from its TypeScript source, which costs about twice the CPU per tool call: its bundle could not be made in ${cacheDir} (${(error as Error).message}). Check that esbuild is installed (npm ci) and the folder is writable.`,
      );
      return {
        file: process.execPath,
        args: [SANDBOX_EXEC_SOURCE, ...args],
        env: { NODE_COMPILE_CACHE: join(cacheDir, "source-compile-cache") },
        bundle: null,
      };
    }
  };
  return () => {
    launch ??= make();
    return launch;
  };
}

/** This process's launcher: the bundle is looked up (or built) once, by the first tool call or prestart. */
export const sandboxExecLaunch = createSandboxExecLauncher();
