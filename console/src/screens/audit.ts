/**
 * Audit: the hash-chained trail, filtered (filters in the URL), oldest first, a page at a time with
 * the API's cursor; the same filters exported as NDJSON with the chain proof; and, for an admin,
 * the whole chain verified with its result said plainly. Live: new records are counted in space
 * kept for it, and shown on request.
 */
import { html, nothing, type TemplateResult } from "lit-html";
import { ApiError, type AuditPage, type AuditVerification, type Problem, toProblem, unwrap } from "../api/client";
import { href, navigate, type Route } from "../router";
import {
  actorName,
  attempt,
  fromLocalInput,
  problemView,
  type ScreenFactory,
  shortHash,
  timeView,
  toLocalInput,
} from "../ui";

const TEXT_FILTERS = ["actor", "type", "aggregate_id", "correlation_id", "service"] as const;
const AGGREGATES = ["plan", "execution", "signal", "context"] as const;
type Aggregate = (typeof AGGREGATES)[number];

function queryOf(route: Route) {
  const q = route.query;
  const aggregate = q.get("aggregate_type") ?? "";
  const query: Record<string, string> = {};
  for (const key of TEXT_FILTERS) {
    const value = q.get(key);
    if (value) query[key] = value;
  }
  for (const key of ["from", "to"] as const) {
    const value = q.get(key);
    if (value) query[key] = value;
  }
  return {
    query: query as Partial<Record<(typeof TEXT_FILTERS)[number] | "from" | "to", string>>,
    aggregate: (AGGREGATES as readonly string[]).includes(aggregate) ? (aggregate as Aggregate) : null,
    cursor: q.get("cursor"),
  };
}

