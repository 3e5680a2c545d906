/** The fixture CLIs in test/fixtures/bin (argocd, vault, boundary) and the argv records CLIs leave. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The folder of fixture CLIs to put on a sandbox's PATH: argocd, vault and boundary only (kubectl
 * and helm are the real ones, against the local cluster; see cluster.ts). Each records its argv in
 * `$WH_FIXTURE_ARGV_LOG`.
 */
export const FIXTURE_BIN = join(import.meta.dirname, "..", "fixtures", "bin");

/**
 * The argv records appended to `file` by the fixture CLIs (their `WH_FIXTURE_ARGV_LOG`) or by
 * `recordingBin`'s wrappers around the real kubectl and helm: one array per invocation, the CLI's
 * name first; none when the file does not exist yet.
 */
export function recordedArgv(file: string): string[][] {
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
