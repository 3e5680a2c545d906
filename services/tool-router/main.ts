/**
 * Tool router as its own process: `node --import tsx services/tool-router/main.ts`.
 * Serves the typed RPC until SIGINT/SIGTERM; each ExecuteTool runs in its own
 * sandbox-exec process. Alone, it needs `tools.capability_verify_key` (the
 * public half of the orchestrator's `orchestrator.capability_signing_key`).
 */
import { runServices } from "../../lib/runtime/index.ts";
import { startToolRouter } from "./start.ts";

await runServices("tool-router", [["tool-router", startToolRouter]]);
