/**
 * Tool router as its own process: `node --import tsx services/tool-router/main.ts`.
 * Serves the typed RPC until SIGINT/SIGTERM; each ExecuteTool runs in its own
 * sandbox-exec process.
 */
import { runServices } from "../../lib/runtime/index.ts";
import { startToolRouter } from "./start.ts";

await runServices("tool-router", [["tool-router", startToolRouter]]);
