/**
 * The Temporal worker that hosts the execution workflows (the five types and
 * the generic `executePlan`) and their activities. The
 * workflow code is bundled once per process (webpack takes seconds) and every
 * worker created afterwards reuses that bundle.
 */
import { fileURLToPath } from "node:url";
import {
  type LogLevel,
  type LogMetadata,
  type NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from "@temporalio/worker";
import type { Logger } from "../../lib/log/index.ts";
import { type RunningWorker, runWorker, workflowBundleOf } from "../../lib/temporal/worker.ts";
import type { createActivities } from "./activities.ts";

/** The workflows entry file; `workflowsPath` may point at TypeScript, the bundler compiles it. */
export const WORKFLOWS_PATH = fileURLToPath(new URL("./workflows/index.ts", import.meta.url));

/** The workflow bundle, built on first use and shared by every worker in this process. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  return workflowBundleOf(WORKFLOWS_PATH);
}

/**
 * Sends the Temporal SDK's own logs (worker state, activity failures) through our logger, its
 * chatty `INFO` as debug. Takes effect only before the process's first Temporal connection; later
 * calls are ignored (the SDK's runtime is installed once per process).
 */
export function routeTemporalLogs(logger: Logger): void {
  const levels: Record<LogLevel, "trace" | "debug" | "warn" | "error"> = {
    TRACE: "trace",
    DEBUG: "debug",
    INFO: "debug",
    WARN: "warn",
    ERROR: "error",
  };
  const log = (level: LogLevel, message: string, meta?: LogMetadata) =>
    logger[levels[level]]({ temporal: meta }, message);
  try {
    Runtime.install({
      logger: {
        log,
        trace: (m, meta) => log("TRACE", m, meta),
        debug: (m, meta) => log("DEBUG", m, meta),
        info: (m, meta) => log("INFO", m, meta),
        warn: (m, meta) => log("WARN", m, meta),
        error: (m, meta) => log("ERROR", m, meta),
      },
    });
  } catch {
    // Already installed (a second service in this process, or a test): keep the first one.
  }
}

export interface ExecutionWorkerDeps {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly activities: ReturnType<typeof createActivities>;
  readonly logger?: Logger | undefined;
  /** Identity shown in Temporal's UI and history; default Temporal's `pid@host`. */
  readonly identity?: string | undefined;
  /** How long in-flight activities may finish after `stop()` before they are cancelled; default 5 s. */
  readonly shutdownGraceMs?: number | undefined;
}

/** The running worker: `stop()` shuts it down gracefully; `done` settles when it has stopped. */
export type ExecutionWorker = RunningWorker;

export async function startExecutionWorker(deps: ExecutionWorkerDeps): Promise<ExecutionWorker> {
  const worker = await Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: deps.activities,
    shutdownGraceTime: deps.shutdownGraceMs ?? 5000,
    ...(deps.identity ? { identity: deps.identity } : {}),
  });
  return runWorker(worker, deps.taskQueue, deps.logger);
}
