/**
 * `CreateGrafanaAnnotationActivity`: an organization annotation at the start
 * and at the end of an execution. The end one is a region from the start
 * annotation's time, so a dashboard shades the change window. The annotation
 * carries marker tags (`wheelhouse`, `execution:<id>`, `phase:<phase>`): an
 * attempt that finds no recorded notice looks for them in Grafana before
 * creating, so an attempt that died between creating and recording does not
 * leave a twin behind.
 */
import type { GrafanaAnnotationInput } from "../../../../lib/orchestration/workflow.ts";
import { calling, outgoing, type ResolvedDeps } from "./deps.ts";
import { readNotices } from "./notices.ts";

export function annotationMarkers(executionId: string, phase: string): string[] {
  return ["wheelhouse", `execution:${executionId}`, `phase:${phase}`];
}

export async function createGrafanaAnnotation(
  deps: ResolvedDeps,
  input: GrafanaAnnotationInput,
): Promise<{ annotation_id: number | null }> {
  const grafana = deps.clients.grafana;
  if (!grafana) return { annotation_id: null };
  const notices = await readNotices(deps, input);
  const recorded = notices.find("grafana", input.phase);
  if (recorded) return { annotation_id: Number(recorded.payload.ref) };

  const markers = annotationMarkers(input.execution_id, input.phase);
  const id = await calling(async () => {
    const made = (await grafana.findByTags(markers))[0];
    if (made) return made.id;
    const now = deps.now().getTime();
    const started = input.phase === "end" ? notices.find("grafana", "start") : null;
    const from = started ? Date.parse(started.occurred_at) : null;
    return grafana.create({
      time: from ?? now,
      timeEnd: from === null ? undefined : now,
      tags: [...new Set([...input.tags, ...markers])],
      text: outgoing(input.text),
    });
  });
  await notices.record({
    channel: "grafana",
    phase: input.phase,
    ref: String(id),
    detail: `Grafana annotation ${id} at the ${input.phase} of the execution`,
  });
  deps.logger.info({ execution_id: input.execution_id, annotation_id: id, phase: input.phase }, "annotated Grafana");
  return { annotation_id: id };
}
