/** The fixture CLIs in test/fixtures/bin and what they record. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The folder of fixture CLIs (helm, kubectl, …) to put first on a sandbox's PATH. */
export const FIXTURE_BIN = join(import.meta.dirname, "..", "fixtures", "bin");

/**
 * The argv records the fixture CLIs appended to `file` (their `WH_FIXTURE_ARGV_LOG`): one array per
 * invocation, the CLI's name first; none when the file does not exist yet.
 */
export function fixtureArgv(file: string): string[][] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\0\n")
    .filter((r) => r.length > 0)
    .map((r) => r.split("\0"));
}
