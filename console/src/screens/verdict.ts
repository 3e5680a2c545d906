/**
 * An execution paused for a person's verdict: its verification analysis stayed inconclusive and its
 * step says `on_inconclusive: "pause"`. The change page shows a "needs your verdict" panel naming
 * the check (from the execution's story: `execution.paused`), why it is inconclusive, its
 * measurements and the time left, with Pass and Fail and a required reason
 * (`POST /v1/executions/{id}:verdict`).
 */
import { html, nothing, type TemplateResult } from "lit-html";
import type { ExecutionMeasurements, Explanation } from "../api/client";
import { countdown, statusBadge, timeView } from "../ui";
import { chartSummary, formatValue, type Series } from "./measurements";

type Story = Explanation["executions"][number];
type Pause = Story["pauses"][number];

/** What the panel shows of a pause. */
export type PausedCheck =
  | {
      /** The analysis waits for a verdict. */
      readonly kind: "awaiting";
      /** The paused step and check; null for a run paused before pauses were recorded as events. */
      readonly stepId: string | null;
      readonly check: string | null;
      readonly reason: string | null;
      readonly attempts: number | null;
      readonly deadline: string | null;
      /** The measurements of the paused step (each query's series). */
      readonly series: readonly Series[];
    }
  | {
      /** A verdict is recorded; the read model has not shown the execution running again yet. */
      readonly kind: "given";
      readonly stepId: string;
      readonly check: string;
      readonly verdict: NonNullable<Pause["verdict"]>;
    };

/**
 * The pause of an execution whose status (the executions read model's, live) is `paused`: the last
 * pause of its story, awaiting a verdict or with one given; null when it is not paused.
 */
export function pausedCheckOf(
  story: Story,
  status: string,
  measurements: ExecutionMeasurements | undefined,
): PausedCheck | null {
  if (status !== "paused") return null;
  const pause = story.pauses.at(-1);
  if (pause?.verdict) return { kind: "given", stepId: pause.step_id, check: pause.check, verdict: pause.verdict };
  return {
    kind: "awaiting",
    stepId: pause?.step_id ?? null,
    check: pause?.check ?? null,
    reason: pause?.reason ?? null,
    attempts: pause?.attempts ?? null,
    deadline: pause?.deadline ?? null,
    series: pause ? (measurements?.series ?? []).filter((s) => s.step_id === pause.step_id) : [],
  };
}

/** One series in words: what was read, the counts, and the last measurement with its reason. */
export function seriesLine(series: Series): string {
  const last = series.measurements.at(-1);
  if (!last) return chartSummary(series);
  const value = last.value === null ? "no value" : formatValue(last.value);
  return `${chartSummary(series)}. Last, #${last.attempt}: ${value}, ${last.outcome} (${last.reason})`;
}

/** The panel: what stayed inconclusive, its measurements, the time left, and the verdict form. */
export function verdictPanel(
  executionId: string,
  paused: PausedCheck,
  form: TemplateResult | typeof nothing,
  now: number,
): TemplateResult {
  const headingId = `verdict-h-${executionId}`;
  if (paused.kind === "given") {
    const v = paused.verdict;
    return html`<section class="verdict" aria-labelledby=${headingId}>
      <h4 id=${headingId}>Verdict given</h4>
      <p>
        <span class="badge badge-${v.decision === "pass" ? "ok" : "bad"}">${v.decision}</span> <strong>${paused.check}</strong> (step
        <span class="mono">${paused.stepId}</span>) judged ${v.decision} by ${v.requested_by} ${timeView(v.event.occurred_at, now)}:
        ${v.reason}. Verification goes on with it.
      </p>
    </section>`;
  }
  return html`<section class="verdict" aria-labelledby=${headingId}>
    <h4 id=${headingId}>${statusBadge("paused")} Needs your verdict</h4>
    <p>
      ${
        paused.check
          ? html`Verification of step <span class="mono">${paused.stepId}</span> stayed inconclusive${paused.attempts === null ? "" : ` after ${paused.attempts} measurement${paused.attempts === 1 ? "" : "s"}`}:
            <strong class="verdict-check">${paused.check}</strong>`
          : html`Its verification analysis stayed inconclusive.`
      }
    </p>
    ${paused.reason ? html`<p class="small">Why inconclusive: ${paused.reason}</p>` : nothing}
    ${
      paused.series.length
        ? html`<ul class="small verdict-series">
          ${paused.series.map((s) => html`<li>${seriesLine(s)}</li>`)}
        </ul>`
        : nothing
    }
    <p class="small">
      <strong>Pass</strong> lets verification go on; <strong>Fail</strong> fails it and rolls the change back.
      ${paused.deadline ? html`Without a verdict the check fails: <span class="countdown">${countdown(paused.deadline, now)}</span>.` : nothing}
    </p>
    ${form}
  </section>`;
}
