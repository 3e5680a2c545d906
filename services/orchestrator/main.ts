/** Orchestrator as its own process: `node --import tsx services/orchestrator/main.ts`. */
import { runServices } from "../../lib/runtime/index.ts";
import { startOrchestrator } from "./start.ts";

await runServices("orchestrator", [["orchestrator", startOrchestrator]]);
