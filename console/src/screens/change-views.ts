/**
 * The change page's read-only sections, from `GET /v1/plans/{id}/explain` and the plan: each
 * revision with its steps and the diff preview of its writes, the policy decisions, the execution
 * timeline (steps, tool calls with exit codes and output, verification, rollback), the context
 * snapshot and the evidence.
 */
import { html, nothing, type TemplateResult } from "lit-html";
import type { Explanation } from "../api/client";
import type { StepView } from "../api/views";
import type { LogChunk } from "../logs";
import { actorName, shortHash, statusBadge, timeView } from "../ui";

type Revision = Explanation["revisions"][number];
type Evidence = Revision["evidence"][number];
type Story = Explanation["executions"][number];
type ToolCall = Story["tool_calls"][number];
type Check = Story["verification"][number]["checks"][number];

const clip = (text: string, n: number) => (text.length > n ? `${text.slice(0, n)}…` : text);

const WRITE_HINT = /(scale|apply|upgrade|rollback|restart|patch|delete|annotate|cordon|drain|set|create)/;

/** One evidence blob: where it is, its digest, and its first 64 KiB when the API inlined it. */
export function evidenceView(e: Evidence, label?: string): TemplateResult {
  return html`<details class="evidence">
    <summary>
      <span class="mono">${label ?? e.kind ?? "evidence"}</span>
      <span class="muted small">sha256 ${shortHash(e.sha256)} · ${e.size_bytes ?? "?"} bytes${e.redacted ? " · redacted" : ""}</span>
      ${e.verified === false || e.integrity_error ? html`<span class="badge badge-bad">digest mismatch</span>` : nothing}
    </summary>
    <dl class="kv small">
      <dt>Evidence</dt><dd class="mono">${e.evidence_id}</dd>
      <dt>Blob</dt><dd class="mono break">${e.uri ?? "—"}</dd>
      <dt>sha256</dt><dd class="mono break">${e.sha256 ?? "—"}</dd>
      ${e.recorded_by ? html`<dt>Recorded</dt><dd>${e.recorded_by.type} by ${actorName(e.recorded_by.actor)} ${timeView(e.recorded_by.occurred_at)}</dd>` : nothing}
    </dl>
    ${e.content !== undefined ? html`<pre class="output" tabindex="0">${e.content}</pre>` : html`<p class="muted small">Content not inlined.</p>`}
  </details>`;
}

