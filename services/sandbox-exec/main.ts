/**
 * sandbox-exec: runs exactly one tool call in its own process.
 *
 *   echo '{"tool_call_id":"t1","action_id":"kubectl.get","input":{"kind":"pod","namespace":"shop"}}' \
 *     | node --import tsx services/sandbox-exec/main.ts
 *
 * Reads one JSON request on stdin and writes JSON lines to stdout (lib/tools/sandbox-protocol.ts).
 * SIGTERM/SIGINT cancel the call: the tool's whole process group is stopped.
 * The only file here that reads the environment.
 */
import { text } from "node:stream/consumers";
import { loadConfig } from "../../lib/config/index.ts";
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

const code = await runSandboxExec(await text(process.stdin), {
  tools,
  env: process.env,
  write,
  signal: controller.signal,
});
process.exitCode = code;
