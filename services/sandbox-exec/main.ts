/**
 * sandbox-exec: runs exactly one tool call in its own process.
 *
 *   echo '{"tool_call_id":"t1","action_id":"kubectl.get","input":{"kind":"pod","namespace":"shop"}}' \
 *     | node services/sandbox-exec/main.ts
 *
 * Reads one JSON request on stdin and writes JSON lines to stdout (lib/tools/sandbox-protocol.ts).
 * SIGTERM/SIGINT cancel the call: the tool's whole process group is stopped.
 * The only file here that reads the environment.
 */
import { text } from "node:stream/consumers";
import { loadConfig } from "../../lib/config/index.ts";
import { loadCatalog } from "../../lib/tools/catalog.ts";
import type { SandboxExecMessage } from "../../lib/tools/index.ts";
import { runSandboxExec } from "./run.ts";

const controller = new AbortController();
process.once("SIGTERM", () => controller.abort());
process.once("SIGINT", () => controller.abort());

const write = (message: SandboxExecMessage) => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};

let tools: ReturnType<typeof loadConfig>["tools"];
try {
  tools = loadConfig().tools;
} catch (error) {
  const { toProblem } = await import("../../lib/errors/index.ts");
  write({ type: "error", error: toProblem(error) });
  process.exit(2);
}

// Everything that does not depend on the request is done before it is read: the tool router may
// start this process ahead of its call (services/tool-router/spawn.ts). One action runs here, and
// the router's own catalog has compiled and checked the same files: compile only that action's schema.
const catalog = loadCatalog(undefined, { compile: "on_first_use" });
const code = await runSandboxExec(await text(process.stdin), {
  tools,
  catalog,
  env: process.env,
  write,
  signal: controller.signal,
});
process.exitCode = code;
