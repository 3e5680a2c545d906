/**
 * The embedded profile: every Wheelhouse service in one process on one
 * runtime (one NATS connection, one database pool). `npm start` runs this
 * after `scripts/infra up`; each service also runs alone from its own
 * `services/<name>/main.ts` when it needs to scale on its own.
 */
import type { Config } from "../../lib/config/index.ts";
import { type RunningService, runServices, type ServiceStarter } from "../../lib/runtime/index.ts";
import { embeddedCapabilityKeys } from "../../lib/tools/index.ts";
import { startApprovals } from "../approvals/start.ts";
import { embeddedDelegationKeys, startChatOps } from "../chatops/start.ts";
import { startContext } from "../context/start.ts";
import { startGateway } from "../gateway/start.ts";
import { startOrchestrator } from "../orchestrator/start.ts";
import { startPlanner } from "../planner/start.ts";
import { startPolicy } from "../policy/start.ts";
import { startProjector } from "../projector/start.ts";
import { startToolRouter } from "../tool-router/start.ts";

// The orchestrator signs each tool call's capability and the router checks it: one key pair for both,
// the configured one or, when none is, a pair made now and never written anywhere.
let capabilityKeys: ReturnType<typeof embeddedCapabilityKeys> | null = null;
const keysFor = (config: Config) => {
  capabilityKeys ??= embeddedCapabilityKeys(config);
  return capabilityKeys;
};

// ChatOps acts for Slack users with on-behalf-of tokens the gateway checks: one pair for both (delegation.ts).
let delegationKeys: ReturnType<typeof embeddedDelegationKeys> | undefined;
const delegationFor = (config: Config) => {
  if (delegationKeys === undefined) delegationKeys = embeddedDelegationKeys(config);
  return delegationKeys;
};

const services: ReadonlyArray<readonly [string, ServiceStarter]> = [
  // Read models first, so that the API answers from them as soon as it listens.
  ["projector", startProjector],
  // The service graph next: policy and the planner read it.
  ["context", startContext],
  ["policy", startPolicy],
  ["planner", startPlanner],
  ["tool-router", (runtime) => startToolRouter(runtime, { verifyKey: keysFor(runtime.config).verifyKey })],
  ["orchestrator", (runtime) => startOrchestrator(runtime, { signingKey: keysFor(runtime.config).signingKey })],
  // Opens approvals (Linear issues) and takes the Linear webhooks the gateway hands over.
  ["approvals", startApprovals],
  // The front door opens last, once everything behind it runs.
  ["gateway", (runtime) => startGateway(runtime, { delegationVerifyKey: delegationFor(runtime.config)?.verifyKey })],
  // Slack's door calls the gateway for the person, so it opens after it.
  ["chatops", (runtime) => startChatOps(runtime, { delegationSigningKey: delegationFor(runtime.config)?.signingKey })],
];

await runServices("wheelhouse", services, { onStarted: printBanner });

function printBanner(running: ReadonlyArray<readonly [string, RunningService]>): void {
  const lines = ["", "Wheelhouse is running (embedded profile: every service in this process).", ""];
  for (const [name, service] of running) lines.push(`  ${name.padEnd(12)} ${service.url ?? "(consumes events)"}`);
  if (process.env.WH_INFRA_STATUS) lines.push("", ...process.env.WH_INFRA_STATUS.split("\n").map((l) => `  ${l}`));
  const gateway = running.find(([name]) => name === "gateway")?.[1].url;
  if (gateway) {
    lines.push(
      "",
      "Try it (another terminal, in this folder):",
      `  export WHEELHOUSE_URL=${gateway}`,
      "  export WHEELHOUSE_TOKEN=$(npm run -s token -- --sub alice --roles operator,approver)",
      '  npm run -s wheelhouse -- plan "scale checkout to 6 in staging"',
      "  npm run -s wheelhouse -- status <plan id>          # steps, policy decision, approvals, executions",
      "  WHEELHOUSE_TOKEN=$(npm run -s token -- --sub bob --roles approver) npm run -s wheelhouse -- approve <plan id>",
      "  npm run -s wheelhouse -- execute <plan id>",
      "  npm run -s wheelhouse -- explain <plan id>         # argv, output, verification, the context snapshot",
      "  npm run -s wheelhouse -- audit --plan <plan id>    # the hash-chained record",
      `  curl -s ${gateway}/v1/openapi.json                  # the whole API`,
    );
  }
  lines.push("", "Ctrl-C stops it.", "");
  process.stdout.write(`${lines.join("\n")}\n`);
}
