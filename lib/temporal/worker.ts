/**
 * Temporal workers as every Wheelhouse process runs them: workflow code
 * bundled once per process per entry file (webpack takes seconds), and a
 * worker that runs until `stop()`, logging a failure instead of losing it.
 */
import { bundleWorkflowCode, type Worker, type WorkflowBundleWithSourceMap } from "@temporalio/worker";
import type { Logger } from "../log/index.ts";

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/** The bundle of `workflowsPath`, built on first use and shared by every worker in this process. */
export function workflowBundleOf(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(workflowsPath);
  if (!bundle) {
    bundle = bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger }).catch((error: unknown) => {
      bundles.delete(workflowsPath);
      throw error;
    });
    bundles.set(workflowsPath, bundle);
  }
  return bundle;
}

export interface RunningWorker {
  readonly worker: Worker;
  /** Settles when the worker has stopped; rejects if it failed. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/** Runs `worker` until `stop()` (a graceful shutdown); a failure is logged with its task queue. */
export function runWorker(worker: Worker, taskQueue: string, logger?: Logger | undefined): RunningWorker {
  const done = worker.run();
  done.catch((error: unknown) => logger?.error({ err: error, task_queue: taskQueue }, "worker stopped with an error"));
  return {
    worker,
    done,
    async stop() {
      if (worker.getState() === "RUNNING") worker.shutdown();
      await done.catch(() => {});
    },
  };
}

const warn = (message: string, meta?: Record<string, unknown>) =>
  process.emitWarning(`workflow bundler: ${message} ${meta ? JSON.stringify(meta) : ""}`);
const quietBundlerLogger = { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn, error: warn };
