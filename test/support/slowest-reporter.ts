/**
 * A `node --test` reporter that prints, once the run ends, the test files that took longest (the sum
 * of their top-level tests' durations) and the total: what to look at first when the suite nears its
 * 15-minute budget. scripts/test adds it beside the spec reporter, writing to `.data/test-durations.txt`.
 */
import type { TestEvent } from "node:test/reporters";

const SHOWN = 15;

export default async function* slowest(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const perFile = new Map<string, number>();
  for await (const event of source) {
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    const { nesting, file, details } = event.data;
    if (nesting !== 0 || !file) continue;
    perFile.set(file, (perFile.get(file) ?? 0) + details.duration_ms);
  }
  const rows = [...perFile].sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((sum, [, ms]) => sum + ms, 0);
  const root = `${process.cwd()}/`;
  yield `test files by time (top-level tests summed; files run ${process.env.WH_TEST_CONCURRENCY ?? 2} at a time):\n`;
  for (const [file, ms] of rows.slice(0, SHOWN)) {
    yield `${(ms / 1000).toFixed(1).padStart(8)} s  ${file.replace(root, "")}\n`;
  }
  yield `${(total / 1000).toFixed(1).padStart(8)} s  all ${rows.length} files\n`;
}
