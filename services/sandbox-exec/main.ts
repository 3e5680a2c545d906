/**
 * sandbox-exec: runs tool calls, each CLI in its own process group, clean environment and private
 * work dir; either exactly one call in its own process, or, with `--serve`, as a host of many.
 *
 *   echo '{"tool_call_id":"t1","action_id":"kubectl.get","input":{"kind":"pod","namespace":"shop"}}' \
 *     | node services/sandbox-exec/main.ts [--catalog-dir schemas/tools]
 *   node services/sandbox-exec/main.ts --serve [--work-root <folder>] [--catalog-dir schemas/tools]
 *
 * One call: reads one JSON request on stdin and writes JSON lines to stdout. `--serve`: reads a
 * call or a cancel per line and writes every call's lines with its call id, calls running at once
 * (serve.ts); stdin closed: it finishes the calls in flight and exits. Both protocols are in
 * lib/tools/sandbox-protocol.ts.
 * `--catalog-dir` is the tool catalog's folder; the tool router always passes it, because the
 * router runs a bundle of this file (services/tool-router/sandbox-bundle.ts) from a cache folder,
 * where a path relative to the module would point nowhere. Without it: the repository's
 * `schemas/tools`, found from this source file.
 * `--work-root` is the folder the work dirs are made in (the OS temp folder without it); a host
 * records each CLI it spawns there (serve.ts). The tool router makes one such folder per host.
 * `--test-withhold-started` keeps a host's `started` lines back (sandbox-host.int.test.ts); it is
 * refused unless NODE_TEST_CONTEXT is set, which `node --test` sets for the test files it runs.
 * SIGTERM/SIGINT cancel the call (every call, for a host): the tool's whole process group is stopped.
 * The only file here that reads the environment.
 */
import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import { createInterface } from "node:readline";
import { text } from "node:stream/consumers";
import { parseArgs } from "node:util";
import { loadConfig } from "../../lib/config/index.ts";
import { ConfigError, toProblem } from "../../lib/errors/index.ts";
import { type Catalog, DEFAULT_CATALOG_DIR, loadCatalog } from "../../lib/tools/catalog.ts";
import type { SandboxExecMessage } from "../../lib/tools/index.ts";
import { runSandboxExec } from "./run.ts";
import { serveSandboxCalls } from "./serve.ts";

const controller = new AbortController();
// `on`, not `once`: while a listener of ours is there, execa's exit hook (signal-exit) does not
// re-raise the signal, which would end this process before the canceled calls write their results.
process.on("SIGTERM", () => controller.abort());
process.on("SIGINT", () => controller.abort());

const write = (message: SandboxExecMessage) => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};

let tools: ReturnType<typeof loadConfig>["tools"];
let catalog: Catalog;
let serve: boolean;
let args: ReturnType<typeof parseArgv>;
try {
  args = parseArgv();
  serve = args.serve;
  tools = loadConfig().tools;
  // Everything that does not depend on the request is done before it is read: the tool router may
  // start this process ahead of its call (services/tool-router/spawn.ts). One action runs here, and
  // the router's own catalog has compiled and checked the same files: compile only that action's schema.
  // A host's calls each compile their action's schema once, then it is kept for the next call.
  catalog = loadCatalog(catalogDir(args.catalogDir), { compile: "on_first_use" });
} catch (error) {
  write({ type: "error", error: toProblem(error), ...(process.argv.includes("--serve") ? { call: null } : {}) });
  process.exit(2);
}

if (serve) {
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  // SIGTERM: no further lines are read; the calls in flight are canceled and awaited, then the process ends.
  controller.signal.addEventListener("abort", () => {
    lines.close();
    process.stdin.destroy();
  });
  await serveSandboxCalls(lines, {
    tools,
    catalog,
    env: process.env,
    write: (message) => process.stdout.write(`${JSON.stringify(message)}\n`),
    signal: controller.signal,
    workRoot: args.workRoot,
    warn: (line) => process.stderr.write(`${line}\n`),
    withholdStarted: args.withholdStarted,
  });
} else {
  process.exitCode = await runSandboxExec(await text(process.stdin), {
    tools,
    catalog,
    env: process.env,
    write,
    signal: controller.signal,
    tmpRoot: args.workRoot,
  });
}

function parseArgv(): {
  readonly catalogDir: string | undefined;
  readonly serve: boolean;
  readonly workRoot: string | undefined;
  readonly withholdStarted: boolean;
} {
  let values: { "catalog-dir"?: string; serve?: boolean; "work-root"?: string; "test-withhold-started"?: boolean };
  try {
    values = parseArgs({
      options: {
        "catalog-dir": { type: "string" },
        serve: { type: "boolean" },
        "work-root": { type: "string" },
        "test-withhold-started": { type: "boolean" },
      },
    }).values;
  } catch (cause) {
    throw new ConfigError(`sandbox-exec: ${(cause as Error).message}`, [
      {
        field: "(argv)",
        message: (cause as Error).message,
        fix: "pass only --catalog-dir=<folder>, --serve and --work-root=<folder>",
      },
    ]);
  }
  const workRoot = values["work-root"];
  if (workRoot !== undefined && (!isAbsolute(workRoot) || !existsSync(workRoot))) {
    throw new ConfigError(`work root ${workRoot} is not an existing absolute folder`, [
      {
        field: "--work-root",
        message: isAbsolute(workRoot) ? "no such folder" : "not an absolute path",
        fix: "pass the absolute path of a folder that exists (the tool router makes one per host)",
      },
    ]);
  }
  const withholdStarted = values["test-withhold-started"] === true;
  if (withholdStarted && process.env.NODE_TEST_CONTEXT === undefined) {
    throw new ConfigError("--test-withhold-started is a test hook and is refused outside node's test runner", [
      {
        field: "--test-withhold-started",
        message: "NODE_TEST_CONTEXT is not set: this process was not started from a node --test run",
        fix: "remove --test-withhold-started; without it the host writes every CLI's started line",
      },
    ]);
  }
  return { catalogDir: values["catalog-dir"], serve: values.serve === true, workRoot, withholdStarted };
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
