/**
 * Tool router entry: reads configuration, serves the typed RPC until
 * SIGINT/SIGTERM. Each ExecuteTool runs in its own sandbox-exec process.
 * The only file here that reads the environment.
 */
import { loadConfig, resolveSecret } from "../../lib/config/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { findExecutable, loadCatalog } from "../../lib/tools/index.ts";
import { createGithubApi } from "./github.ts";
import { createToolRouterTransport } from "./http.ts";
import { createToolRouter } from "./router.ts";
import { createSandboxProcessRunner } from "./spawn.ts";

const config = loadConfig();
const logger = createLogger({ service: "tool-router", level: config.log.level, format: config.log.format });
const toolPath = process.env.PATH ?? "";
const github = config.connectors.github;
const githubToken = resolveSecret(github.token);
const evidence = config.storage.evidence;

const router = createToolRouter({
  catalog: loadCatalog(),
  runInSandbox: createSandboxProcessRunner({
    env: process.env,
    defaultTimeoutMs: config.tools.default_timeout_ms,
    ...(evidence.kind === "s3" || resolveSecret(evidence.access_key) !== null
      ? {
          objectStore: {
            endpoint: evidence.endpoint,
            region: evidence.region,
            access_key: evidence.access_key,
            secret_key: evidence.secret_key,
          },
        }
      : {}),
  }),
  isInstalled: async (binary) => (await findExecutable(binary, toolPath)) !== null,
  github: githubToken ? createGithubApi({ apiBase: github.api_base, token: githubToken }) : null,
  onEvent: (event) => {
    if (event.type !== "tool_call.output") logger.info({ event: event.type, ...event.payload }, event.type);
  },
});

// Shared bearer token for callers (the orchestrator); unset on a loopback-only embedded setup.
const token = process.env.TOOL_ROUTER_TOKEN || null;
const transport = createToolRouterTransport({ router, logger, authToken: token });
const url = await transport.start({ host: config.tools.router_host, port: config.tools.router_port });
logger.info({ url }, "tool router listening");

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "tool router stopping");
  await transport.stop();
  process.exit(0);
}
process.once("SIGINT", () => void shutdown("SIGINT"));
process.once("SIGTERM", () => void shutdown("SIGTERM"));
