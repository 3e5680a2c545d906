/**
 * The workflow bundle's disk cache: a second process with the same sources loads the cached bundle; a
 * changed source (here, an imported file) is bundled again, never served stale.
 */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { cachedBundle } from "./worker.ts";

// Inside the working directory: webpack names modules from it, and only those are cached.
const dir = join(process.cwd(), ".data", `bundle-cache-test-${process.pid}`);
const cacheDir = join(process.cwd(), "node_modules", ".cache", "wheelhouse", "workflow-bundles");
after(() => {
  rmSync(dir, { recursive: true, force: true });
  // This test's own cache entries (keyed by its entry path, which no later run reuses).
  for (const f of readdirSync(cacheDir)) {
    if (readFileSync(join(cacheDir, f), "utf8").includes(dir)) rmSync(join(cacheDir, f), { force: true });
  }
});

test("a cached bundle is used while its sources are unchanged and rebuilt when one changes", async () => {
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, "index.ts");
  writeFileSync(
    entry,
    'import { answer } from "./answer.ts";\nexport async function probe(): Promise<string> { return answer; }\n',
  );
  writeFileSync(join(dir, "answer.ts"), 'export const answer = "first-answer";\n');
  const first = await cachedBundle(entry);
  assert.match(first.code, /first-answer/);

  // What the next process checks: every source of ours in the bundle, with its hash.
  const cached = readdirSync(cacheDir)
    .map(
      (f) => JSON.parse(readFileSync(join(cacheDir, f), "utf8")) as { code: string; sources: Record<string, string> },
    )
    .find((c) => c.code === first.code);
  assert.ok(cached, "the bundle is on disk");
  assert.deepEqual(Object.keys(cached.sources).sort(), [join(dir, "answer.ts"), entry].sort());
  assert.equal((await cachedBundle(entry)).code, first.code, "the same sources give the cached bundle");

  writeFileSync(join(dir, "answer.ts"), 'export const answer = "second-answer";\n');
  const changed = await cachedBundle(entry);
  assert.match(changed.code, /second-answer/, "a changed import is bundled again");
  assert.doesNotMatch(changed.code, /first-answer/);
});
