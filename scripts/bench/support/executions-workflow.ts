/**
 * The raw baseline of the executions benchmark: a Temporal workflow with one activity that runs a
 * command, nothing else (no events, no plan, no capability, no sandbox process). Workflow code:
 * bundled for Temporal's deterministic sandbox, so only `@temporalio/workflow` is imported.
 */
import { proxyActivities } from "@temporalio/workflow";

/** The activity, implemented in executions.ts: spawns `argv` and resolves with its exit code. */
export interface RawActivities {
  runCommand(argv: readonly string[]): Promise<number>;
}

const { runCommand } = proxyActivities<RawActivities>({
  startToCloseTimeout: "2m",
  // A spawn that fails (EAGAIN on a loaded machine) is tried again, as the product's tool reads are.
  retry: { maximumAttempts: 3, initialInterval: "200ms" },
});

export async function rawCommandWorkflow(argv: readonly string[]): Promise<number> {
  return runCommand(argv);
}
