/** Policy service as its own process: `node --import tsx services/policy/main.ts`. */
import { runServices } from "../../lib/runtime/index.ts";
import { startPolicy } from "./start.ts";

await runServices("policy", [["policy", startPolicy]]);
