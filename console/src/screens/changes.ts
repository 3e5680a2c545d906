/**
 * Changes: every plan with its status, service, environment, tier, requester and age, newest first.
 * The filters and the search live in the URL (a view can be shared); status, service, environment,
 * requester and time range are the API's filters, the search is applied to the pages read. Live: a row
 * changes in place when its plan moves; new plans wait behind a "show" button in space kept for it,
 * so nothing on the page jumps.
 */
import { html, nothing } from "lit-html";
import { type Plan, type Problem, toProblem, unwrap } from "../api/client";
import { debounce, planAtLeast } from "../api/fresh";
import { href, navigate, type Route } from "../router";
import {
  actorName,
  attempt,
  fromLocalInput,
  problemView,
  type ScreenFactory,
  statusBadge,
  timeView,
  toLocalInput,
} from "../ui";

const STATUSES = [
  "requested",
  "proposed",
  "failed",
  "pending_approval",
  "approved",
  "rejected",
  "denied",
  "expired",
] as const;
type Status = (typeof STATUSES)[number];

interface Filters {
  q: string;
  status: Status | "";
  service: string;
  environment: string;
  requester: string;
  from: string | null;
  to: string | null;
}

function filtersOf(route: Route): Filters {
  const q = route.query;
  const status = q.get("status") ?? "";
  return {
    q: q.get("q") ?? "",
    status: (STATUSES as readonly string[]).includes(status) ? (status as Status) : "",
    service: q.get("service") ?? "",
    environment: q.get("environment") ?? "",
    requester: q.get("requester") ?? "",
    from: q.get("from"),
    to: q.get("to"),
  };
}

/** The API's filters as query parameters (the list route validates them). */
function apiFilters(f: Filters) {
  return {
    ...(f.status ? { status: f.status } : {}),
    ...(f.service ? { service: f.service } : {}),
    ...(f.environment ? { environment: f.environment } : {}),
    ...(f.requester ? { requester: f.requester } : {}),
    ...(f.from ? { from: f.from } : {}),
    ...(f.to ? { to: f.to } : {}),
  };
}

/**
 * Whether a plan belongs in the view: the search (which the API does not take) on a page read, and
 * every filter on a plan that arrives live.
 */
function matches(plan: Plan, f: Filters): boolean {
  if (f.status && plan.status !== f.status) return false;
  if (f.service && plan.service !== f.service) return false;
  if (f.environment && plan.environment !== f.environment) return false;
  if (f.requester && (plan.requested_by?.id ?? plan.actor_id) !== f.requester) return false;
  if (f.from && plan.created_at < f.from) return false;
  if (f.to && plan.created_at >= f.to) return false;
  if (f.q) {
    const text = [plan.plan_id, plan.intent, plan.summary, plan.service, plan.environment].join(" ").toLowerCase();
    if (!text.includes(f.q.toLowerCase())) return false;
  }
  return true;
}

