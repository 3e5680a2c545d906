import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { FIXTURE_BIN } from "../../test/support/fixture-bin.ts";
import {
  type BuildBundle,
  type CachedBundle,
  cachedBundle,
  createSandboxExecLauncher,
  SANDBOX_EXEC_SOURCE,
  sandboxExecLaunch,
} from "./sandbox-bundle.ts";
import { createSandboxProcessRunner } from "./spawn.ts";

const run = promisify(execFile);
const node = process.execPath;
const scratch = mkdtempSync(join(tmpdir(), "wh-sandbox-bundle-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A project of two modules whose bundle prints what `dep.ts` says; its own cache folder. */
function fixtureProject(name: string, says: string) {
  const root = join(scratch, name);
  const cacheDir = join(root, "cache");
  rmSync(root, { recursive: true, force: true });
  writeFileSync(
    join(mkdirp(root), "entry.ts"),
    'import { says } from "./dep.ts";\nconsole.log(says satisfies string);\n',
  );
  const setDep = (text: string) =>
    writeFileSync(join(root, "dep.ts"), `export const says: string = ${JSON.stringify(text)};\n`);
  setDep(says);
  return { root, cacheDir, entry: join(root, "entry.ts"), setDep };
}

function mkdirp(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

const output = async (main: string) => (await run(node, [main])).stdout.trim();
const leftoverBuilds = (cacheDir: string) => readdirSync(cacheDir).filter((name) => name.startsWith(".build-"));

describe("sandbox-exec's bundle cache", () => {
  it("reuses a bundle whose files are unchanged and builds again when one changed", async () => {
    const project = fixtureProject("stale", "first");
    const first = await cachedBundle(project);
    assert.equal(first.built, true);
    assert.equal(await output(first.main), "first");

    const again = await cachedBundle(project);
    assert.deepEqual(again, { ...first, built: false }, "same files: the cached bundle");

    project.setDep("second");
    const changed = await cachedBundle(project);
    assert.equal(changed.built, true, "dep.ts changed: built again");
    assert.notEqual(changed.hash, first.hash);
    assert.equal(await output(changed.main), "second");

    project.setDep("first");
    const back = await cachedBundle(project);
    assert.equal(back.built, false, "back to the first text: the first bundle, still on disk");
    assert.equal(back.hash, first.hash);
    assert.deepEqual(leftoverBuilds(project.cacheDir), []);
  });

  it("leaves one whole bundle when several builders start at once", async () => {
    const project = fixtureProject("concurrent", "together");
    // Builders in this process, and in separate processes (as two routers starting at once), each
    // group on a cache folder of its own so that both groups race rather than find the other's bundle.
    const childCache = join(project.root, "cache-children");
    const builder = join(project.root, "builder.mts");
    writeFileSync(
      builder,
      `import { cachedBundle } from ${JSON.stringify(join(import.meta.dirname, "sandbox-bundle.ts"))};\n` +
        `const b = await cachedBundle(${JSON.stringify({ entry: project.entry, root: project.root, cacheDir: childCache })});\n` +
        "console.log(JSON.stringify(b));\n",
    );
    const children = [1, 2, 3].map(async () => {
      const { stdout } = await run(node, ["--import", "tsx", builder], { cwd: join(import.meta.dirname, "..", "..") });
      return JSON.parse(stdout) as CachedBundle;
    });
    const inProcess = [1, 2, 3].map(() => cachedBundle(project));
    for (const [cacheDir, group] of [
      [project.cacheDir, await Promise.all(inProcess)],
      [childCache, await Promise.all(children)],
    ] as const) {
      assert.equal(new Set(group.map((b) => b.dir)).size, 1, "every builder ends with the same bundle");
      assert.ok(group.filter((b) => b.built).length <= 1, "at most one build was renamed into place");
      assert.equal(await output(group[0]?.main ?? ""), "together");
      assert.deepEqual(
        readdirSync(cacheDir).filter((name) => name !== group[0]?.hash),
        [],
        "no half-written or abandoned build left",
      );
    }
  });

  it("falls back to the TypeScript source, warning once, when the bundle cannot be made", async () => {
    const cacheDir = join(scratch, "failing");
    const failing: BuildBundle = async (_entry, outdir) => {
      mkdirp(outdir);
      writeFileSync(join(outdir, "main.mjs"), "half a bundle");
      throw new Error("esbuild says no");
    };
    const warnings: string[] = [];
    const launch = createSandboxExecLauncher({ cacheDir, build: failing, warn: (m) => warnings.push(m) });
    const first = await launch();
    const second = await launch();
    assert.equal(first, second);
    assert.equal(first.bundle, null);
    assert.equal(first.args[0], SANDBOX_EXEC_SOURCE);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /esbuild says no/);
    assert.deepEqual(leftoverBuilds(cacheDir), [], "the failed build's folder is removed");

    // And the source runs: its answer to an empty request is the protocol's error, not a crash.
    const child = spawnSync(first.file, first.args, {
      env: { ...process.env, ...first.env },
      input: "",
      encoding: "utf8",
    });
    assert.match(child.stdout, /"type":"error".*stdin is not valid JSON/);
  });

  it("runs a tool call (the fixture vault CLI) through the bundle, with the catalog folder passed to it", async () => {
    const launch = await sandboxExecLaunch();
    assert.notEqual(launch.bundle, null, "the bundle of sandbox-exec could be made");
    assert.ok(existsSync(launch.args[0] ?? ""));
    assert.match(launch.args[1] ?? "", /^--catalog-dir=.*schemas\/tools\/?$/);
    const runner = createSandboxProcessRunner({
      env: { ...process.env, PATH: `${FIXTURE_BIN}:${process.env.PATH}`, WH_FIXTURE_ARGV_LOG: join(scratch, "argv") },
    });
    const lines: string[] = [];
    const result = await runner(
      { tool_call_id: "bundle-1", action_id: "vault.kv_metadata_get", input: { path: "shop/db" } },
      { onStarted: () => {}, onLine: (line) => lines.push(line.line) },
    );
    assert.equal(result.ok, true);
    assert.match(lines.join("\n"), /current_version/);
    await assert.rejects(
      runner(
        { tool_call_id: "bundle-2", action_id: "vault.kv_metadata_get", input: { path: "../x" } },
        { onStarted: () => {}, onLine: () => {} },
      ),
      /'\.\.' path segment/,
    );
  });
});
