/** Process entry for the policy service: `node --import tsx services/policy/main.ts`. */
import { readFileSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import { loadConfig } from "../../lib/config/index.ts";
import { createEventStore, streamSettingsFromConfig } from "../../lib/eventstore/index.ts";
import { createLogger } from "../../lib/log/index.ts";
import { createPolicyService } from "../../lib/policy/index.ts";
import { loadCatalog } from "../../lib/tools/index.ts";
import { createPolicyDecider } from "./service.ts";

const config = loadConfig();
const logger = createLogger({ service: "policy", level: config.log.level, format: config.log.format });
const nc = await connect({ servers: config.nats.url, name: "wheelhouse-policy" });
const store = createEventStore({
  nc,
  prefix: config.nats.prefix,
  logger,
  streams: streamSettingsFromConfig(config.nats),
});
await store.provision();
const data =
  config.policy.data_path === undefined
    ? undefined
    : (JSON.parse(readFileSync(config.policy.data_path, "utf8")) as Record<string, unknown>);
const policy = await createPolicyService({
  bundlePath: config.policy.bundle_path,
  data,
  stage: config.policy.stage,
  timeoutMs: config.policy.eval_timeout_ms,
  watch: config.policy.watch,
  logger,
});
const decider = createPolicyDecider({ store, policy, catalog: loadCatalog(), logger, stage: config.policy.stage });
await decider.start();
logger.info({ revision: policy.revision }, "policy service consuming plan.proposed");

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void (async () => {
      await decider.stop();
      await policy.close();
      await nc.drain();
      process.exit(0);
    })();
  });
}
