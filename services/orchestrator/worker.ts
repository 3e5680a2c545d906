/**
 * The Temporal worker that hosts `executePlan` and its activities. The
 * workflow code is bundled once per process (webpack takes seconds) and every
 * worker created afterwards reuses that bundle.
 */
import { fileURLToPath } from "node:url";
import {
  bundleWorkflowCode,
  type LogLevel,
  type LogMetadata,
  type NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from "@temporalio/worker";
import type { Logger } from "../../lib/log/index.ts";
import type { Activities } from "./activities.ts";

/** The workflows entry file; `workflowsPath` may point at TypeScript, the bundler compiles it. */
export const WORKFLOWS_PATH = fileURLToPath(new URL("./workflows/index.ts", import.meta.url));

let bundle: Promise<WorkflowBundleWithSourceMap> | null = null;

/** The workflow bundle, built on first use and shared by every worker in this process. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger }).catch(
    (error: unknown) => {
      bundle = null;
      throw error;
    },
  );
  return bundle;
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
  readonly activities: Activities;
  readonly logger?: Logger | undefined;
  /** Identity shown in Temporal's UI and history; default Temporal's `pid@host`. */
  readonly identity?: string | undefined;
  /** How long in-flight activities may finish after `stop()` before they are cancelled; default 5 s. */
  readonly shutdownGraceMs?: number | undefined;
}

export interface ExecutionWorker {
  readonly worker: Worker;
  /** Settles when the worker has stopped; rejects if it failed. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

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
  const done = worker.run();
  done.catch((error: unknown) =>
    deps.logger?.error({ err: error, task_queue: deps.taskQueue }, "worker stopped with an error"),
  );
  return {
    worker,
    done,
    async stop() {
      if (worker.getState() === "RUNNING") worker.shutdown();
      await done.catch(() => {});
    },
  };
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string, meta?: Record<string, unknown>) =>
    process.emitWarning(`workflow bundler: ${message} ${meta ? JSON.stringify(meta) : ""}`),
  error: (message: string, meta?: Record<string, unknown>) =>
    process.emitWarning(`workflow bundler: ${message} ${meta ? JSON.stringify(meta) : ""}`),
};
