/**
 * Planner as its own process: `node --import tsx services/planner/main.ts`.
 * Consumes `plan.requested` / `signal.received` until SIGINT/SIGTERM; with no
 * LLM configured it plans with the template planner alone.
 */
import { runServices } from "../../lib/runtime/index.ts";
import { startPlanner } from "./start.ts";

await runServices("planner", [["planner", startPlanner]]);
