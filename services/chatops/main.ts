/** ChatOps as its own process: `node --import tsx services/chatops/main.ts`. */
import { runServices } from "../../lib/runtime/index.ts";
import { startChatOps } from "./start.ts";

await runServices("chatops", [["chatops", startChatOps]]);
