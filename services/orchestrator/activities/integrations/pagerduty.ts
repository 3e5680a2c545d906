/**
 * `CreatePagerDutyIncidentActivity`: a PagerDuty trigger when a rollback
 * fails or verification stays inconclusive. Its dedup key is derived from the
 * execution (`wheelhouse/<execution id>`), so PagerDuty itself folds a second
 * trigger into the open alert; a recorded notice spares even that call.
 */
import type { PagerDutyIncidentInput } from "../../../../lib/orchestration/workflow.ts";
import { calling, outgoing, type ResolvedDeps } from "./deps.ts";
import { readNotices } from "./notices.ts";

export const incidentDedupKey = (executionId: string): string => `wheelhouse/${executionId}`;

export async function createPagerDutyIncident(
  deps: ResolvedDeps,
  input: PagerDutyIncidentInput,
): Promise<{ dedup_key: string | null }> {
  const pagerduty = deps.clients.pagerduty;
  if (!pagerduty) return { dedup_key: null };
  const notices = await readNotices(deps, input);
  const recorded = notices.find("pagerduty", "incident");
  if (recorded) return { dedup_key: recorded.payload.ref };

  const planLink = deps.planUrl?.(input.plan_id);
  const { dedupKey } = await calling(() =>
    pagerduty.trigger({
      dedupKey: incidentDedupKey(input.execution_id),
      summary: outgoing(input.summary),
      source: "wheelhouse",
      severity: input.severity,
      client: "Wheelhouse",
      customDetails: {
        execution_id: input.execution_id,
        plan_id: input.plan_id,
        correlation_id: input.correlation_id,
      },
      links: planLink ? [{ href: planLink, text: "The plan in Wheelhouse" }] : undefined,
    }),
  );
  await notices.record({
    channel: "pagerduty",
    phase: "incident",
    ref: dedupKey,
    detail: `PagerDuty incident triggered (${input.severity})`,
  });
  deps.logger.info({ execution_id: input.execution_id, dedup_key: dedupKey }, "triggered a PagerDuty incident");
  return { dedup_key: dedupKey };
}