export const changesScreen: ScreenFactory = (context, route) => {
  const { api, live } = context;
  const filters = filtersOf(route);
  let plans: Plan[] = [];
  let fresh: Plan[] = [];
  let cursor: string | null = null;
  let loading = true;
  let problem: Problem | null = null;
  let requestProblem: Problem | null = null;
  let requesting = false;
  let now = Date.now();
  const setProblem = (p: Problem | null) => {
    problem = p;
  };

  async function loadPage(first: boolean) {
    loading = true;
    context.rerender();
    // The search may leave a page with few rows: read on until 50 match or the list ends.
    let added = 0;
    do {
      const page = await attempt(
        () =>
          unwrap(
            api.GET("/v1/plans", {
              params: {
                query: {
                  limit: "100",
                  ...apiFilters(filters),
                  ...(first || !cursor ? {} : { cursor }),
                },
              },
            }),
          ),
        setProblem,
        toProblem,
      );
      if (!page) break;
      first = false;
      const kept = page.items.filter((p) => matches(p, filters));
      plans = [...plans, ...kept];
      added += kept.length;
      cursor = page.next_cursor;
    } while (cursor && added < 50);
    loading = false;
    context.rerender();
  }

  const pendingEvents = new Map<string, number>();
  const applyEvents = debounce(() => {
    const batch = [...pendingEvents];
    pendingEvents.clear();
    for (const [planId, seq] of batch) {
      void planAtLeast(api, planId, seq)
        .then((plan) => {
          if (!plan) return;
          const index = plans.findIndex((p) => p.plan_id === plan.plan_id);
          if (index >= 0) plans[index] = plan;
          else if (matches(plan, filters)) fresh = [plan, ...fresh.filter((p) => p.plan_id !== plan.plan_id)];
          context.rerender();
        })
        .catch(() => undefined);
    }
  }, 100);

  live.subscribe({
    topics: ["plan.updated"],
    ...(filters.service ? { filters: { service: filters.service } } : {}),
    onEvent: (message) => {
      const planId = message.event.aggregate_type === "plan" ? message.event.aggregate_id : null;
      if (!planId) return;
      pendingEvents.set(planId, Math.max(pendingEvents.get(planId) ?? 0, message.seq));
      applyEvents();
    },
    onResync: () => {
      plans = [];
      fresh = [];
      void loadPage(true);
    },
  });
  void loadPage(true);
  const clock = setInterval(() => {
    now = Date.now();
    context.rerender();
  }, 15_000);

  function applyFilters(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(event.target as HTMLFormElement);
    const text = (name: string) => String(data.get(name) ?? "").trim();
    navigate("/changes", {
      q: text("q"),
      status: text("status"),
      service: text("service"),
      environment: text("environment"),
      requester: text("requester"),
      from: fromLocalInput(text("from")),
      to: fromLocalInput(text("to")),
    });
  }

  async function requestChange(event: SubmitEvent) {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const text = (name: string) => String(data.get(name) ?? "").trim();
    requesting = true;
    context.rerender();
    const accepted = await attempt(
      () =>
        unwrap(
          api.POST("/v1/plans", {
            params: { query: { wait: "5" }, header: { "Idempotency-Key": crypto.randomUUID() } },
            body: {
              intent: text("intent"),
              ...(text("environment") ? { environment: text("environment") } : {}),
              ...(text("service") ? { service: text("service") } : {}),
            },
          }),
        ),
      (p) => {
        requestProblem = p;
      },
      toProblem,
    );
    requesting = false;
    context.rerender();
    if (accepted) navigate(`/changes/${encodeURIComponent(accepted.id)}`);
  }

  const row = (p: Plan) => html`<tr>
    <td class="col-change">
      <a href=${href(`/changes/${encodeURIComponent(p.plan_id)}`)}>${p.summary ?? p.intent ?? p.plan_id}</a>
      <div class="muted small mono">${p.plan_id}</div>
    </td>
    <td class="col-status">${statusBadge(p.status)}</td>
    <td>${p.service ?? "—"}</td>
    <td>${p.environment ?? "—"}</td>
    <td>${p.tier ?? "—"}</td>
    <td>${p.requested_by ? actorName(p.requested_by) : (p.actor_id ?? "—")}</td>
    <td>${timeView(p.created_at, now)}</td>
  </tr>`;

  return {
    title: "Changes",
    dispose() {
      clearInterval(clock);
      applyEvents.cancel();
    },
    view: () => html`<h1 tabindex="-1">Changes</h1>
      <section aria-labelledby="request-heading" class="card">
        <h2 id="request-heading">Request a change</h2>
        <form class="request" @submit=${requestChange}>
          <label class="wide">What should change? <textarea name="intent" required rows="2" maxlength="4000" placeholder="scale checkout to 6 in staging"></textarea></label>
          <label>Environment <input name="environment" autocomplete="off" placeholder="from the request" /></label>
          <label>Service <input name="service" autocomplete="off" placeholder="from the request" /></label>
          <button class="primary" type="submit" ?disabled=${requesting}>${requesting ? "Requesting…" : "Request change"}</button>
        </form>
        ${problemView(requestProblem)}
      </section>
      <form class="filters" role="search" aria-label="Filter changes" @submit=${applyFilters}>
        <label>Search <input type="search" name="q" .value=${filters.q} placeholder="intent, id, service" /></label>
        <label>Status
          <select name="status">
            <option value="" ?selected=${filters.status === ""}>any</option>
            ${STATUSES.map((s) => html`<option value=${s} ?selected=${filters.status === s}>${s.replaceAll("_", " ")}</option>`)}
          </select>
        </label>
        <label>Service <input name="service" .value=${filters.service} autocomplete="off" /></label>
        <label>Environment <input name="environment" .value=${filters.environment} autocomplete="off" /></label>
        <label>Requester <input name="requester" .value=${filters.requester} autocomplete="off" /></label>
        <label>From <input type="datetime-local" name="from" .value=${toLocalInput(filters.from)} /></label>
        <label>To <input type="datetime-local" name="to" .value=${toLocalInput(filters.to)} /></label>
        <div class="filter-actions"><button type="submit">Apply</button> <a href="#/changes">Clear</a></div>
      </form>
      ${problemView(problem)}
      <div class="fresh-bar" aria-live="polite">
        ${
          fresh.length
            ? html`<button type="button" @click=${() => {
                plans = [...fresh, ...plans.filter((p) => !fresh.some((f) => f.plan_id === p.plan_id))];
                fresh = [];
                context.rerender();
              }}>Show ${fresh.length} new ${fresh.length === 1 ? "change" : "changes"}</button>`
            : nothing
        }
      </div>
      <table class="list">
        <caption class="visually-hidden">Changes, newest first</caption>
        <colgroup><col class="w-change" /><col class="w-status" /><col /><col /><col class="w-tier" /><col /><col class="w-age" /></colgroup>
        <thead><tr><th scope="col">Change</th><th scope="col">Status</th><th scope="col">Service</th><th scope="col">Environment</th><th scope="col">Tier</th><th scope="col">Requester</th><th scope="col">Age</th></tr></thead>
        <tbody>
          ${plans.map(row)}
          ${!loading && plans.length === 0 ? html`<tr><td colspan="7" class="muted">No changes match.</td></tr>` : nothing}
        </tbody>
      </table>
      <p class="pager">
        ${loading ? html`<span role="status">Loading…</span>` : nothing}
        ${!loading && cursor ? html`<button type="button" @click=${() => void loadPage(false)}>Load more</button>` : nothing}
      </p>`,
  };
};