function stepsTable(steps: readonly Record<string, unknown>[], decided: readonly StepView[]): TemplateResult {
  return html`<table class="list compact">
    <thead><tr><th scope="col">Step</th><th scope="col">Action</th><th scope="col">Input</th><th scope="col">Tier</th><th scope="col">Why</th></tr></thead>
    <tbody>
      ${steps.map((s) => {
        const id = String(s.step_id ?? "?");
        const d = decided.find((x) => x.stepId === id);
        return html`<tr>
          <td class="mono">${id}</td>
          <td class="mono">${String(s.action_id ?? "?")}</td>
          <td><code class="break">${JSON.stringify(s.input ?? {})}</code></td>
          <td>${d?.tier ?? "—"}${d?.decision ? html` <span class="muted small">${d.decision.replaceAll("_", " ")}</span>` : nothing}</td>
          <td class="small">${String(s.rationale ?? "")}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

/** Each revision: summary, digest, steps, and the diff preview of its writes (diff evidence, dry-run output). */
export function revisionsView(x: Explanation, current: number | null, steps: readonly StepView[]): TemplateResult {
  if (x.revisions.length === 0) return html`<p class="muted">No plan yet: the planner has not proposed one.</p>`;
  const dryRuns = x.executions.filter((e) => e.dry_run);
  return html`${[...x.revisions].reverse().map((r) => {
    const diffs = [...r.evidence, ...x.evidence].filter(
      (e, i, all) => e.kind === "diff" && all.findIndex((o) => o.evidence_id === e.evidence_id) === i,
    );
    const previews = dryRuns
      .filter((d) => d.revision === r.revision)
      .flatMap((d) => d.tool_calls.filter((c) => WRITE_HINT.test(c.action_id) && c.output));
    return html`<details class="revision" ?open=${r.revision === current}>
      <summary><strong>Revision ${r.revision}</strong> ${r.revision === current ? html`<span class="badge badge-info">current</span>` : nothing} ${r.summary}</summary>
      <p class="small">Digest <span class="mono">${r.digest ?? "none"}</span> · proposed ${timeView(r.event.occurred_at)} by ${actorName(r.event.actor)}</p>
      ${stepsTable(r.steps, r.revision === current ? steps : [])}
      <h4>Diff preview</h4>
      ${
        diffs.length || previews.length
          ? html`${diffs.map((d) => evidenceView(d, "diff"))}${previews.map((c) => (c.output ? evidenceView(c.output, `dry run: ${c.argv.join(" ")}`) : nothing))}`
          : html`<p class="muted small">No diff recorded for this revision yet: a dry run records the server-side diff of every write.</p>`
      }
    </details>`;
  })}`;
}

export function policyView(x: Explanation): TemplateResult {
  if (x.policy.length === 0) return html`<p class="muted">Policy has not decided yet.</p>`;
  return html`${[...x.policy].reverse().map(
    (p) => html`<div class="decision">
      <p>
        <strong>${p.decision.replaceAll("_", " ")}</strong> · tier <strong>${p.tier}</strong> · revision ${p.revision} ·
        ${p.approvers_required} approver${p.approvers_required === 1 ? "" : "s"} required · decided ${timeView(p.event.occurred_at)}
      </p>
      <ul>${p.reasons.map((r) => html`<li>${r}</li>`)}</ul>
      <p class="small muted">Policy revision <span class="mono">${p.policy_revision}</span> · decision expires ${timeView(p.expires_at)}</p>
    </div>`,
  )}`;
}

/** Numbers in a verification's evidence (a list, or points with a value), for a small chart. */
export function seriesOf(content: string | undefined): number[] {
  if (!content) return [];
  try {
    const data = JSON.parse(content) as unknown;
    const list = Array.isArray(data)
      ? data
      : ((data as { series?: unknown; values?: unknown }).series ?? (data as { values?: unknown }).values);
    if (!Array.isArray(list)) return [];
    return list
      .map((p) =>
        typeof p === "number" ? p : Array.isArray(p) ? Number(p[1]) : Number((p as { value?: unknown })?.value),
      )
      .filter((n) => Number.isFinite(n));
  } catch {
    return [];
  }
}

function sparkline(values: readonly number[], label: string): TemplateResult | typeof nothing {
  if (values.length < 2) return nothing;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const points = values.map((v, i) => `${(i / (values.length - 1)) * 120},${28 - ((v - min) / span) * 26}`).join(" ");
  return html`<svg class="spark" viewBox="0 0 120 30" width="120" height="30" role="img" aria-label=${`${label}: ${values.join(", ")}`}>
    <polyline points=${points} fill="none" stroke="currentColor" stroke-width="1.5"></polyline>
  </svg>`;
}

function checkView(c: Check): TemplateResult {
  return html`<li>
    ${c.passed ? html`<span class="badge badge-ok">passed</span>` : html`<span class="badge badge-bad">failed</span>`}
    ${c.description}${c.detail ? html` — <span class="small">${c.detail}</span>` : nothing}
    ${sparkline(seriesOf(c.evidence?.content), c.description)}
    ${c.evidence ? evidenceView(c.evidence, "measurement") : nothing}
  </li>`;
}

/** A call as it ran: argv (its own name first; `[method, url]` for an API call), and a CLI's resolved binary. */
function toolCallView(c: ToolCall, chunks: readonly LogChunk[]): TemplateResult {
  const live = chunks.filter((k) => k.tool_call_id === c.tool_call_id);
  return html`<li class="tool-call">
    <p>
      <span class="mono">${c.step_id}</span> <code class="break">${c.argv.join(" ")}</code>
      ${c.status ? statusBadge(c.status) : html`<span class="badge badge-info">running</span>`}
      <span class="small">exit code ${c.exit_code ?? "—"} · ${c.duration_ms === null ? "—" : `${c.duration_ms} ms`} · via ${c.via}${c.via === "cli" ? html` <span class="mono">${c.binary}</span>` : nothing}</span>
    </p>
    ${c.error ? html`<p class="small bad">${c.error}</p>` : nothing}
    ${
      live.length
        ? html`<pre class="output" role="log" tabindex="0" aria-label=${`Live output of ${c.step_id}`}>${live.map((k) => html`<span class=${k.stream}>${k.text}</span>`)}</pre>`
        : c.output
          ? evidenceView(c.output, "output")
          : nothing
    }
  </li>`;
}

/** What the change page adds to an execution: its actions (Cancel) and its measurements chart. */
export interface ExecutionExtras {
  readonly actions: TemplateResult | typeof nothing;
  readonly measurements: TemplateResult | typeof nothing;
}

/** One execution from request to outcome, with the live output of calls still running. */
export function executionView(
  e: Story,
  chunks: readonly LogChunk[],
  status: string,
  extras: ExecutionExtras = { actions: nothing, measurements: nothing },
): TemplateResult {
  const known = new Set(e.tool_calls.map((c) => c.tool_call_id));
  const orphan = chunks.filter((k) => !known.has(k.tool_call_id));
  return html`<article class="execution" aria-label=${`Execution ${e.execution_id}`}>
    <h3>
      ${e.dry_run ? "Dry run" : "Execution"} <span class="mono small">${e.execution_id}</span>
      <span class="execution-status">${statusBadge(status)}</span>
    </h3>
    <p class="small">
      Revision ${e.revision ?? "—"} · requested ${e.requested ? html`${timeView(e.requested.occurred_at)} by ${actorName(e.requested.actor)}` : "—"}
      ${e.started ? html` · started ${timeView(e.started.occurred_at)}` : nothing}
    </p>
    ${extras.actions}
    <ol class="timeline">
      ${e.steps.map(
        (s) =>
          html`<li>${statusBadge(s.status)} <span class="mono">${s.step_id}</span> ${s.action_id}${s.detail ? html` — <span class="small">${clip(s.detail, 160)}</span>` : nothing} ${timeView(s.event.occurred_at)}</li>`,
      )}
    </ol>
    <h4>Tool calls</h4>
    <ul class="plain">${e.tool_calls.map((c) => toolCallView(c, chunks))}</ul>
    ${orphan.length ? html`<pre class="output" role="log" tabindex="0" aria-label="Live output">${orphan.map((k) => html`<span class=${k.stream}>${k.text}</span>`)}</pre>` : nothing}
    ${extras.measurements}
    ${
      e.verification.length
        ? html`<h4>Verification</h4>
          ${e.verification.map(
            (
              v,
            ) => html`<p>${v.passed ? html`<span class="badge badge-ok">verified</span>` : html`<span class="badge badge-bad">not verified</span>`} ${v.step_id ?? ""} ${timeView(v.event.occurred_at)}</p>
              <ul class="plain">${v.checks.map(checkView)}</ul>`,
          )}`
        : nothing
    }
    ${
      e.rollback.length
        ? html`<h4>Rollback</h4>
          <ul>${e.rollback.map((r) => html`<li>${r.phase.replaceAll("_", " ")}: ${r.reason} (${r.step_ids.join(", ")}) ${timeView(r.event.occurred_at)}</li>`)}</ul>`
        : nothing
    }
    ${e.outcome ? html`<p class="outcome">Outcome: ${statusBadge(e.outcome.status)} ${e.outcome.reason ?? ""} ${timeView(e.outcome.event.occurred_at)}</p>` : nothing}
  </article>`;
}

export function contextView(x: Explanation): TemplateResult {
  const withContext = x.revisions.filter((r) => r.context);
  if (withContext.length === 0) return html`<p class="muted">No context snapshot recorded.</p>`;
  return html`${withContext.map((r) => {
    const c = r.context as NonNullable<Revision["context"]>;
    return html`<div>
      <p>
        Revision ${r.revision}: ${c.nodes} nodes, ${c.edges} edges${c.scope.environment ? ` in ${c.scope.environment}` : ""} ·
        digest <span class="mono">${shortHash(c.digest, 16)}</span> · read from <span class="mono">${c.ref ?? "—"}</span>
        ${c.evidence_matches ? html`<span class="badge badge-ok">blob matches digest</span>` : html`<span class="badge badge-bad">blob does not match</span>`}
      </p>
      ${c.evidence ? evidenceView(c.evidence, "context snapshot") : nothing}
    </div>`;
  })}`;
}

export function evidenceList(x: Explanation): TemplateResult {
  const all = [...x.planner.prompt, ...x.planner.model_response, ...x.evidence];
  if (all.length === 0) return html`<p class="muted">No evidence recorded.</p>`;
  return html`${all.map((e) => evidenceView(e))}`;
}

export function timelineView(x: Explanation, until: string | null): TemplateResult {
  const events = until ? x.timeline.filter((t) => t.occurred_at <= until) : x.timeline;
  return html`<ol class="timeline small">
    ${events.map((t) => html`<li><span class="mono">${t.type}</span> by ${actorName(t.actor)} ${timeView(t.occurred_at)}${t.audit ? html` · audit #${t.audit.seq}` : nothing}</li>`)}
  </ol>`;
}
