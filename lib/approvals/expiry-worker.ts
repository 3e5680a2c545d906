/**
 * The Temporal worker that runs approval expiry timers. Its workflow code is
 * bundled once per process and shared by every worker started afterwards.
 */
import { fileURLToPath } from "node:url";
import {
  bundleWorkflowCode,
  type NativeConnection,
  Worker,
  type WorkflowBundleWithSourceMap,
} from "@temporalio/worker";
import type { Logger } from "../log/index.ts";
import type { ApprovalExpiryActivities } from "./expiry-contract.ts";

const WORKFLOWS_PATH = fileURLToPath(new URL("./workflows/index.ts", import.meta.url));

let bundle: Promise<WorkflowBundleWithSourceMap> | null = null;

function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet }).catch((error: unknown) => {
    bundle = null;
    throw error;
  });
  return bundle;
}

export interface ExpiryWorkerDeps {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly activities: ApprovalExpiryActivities;
  readonly logger: Logger;
}

/** Runs the expiry workflows of `taskQueue` until `stop()`. */
export async function startExpiryWorker(deps: ExpiryWorkerDeps): Promise<{ stop(): Promise<void> }> {
  const worker = await Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: deps.activities,
    shutdownGraceTime: 5000,
  });
  const done = worker.run();
  done.catch((error: unknown) =>
    deps.logger.error({ err: error, task_queue: deps.taskQueue }, "approval timer worker stopped with an error"),
  );
  return {
    async stop() {
      if (worker.getState() === "RUNNING") worker.shutdown();
      await done.catch(() => {});
    },
  };
}

const warn = (message: string, meta?: Record<string, unknown>) =>
  process.emitWarning(`workflow bundler: ${message} ${meta ? JSON.stringify(meta) : ""}`);
const quiet = { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn, error: warn };