export const auditScreen: ScreenFactory = (context, route) => {
  const { api, auth, live } = context;
  const { query, aggregate, cursor } = queryOf(route);
  const filters = { ...query, ...(aggregate ? { aggregate_type: aggregate } : {}) };
  let page: AuditPage | null = null;
  let problem: Problem | null = null;
  let verification: AuditVerification | null = null;
  let verifyProblem: Problem | null = null;
  let verifying = false;
  let exporting = false;
  let newRecords = 0;
  const setProblem = (p: Problem | null) => {
    problem = p;
  };

  async function load() {
    page = await attempt(
      () =>
        unwrap(
          api.GET("/v1/audit/events", {
            params: { query: { ...filters, limit: "50", ...(cursor ? { cursor } : {}) } },
          }),
        ),
      setProblem,
      toProblem,
    );
    newRecords = 0;
    context.rerender();
  }

  live.subscribe({
    topics: ["audit.created"],
    onEvent: () => {
      newRecords += 1;
      context.rerender();
    },
    onResync: () => void load(),
  });
  void load();

  async function verify() {
    verifying = true;
    verification = null;
    context.rerender();
    verification = await attempt(
      () => unwrap(api.GET("/v1/audit/verify", {})),
      (p) => {
        verifyProblem = p;
      },
      toProblem,
    );
    verifying = false;
    context.rerender();
  }

  async function exportTrail() {
    exporting = true;
    context.rerender();
    await attempt(
      async () => {
        const params = new URLSearchParams(filters);
        const response = await fetch(`/v1/audit/events.ndjson?${params}`, {
          headers: { authorization: `Bearer ${(await auth.token()) ?? ""}`, accept: "application/x-ndjson" },
        });
        if (!response.ok) {
          const body = (await response.json().catch(() => null)) as Problem | null;
          throw new ApiError(body ?? toProblem(new Error(`the export answered ${response.status}`)));
        }
        const url = URL.createObjectURL(await response.blob());
        const link = document.createElement("a");
        link.href = url;
        link.download = `wheelhouse-audit-${new Date().toISOString().replace(/[:.]/g, "-")}.ndjson`;
        link.click();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      },
      setProblem,
      toProblem,
    );
    exporting = false;
    context.rerender();
  }

  function applyFilters(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(event.target as HTMLFormElement);
    const text = (name: string) => String(data.get(name) ?? "").trim();
    navigate("/audit", {
      ...Object.fromEntries(TEXT_FILTERS.map((k) => [k, text(k)])),
      aggregate_type: text("aggregate_type"),
      from: fromLocalInput(text("from")),
      to: fromLocalInput(text("to")),
    });
  }

  function verificationView(v: AuditVerification): TemplateResult {
    const { chain, tail } = v;
    return html`<div class=${`result ${v.ok ? "result-ok" : "result-bad"}`} role="status">
      <p class="result-line"><strong>${chain.ok ? "The audit chain is intact." : "The audit chain is broken."}</strong></p>
      <p>
        ${chain.checked} records checked${chain.head ? html`; head #${chain.head.seq} <span class="mono">${shortHash(chain.head.hash, 16)}</span>` : nothing}.
        ${tail.behind > 0 ? html`${tail.behind} events in the stream are not in the trail yet (the projector lags, or the newest records are missing).` : "The trail is level with the events stream."}
      </p>
      ${
        chain.failure
          ? html`<p>First failure: record #${chain.failure.seq} ${chain.failure.kind} — ${chain.failure.message}
            ${chain.failure.expected !== undefined ? html`(expected <span class="mono">${String(chain.failure.expected)}</span>, found <span class="mono">${String(chain.failure.found)}</span>)` : nothing}</p>`
          : nothing
      }
    </div>`;
  }

  const pageLink = (label: string, to: string | null) =>
    to === null
      ? nothing
      : html`<a class="button" href=${href("/audit", { ...filters, cursor: to || null })}>${label}</a>`;

  return {
    title: "Audit",
    dispose: () => undefined,
    view: () => html`<h1 tabindex="-1">Audit</h1>
      <form class="filters" role="search" aria-label="Filter the audit trail" @submit=${applyFilters}>
        <label>Actor <input name="actor" .value=${query.actor ?? ""} autocomplete="off" /></label>
        <label>Event type <input name="type" .value=${query.type ?? ""} placeholder="policy.decided" autocomplete="off" /></label>
        <label>Aggregate
          <select name="aggregate_type">
            <option value="" ?selected=${!aggregate}>any</option>
            ${AGGREGATES.map((a) => html`<option value=${a} ?selected=${aggregate === a}>${a}</option>`)}
          </select>
        </label>
        <label>Aggregate id <input name="aggregate_id" .value=${query.aggregate_id ?? ""} autocomplete="off" /></label>
        <label>Correlation id <input name="correlation_id" .value=${query.correlation_id ?? ""} autocomplete="off" /></label>
        <label>Service <input name="service" .value=${query.service ?? ""} autocomplete="off" /></label>
        <label>From <input type="datetime-local" name="from" .value=${toLocalInput(query.from ?? null)} /></label>
        <label>To <input type="datetime-local" name="to" .value=${toLocalInput(query.to ?? null)} /></label>
        <div class="filter-actions"><button type="submit">Apply</button> <a href="#/audit">Clear</a></div>
      </form>
      <div class="toolbar">
        <button type="button" ?disabled=${exporting} @click=${() => void exportTrail()}>${exporting ? "Exporting…" : "Export NDJSON"}</button>
        <button type="button" ?disabled=${verifying} @click=${() => void verify()}>${verifying ? "Verifying…" : "Verify chain"}</button>
        <span class="muted small">Verifying reads the whole chain (admin).</span>
      </div>
      ${verification ? verificationView(verification) : problemView(verifyProblem)}
      ${problemView(problem)}
      <div class="fresh-bar" aria-live="polite">
        ${newRecords ? html`<button type="button" @click=${() => void load()}>${newRecords} new ${newRecords === 1 ? "record" : "records"}: reload</button>` : nothing}
      </div>
      <table class="list">
        <caption class="visually-hidden">Audit records, oldest first</caption>
        <colgroup><col class="w-seq" /><col class="w-age" /><col /><col /><col /><col class="w-status" /><col class="w-hash" /></colgroup>
        <thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">Event</th><th scope="col">Aggregate</th><th scope="col">Actor</th><th scope="col">Outcome</th><th scope="col">Hash</th></tr></thead>
        <tbody>
          ${(page?.items ?? []).map(
            (r) => html`<tr>
              <td class="mono">${r.seq}</td>
              <td>${timeView(r.occurred_at)}</td>
              <td class="mono">${r.action}</td>
              <td>${r.aggregate_type === "plan" ? html`<a href=${href(`/changes/${encodeURIComponent(r.aggregate_id)}`)}>${r.aggregate_id}</a>` : html`${r.aggregate_type} <span class="mono">${r.aggregate_id}</span>`}</td>
              <td>${actorName(r.actor)}</td>
              <td>${r.outcome ?? "—"}</td>
              <td class="mono" title=${r.hash}>${shortHash(r.hash, 10)}</td>
            </tr>`,
          )}
          ${page && page.items.length === 0 ? html`<tr><td colspan="7" class="muted">No records match.</td></tr>` : nothing}
        </tbody>
      </table>
      <nav class="pager" aria-label="Pages">${pageLink("First page", cursor ? "" : null)} ${pageLink("Next page", page?.next_cursor ?? null)}</nav>`,
  };
};
