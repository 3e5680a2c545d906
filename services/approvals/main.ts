/** The approvals service as its own process: `node --import tsx services/approvals/main.ts`. */
import { runServices } from "../../lib/runtime/index.ts";
import { startApprovals } from "./start.ts";

await runServices("approvals", [["approvals", startApprovals]]);
