/**
 * What an execution tells the tools people watch, through the integration
 * activities: a Grafana annotation at the start and end of every execution
 * that writes, a PagerDuty incident when a rollback had problems or
 * verification ended inconclusive, a Linear follow-up issue when an incident
 * remediation ends. None of it may fail the execution: a failed notification
 * is logged and handed back as a problem the engine adds to the final reason.
 *
 * Nothing is sent for a dry run (nothing changed), for the generic
 * `executePlan`, or when the worker does not register the integration
 * activities (`input.integrations` unset). Workflow code: no Node built-ins.
 */
import { log } from "@temporalio/workflow";
import type { PlannedStep } from "../../../lib/orchestration/activities.ts";
import type { ExecutionOutcome } from "../../../lib/orchestration/workflow.ts";
import { type ExecutionRun, reasonOf } from "./run.ts";

/** How an execution ended, as far as the notifications need it. */
export interface Ending {
  readonly status: ExecutionOutcome["status"];
  readonly reason: string | null;
  /** What the rollback could not undo; empty when nothing was rolled back or all of it was. */
  readonly rollbackProblems: readonly string[];
  /** Verification ended without a verdict (its measurements stayed inconclusive). */
  readonly inconclusive: boolean;
}

export interface Notifier {
  /** The start annotation; a failure is kept for `end`'s problems. */
  start(): Promise<void>;
  /** The end annotation, the incident and the follow-up as the ending calls for; every failure, in words. */
  end(ending: Ending): Promise<string[]>;
}

export function notifier(run: ExecutionRun, steps: readonly PlannedStep[]): Notifier {
  const type = run.workflowType;
  const enabled = run.input.integrations === true && type !== null && !run.input.dry_run;
  const annotated = enabled && steps.some((s) => s.kind === "write");
  const problems: string[] = [];
  const base = {
    execution_id: run.exec,
    plan_id: run.input.plan_id,
    correlation_id: run.meta.correlation_id,
    causation_id: run.meta.causation_id,
  };
  const tags = ["wheelhouse", `workflow:${type}`, `execution:${run.exec}`, `plan:${run.input.plan_id}`];

  /** Runs one notification; its failure becomes a problem, never an exception. */
  const attempt = async (what: string, call: () => Promise<unknown>): Promise<void> => {
    try {
      await call();
    } catch (error) {
      const problem = `${what} not sent: ${reasonOf(error)}`;
      log.warn("notification failed; the execution goes on", { execution_id: run.exec, problem });
      problems.push(problem);
    }
  };

  return {
    async start() {
      if (!annotated) return;
      await attempt("Grafana start annotation", () =>
        run.activities.CreateGrafanaAnnotationActivity({
          ...base,
          phase: "start",
          text: `${type} started: execution ${run.exec} of plan ${run.input.plan_id} revision ${run.input.revision}`,
          tags,
        }),
      );
    },
    async end(ending) {
      if (!enabled) return problems;
      const outcome = `${ending.status}${ending.reason ? `: ${ending.reason}` : ""}`;
      if (annotated) {
        await attempt("Grafana end annotation", () =>
          run.activities.CreateGrafanaAnnotationActivity({
            ...base,
            phase: "end",
            text: `${type} ${outcome}`,
            tags: [...tags, `status:${ending.status}`],
          }),
        );
      }
      if (ending.rollbackProblems.length > 0 || ending.inconclusive) {
        const why =
          ending.rollbackProblems.length > 0
            ? `rollback incomplete: ${ending.rollbackProblems.join("; ")}`
            : `verification inconclusive: ${ending.reason ?? ""}`;
        await attempt("PagerDuty incident", () =>
          run.activities.CreatePagerDutyIncidentActivity({
            ...base,
            summary: `Wheelhouse execution ${run.exec} (${type}) ${why}`.slice(0, 1024),
            severity: ending.rollbackProblems.length > 0 ? "critical" : "error",
          }),
        );
      }
      if (type === "IncidentRemediationWorkflow") {
        await attempt("Linear follow-up issue", () =>
          run.activities.CreateLinearIssueActivity({
            ...base,
            title: `Follow up: incident remediation ${run.exec} ${ending.status}`,
            description: [
              `Execution ${run.exec} of plan ${run.input.plan_id} revision ${run.input.revision} ${outcome}.`,
              "",
              "Steps:",
              ...steps.map((s) => `- ${s.step_id}: ${s.action_id}`),
            ].join("\n"),
          }),
        );
      }
      return problems;
    },
  };
}
