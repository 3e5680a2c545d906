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
  retry: { maximumAttempts: 1 },
});

export async function rawCommandWorkflow(argv: readonly string[]): Promise<number> {
  return runCommand(argv);
}
