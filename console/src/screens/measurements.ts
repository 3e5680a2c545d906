/**
 * A verification analysis's measurements as a small chart: each attempt's value (inline SVG, no
 * chart library) against the success and failure thresholds the API read from the step's
 * conditions, each point marked by its outcome with a shape as well as a colour (pass ●, fail ✕,
 * inconclusive ○; no value at all is ○ on the axis). The same numbers as a table beside it, for
 * screen readers and for reading exact values.
 */
import { html, nothing, svg, type TemplateResult } from "lit-html";
import type { ExecutionMeasurements } from "../api/client";

export type Series = ExecutionMeasurements["series"][number];
type Measurement = Series["measurements"][number];
type Threshold = NonNullable<Series["success_threshold"]>;

const W = 360;
const H = 140;
const PAD = { left: 48, right: 12, top: 12, bottom: 26 };

const OP_TEXT: Record<Threshold["op"], string> = { "<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠" };

/** "0.05", "1.2k", "3.4e-7": short enough for an axis label, exact enough to tell lines apart. */
export function formatValue(value: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e6 || abs < 1e-3) return value.toExponential(1);
  if (abs >= 1e4) return `${(value / 1e3).toFixed(abs >= 1e5 ? 0 : 1)}k`;
  return String(Number(value.toPrecision(3)));
}

export function thresholdText(t: Threshold | null): string | null {
  return t ? `${OP_TEXT[t.op]} ${formatValue(t.value)}` : null;
}

/** The value range the chart shows: every value and threshold, with a little room. */
export function domainOf(series: Series): [number, number] {
  const values = [
    ...series.measurements.map((m) => m.value).filter((v): v is number => v !== null),
    ...[series.success_threshold, series.failure_threshold].filter((t) => t !== null).map((t) => t.value),
  ];
  if (values.length === 0) return [0, 1];
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || Math.abs(max) || 1;
  const low = min >= 0 && min - span * 0.15 < 0 ? 0 : min - span * 0.15;
  return [low, max + span * 0.15];
}

function marker(m: Measurement, x: number, y: number): TemplateResult {
  if (m.value === null) return svg`<circle class="m-none" cx=${x} cy=${y} r="4"></circle>`;
  if (m.outcome === "pass") return svg`<circle class="m-pass" cx=${x} cy=${y} r="4"></circle>`;
  if (m.outcome === "fail") {
    return svg`<path class="m-fail" d=${`M${x - 4},${y - 4}L${x + 4},${y + 4}M${x - 4},${y + 4}L${x + 4},${y - 4}`}></path>`;
  }
  return svg`<circle class="m-inconclusive" cx=${x} cy=${y} r="4"></circle>`;
}

function thresholdLine(t: Threshold | null, kind: "success" | "failure", y: (v: number) => number) {
  if (!t) return nothing;
  const at = y(t.value);
  return svg`<line class=${`t-${kind}`} x1=${PAD.left} x2=${W - PAD.right} y1=${at} y2=${at}></line>
    <text class=${`t-${kind}-label`} x=${W - PAD.right - 2} y=${at - 3} text-anchor="end">${kind === "success" ? "pass" : "fail"} ${thresholdText(t)}</text>`;
}

/**
 * What was read: the provider and its query, once (a kubectl read's query is already named by its
 * action, `kubectl.get .status.readyReplicas`).
 */
export function sourceText(series: Series): string {
  if (!series.query) return `${series.provider} read`;
  return series.query.startsWith(`${series.provider}.`) ? series.query : `${series.provider} ${series.query}`;
}

/** What the chart shows, in words: its accessible name. */
export function chartSummary(series: Series): string {
  const counts = { pass: 0, fail: 0, inconclusive: 0 };
  for (const m of series.measurements) counts[m.outcome] += 1;
  const limits = [
    series.success_threshold ? `passes ${thresholdText(series.success_threshold)}` : null,
    series.failure_threshold ? `fails ${thresholdText(series.failure_threshold)}` : null,
  ].filter((t) => t !== null);
  return `${sourceText(series)}: ${series.measurements.length} measurements (${counts.pass} pass, ${counts.fail} fail, ${counts.inconclusive} inconclusive)${limits.length ? `; ${limits.join(", ")}` : ""}`;
}

