/** Gateway as its own process: `node --import tsx services/gateway/main.ts`; serves the API until SIGINT/SIGTERM. */
import { runServices } from "../../lib/runtime/index.ts";
import { startGateway } from "./start.ts";

await runServices("gateway", [["gateway", startGateway]]);
