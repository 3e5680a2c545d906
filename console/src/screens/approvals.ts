/**
 * The approvals inbox: every plan waiting for an approval, oldest first, with the time left before
 * its request expires. What the signed-in person may answer comes first; their own requests and
 * those they already answered are listed apart, with why. Live: a plan that moves re-reads the list.
 */
import { html, nothing, type TemplateResult } from "lit-html";
import { type Plan, type Problem, toProblem, unwrap } from "../api/client";
import { debounce } from "../api/fresh";
import { approvalsOf, currentApproval, policyOf } from "../api/views";
import { href } from "../router";
import { actorName, attempt, countdown, problemView, type ScreenFactory, timeView } from "../ui";

export const approvalsScreen: ScreenFactory = (context) => {
  const { api, auth, live } = context;
  let plans: Plan[] = [];
  let loading = true;
  let problem: Problem | null = null;
  let now = Date.now();

  async function load() {
    const all: Plan[] = [];
    let cursor: string | null = null;
    let pages = 0;
    const ok = await attempt(
      async () => {
        do {
          const page = await unwrap(
            api.GET("/v1/plans", {
              params: { query: { status: "pending_approval", limit: "200", ...(cursor ? { cursor } : {}) } },
            }),
          );
          all.push(...page.items);
          cursor = page.next_cursor;
          pages += 1;
        } while (cursor && pages < 5);
        return true;
      },
      (p) => {
        problem = p;
      },
      toProblem,
    );
    if (ok) plans = all.sort((a, b) => waitingSince(a).localeCompare(waitingSince(b)));
    loading = false;
    context.rerender();
  }

  const reload = debounce(() => void load(), 300);
  live.subscribe({ topics: ["plan.updated"], onEvent: reload, onResync: reload });
  void load();
  const clock = setInterval(() => {
    now = Date.now();
    context.rerender();
  }, 1000);

  const waitingSince = (p: Plan) => currentApproval(p)?.requestedAt || policyOf(p)?.decidedAt || p.created_at;
  const expiresAt = (p: Plan) => currentApproval(p)?.expiresAt ?? policyOf(p)?.expiresAt ?? null;
  const whyNot = (p: Plan): string | null => {
    const me = auth.user?.id;
    if ((p.requested_by?.id ?? p.actor_id) === me && !policyOf(p)?.requirement?.selfApproval) return "your own request";
    if (approvalsOf(p).some((a) => a.revision === p.revision && a.approvers.some((x) => x.approver === me))) {
      return "you answered";
    }
    return null;
  };

  const table = (rows: Plan[], caption: string, withWhy: boolean): TemplateResult => html`<table class="list">
    <caption>${caption}</caption>
    <colgroup><col class="w-change" /><col class="w-tier" /><col /><col /><col class="w-age" /><col class="w-countdown" /></colgroup>
    <thead><tr><th scope="col">Change</th><th scope="col">Tier</th><th scope="col">Requester</th><th scope="col">Needs</th><th scope="col">Waiting since</th><th scope="col">Expires</th></tr></thead>
    <tbody>
      ${rows.map(
        (p) => html`<tr>
          <td class="col-change">
            <a href=${href(`/changes/${encodeURIComponent(p.plan_id)}`)}>${p.summary ?? p.intent ?? p.plan_id}</a>
            <div class="muted small"><span class="mono">${p.plan_id}</span> · ${p.environment ?? "—"} · ${p.service ?? "—"}${withWhy ? ` · ${whyNot(p)}` : ""}</div>
          </td>
          <td>${p.tier ?? "—"}</td>
          <td>${p.requested_by ? actorName(p.requested_by) : (p.actor_id ?? "—")}</td>
          <td>${Math.max(0, p.approvals_required - p.approvals_granted)} more</td>
          <td>${timeView(waitingSince(p), now)}</td>
          <td class="countdown">${countdown(expiresAt(p), now)}</td>
        </tr>`,
      )}
      ${rows.length === 0 ? html`<tr><td colspan="6" class="muted">${loading ? "Loading…" : "Nothing here."}</td></tr>` : nothing}
    </tbody>
  </table>`;

  return {
    title: "Approvals",
    dispose() {
      clearInterval(clock);
      reload.cancel();
    },
    view: () => {
      const mine = plans.filter((p) => whyNot(p) === null);
      const others = plans.filter((p) => whyNot(p) !== null);
      return html`<h1 tabindex="-1">Approvals</h1>
        <p>Plans waiting for an approval, oldest first.</p>
        ${problemView(problem)}
        ${table(mine, "Waiting for you", false)}
        ${table(others, "Waiting for others", true)}`;
    },
  };
};