function chart(series: Series, id: string): TemplateResult {
  const ms = series.measurements;
  const [low, high] = domainOf(series);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (ms.length === 1 ? plotW / 2 : (i / (ms.length - 1)) * plotW);
  const y = (v: number) => PAD.top + plotH - ((v - low) / (high - low)) * plotH;
  const base = PAD.top + plotH;
  const line = ms
    .map((m, i) => (m.value === null ? null : `${x(i)},${y(m.value)}`))
    .filter((p) => p !== null)
    .join(" ");
  return html`<svg class="measure-chart" viewBox=${`0 0 ${W} ${H}`} width=${W} height=${H} role="img" aria-labelledby=${`${id}-title`}>
    <title id=${`${id}-title`}>${chartSummary(series)}</title>
    <line class="axis" x1=${PAD.left} x2=${PAD.left} y1=${PAD.top} y2=${base}></line>
    <line class="axis" x1=${PAD.left} x2=${W - PAD.right} y1=${base} y2=${base}></line>
    <text class="tick" x=${PAD.left - 4} y=${PAD.top + 4} text-anchor="end">${formatValue(high)}</text>
    <text class="tick" x=${PAD.left - 4} y=${base} text-anchor="end">${formatValue(low)}</text>
    ${thresholdLine(series.success_threshold, "success", y)}
    ${thresholdLine(series.failure_threshold, "failure", y)}
    ${line.includes(" ") ? svg`<polyline class="m-line" points=${line}></polyline>` : nothing}
    ${ms.map((m, i) => svg`<g>${marker(m, x(i), m.value === null ? base : y(m.value))}<text class="tick" x=${x(i)} y=${H - 8} text-anchor="middle">#${m.attempt}</text></g>`)}
  </svg>`;
}

const OUTCOME_BADGE: Record<Measurement["outcome"], string> = { pass: "ok", fail: "bad", inconclusive: "warn" };

function table(series: Series, id: string): TemplateResult {
  return html`<table class="list compact measure-table" aria-describedby=${`${id}-title`}>
    <caption class="visually-hidden">Measurements of ${series.step_id}: ${sourceText(series)}</caption>
    <thead><tr><th scope="col">Attempt</th><th scope="col">Value</th><th scope="col">Outcome</th><th scope="col">Why</th><th scope="col">Measured</th></tr></thead>
    <tbody>
      ${series.measurements.map(
        (m) => html`<tr>
          <td>#${m.attempt}</td>
          <td class="mono">${m.value === null ? "no value" : formatValue(m.value)}</td>
          <td><span class="badge badge-${OUTCOME_BADGE[m.outcome]}">${m.outcome}</span></td>
          <td class="small">${m.reason}</td>
          <td class="small"><time datetime=${m.measured_at}>${new Date(m.measured_at).toLocaleTimeString()}</time></td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

/** One series: what was measured and how it is judged, the chart, and its table. */
export function measurementSeriesView(series: Series, id: string): TemplateResult {
  const success = thresholdText(series.success_threshold);
  const failure = thresholdText(series.failure_threshold);
  return html`<figure class="measurements" aria-label=${`Measurements of step ${series.step_id}`}>
    <figcaption>
      <span class="mono">${series.step_id}</span> · <code class="break">${sourceText(series)}</code>
      <span class="small">
        ${series.success_condition ? html` · passes when <code>${series.success_condition}</code>${success ? nothing : " (no single threshold to draw)"}` : nothing}
        ${series.failure_condition ? html` · fails when <code>${series.failure_condition}</code>` : nothing}
      </span>
    </figcaption>
    <div class="measure-body">
      ${chart(series, id)}
      <p class="legend small" aria-hidden="true">
        <span class="key-pass">● pass</span> <span class="key-fail">✕ fail</span> <span class="key-inconclusive">○ inconclusive</span>
        ${success ? html`<span class="key-success">– – pass ${success}</span>` : nothing}
        ${failure ? html`<span class="key-failure">– – fail ${failure}</span>` : nothing}
      </p>
    </div>
    ${table(series, id)}
  </figure>`;
}

/** Every series of an execution, or nothing when it measured nothing. */
export function measurementsView(data: ExecutionMeasurements | undefined): TemplateResult | typeof nothing {
  if (!data || data.series.length === 0) return nothing;
  return html`<h4>Verification measurements</h4>
    ${data.series.map((s, i) => measurementSeriesView(s, `m-${data.execution_id}-${i}`))}`;
}
