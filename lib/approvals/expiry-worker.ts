/** The Temporal worker that runs approval expiry timers (its workflow bundle is built once per process). */
import { fileURLToPath } from "node:url";
import { type NativeConnection, Worker } from "@temporalio/worker";
import type { Logger } from "../log/index.ts";
import { type RunningWorker, runWorker, workflowBundleOf } from "../temporal/worker.ts";
import type { ApprovalExpiryActivities } from "./expiry-contract.ts";

const WORKFLOWS_PATH = fileURLToPath(new URL("./workflows/index.ts", import.meta.url));

export interface ExpiryWorkerDeps {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly activities: ApprovalExpiryActivities;
  readonly logger: Logger;
}

/** Runs the expiry workflows of `taskQueue` until `stop()`. */
export async function startExpiryWorker(deps: ExpiryWorkerDeps): Promise<RunningWorker> {
  const worker = await Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    workflowBundle: await workflowBundleOf(WORKFLOWS_PATH),
    activities: deps.activities,
    shutdownGraceTime: 5000,
  });
  return runWorker(worker, deps.taskQueue, deps.logger);
}
