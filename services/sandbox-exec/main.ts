/**
 * sandbox-exec: runs exactly one tool call in its own process.
 *
 *   echo '{"tool_call_id":"t1","action_id":"kubectl.get","input":{"kind":"pod","namespace":"shop"}}' \
 *     | node services/sandbox-exec/main.ts [--catalog-dir schemas/tools]
 *
 * Reads one JSON request on stdin and writes JSON lines to stdout (lib/tools/sandbox-protocol.ts).
 * `--catalog-dir` is the tool catalog's folder; the tool router always passes it, because the
 * router runs a bundle of this file (services/tool-router/sandbox-bundle.ts) from a cache folder,
 * where a path relative to the module would point nowhere. Without it: the repository's
 * `schemas/tools`, found from this source file.
 * SIGTERM/SIGINT cancel the call: the tool's whole process group is stopped.
 * The only file here that reads the environment.
 */
import { existsSync } from "node:fs";
import { text } from "node:stream/consumers";
import { parseArgs } from "node:util";
import { loadConfig } from "../../lib/config/index.ts";
import { ConfigError, toProblem } from "../../lib/errors/index.ts";
import { type Catalog, DEFAULT_CATALOG_DIR, loadCatalog } from "../../lib/tools/catalog.ts";
import type { SandboxExecMessage } from "../../lib/tools/index.ts";
import { runSandboxExec } from "./run.ts";

const controller = new AbortController();
process.once("SIGTERM", () => controller.abort());
process.once("SIGINT", () => controller.abort());

const write = (message: SandboxExecMessage) => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};

let tools: ReturnType<typeof loadConfig>["tools"];
let catalog: Catalog;
try {
  const catalogDirArg = parseCatalogDirArg();
  tools = loadConfig().tools;
  // Everything that does not depend on the request is done before it is read: the tool router may
  // start this process ahead of its call (services/tool-router/spawn.ts). One action runs here, and
  // the router's own catalog has compiled and checked the same files: compile only that action's schema.
  catalog = loadCatalog(catalogDir(catalogDirArg), { compile: "on_first_use" });
} catch (error) {
  write({ type: "error", error: toProblem(error) });
  process.exit(2);
}

const code = await runSandboxExec(await text(process.stdin), {
  tools,
  catalog,
  env: process.env,
  write,
  signal: controller.signal,
});
process.exitCode = code;

function parseCatalogDirArg(): string | undefined {
  try {
    return parseArgs({ options: { "catalog-dir": { type: "string" } } }).values["catalog-dir"];
  } catch (cause) {
    throw new ConfigError(`sandbox-exec: ${(cause as Error).message}`, [
      { field: "(argv)", message: (cause as Error).message, fix: "pass only --catalog-dir=<folder>" },
    ]);
  }
}

/** The catalog folder to load: the one passed, else the repository's; either must exist. */
function catalogDir(passed: string | undefined): string {
  const dir = passed ?? DEFAULT_CATALOG_DIR;
  if (!existsSync(dir)) {
    throw new ConfigError(`tool catalog folder ${dir} does not exist`, [
      {
        field: "--catalog-dir",
        message: passed === undefined ? "not passed, and the default folder is missing" : "no such folder",
        fix: "pass --catalog-dir=<the repository's schemas/tools folder>",
      },
    ]);
  }
  return dir;
}
