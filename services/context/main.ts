/** Context service as its own process: `node --import tsx services/context/main.ts`. */
import { runServices } from "../../lib/runtime/index.ts";
import { startContext } from "./start.ts";

await runServices("context", [["context", (runtime) => startContext(runtime, { listen: true })]]);
