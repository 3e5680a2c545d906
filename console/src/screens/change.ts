/**
 * One change on one page: the request and who asked, the plan's revisions with their diff preview,
 * policy's decision, the approvals (who, when, channel, digest; who else may approve and how many
 * are still needed) with Approve/Deny, Execute and dry run, the execution timeline with the tool
 * output live over SSE, Cancel, and Pass/Fail on a verification paused for a verdict, the context
 * snapshot, the evidence, and the plan "as of" any moment.
 * Live over the WebSocket: the page reads again when an event of this plan or its executions lands.
 */
import { html, nothing, type TemplateResult } from "lit-html";
import {
  type Execution,
  type ExecutionMeasurements,
  type Explanation,
  type Plan,
  type PlanAsOf,
  type Problem,
  toProblem,
  unwrap,
} from "../api/client";
import { debounce } from "../api/fresh";
import { approvalsOf, policyOf, stepsOf } from "../api/views";
import { type DecisionDraft, decisionForm, newDraft } from "../decision-form";
import { followLogs, type LogChunk, type LogFollower } from "../logs";
import { href, navigate } from "../router";
import {
  actorName,
  attempt,
  countdown,
  fromLocalInput,
  hasRole,
  problemView,
  type ScreenFactory,
  statusBadge,
  timeView,
  toLocalInput,
} from "../ui";
import { contextView, evidenceList, executionView, policyView, revisionsView, timelineView } from "./change-views";
import { measurementsView } from "./measurements";
import { pausedCheckOf, verdictPanel } from "./verdict";

type Story = Explanation["executions"][number];

const FINAL = new Set(["succeeded", "failed", "cancelled", "rolled_back", "verification_failed"]);
/**
 * While an execution may still be stopped (a pause for a verdict included: the cancel ends the wait);
 * once it rolls back or ends, there is nothing to cancel.
 */
const CANCELLABLE = new Set(["requested", "running", "paused"]);

export const changeScreen: ScreenFactory = (context, route) => {
  const { api, auth, live } = context;
  const planId = route.id ?? "";
  const at = route.query.get("at");
  let plan: Plan | null = null;
  let asOf: PlanAsOf | null = null;
  let explanation: Explanation | null = null;
  let executions: Execution[] = [];
  let measurements = new Map<string, ExecutionMeasurements>();
  let problem: Problem | null = null;
  let actionProblem: Problem | null = null;
  let busy: string | null = null;
  let notice: string | null = null;
  /** The execution whose cancellation is being confirmed (its reason asked for). */
  let cancelling: string | null = null;
  /** Cancellations this page asked for, with their reason, until the execution ends. */
  const cancelRequested = new Map<string, string>();
  /** The approval's comment as typed, and the API's answer to the last attempt. */
  const approvalDraft = newDraft();
  /** Per execution paused for a verdict: the reason as typed, and the API's answer to the last attempt. */
  const verdictDrafts = new Map<string, DecisionDraft>();
  let now = Date.now();
  const chunks = new Map<string, LogChunk[]>();
  const followers = new Map<string, LogFollower>();
  const seen = new Map<string, Set<number>>();

  const path = { params: { path: { id: planId } } };

  async function load() {
    const result = await attempt(
      async () => {
        const [p, x, e] = await Promise.all([
          unwrap(api.GET("/v1/plans/{id}", path)),
          unwrap(api.GET("/v1/plans/{id}/explain", path)),
          unwrap(api.GET("/v1/executions", { params: { query: { plan_id: planId, limit: "50" } } })),
        ]);
        const [a, m] = await Promise.all([
          at ? unwrap(api.GET("/v1/plans/{id}/as-of", { params: { path: { id: planId }, query: { at } } })) : null,
          // Verification measurements of every run (a dry run measures nothing: an empty list).
          Promise.all(
            e.items
              .filter((run) => !run.dry_run)
              .map((run) =>
                unwrap(api.GET("/v1/executions/{id}/measurements", { params: { path: { id: run.execution_id } } })),
              ),
          ),
        ]);
        return { p, x, e, a, m };
      },
      (p) => {
        problem = p;
      },
      toProblem,
    );
    if (result) {
      plan = result.p;
      explanation = result.x;
      executions = result.e.items;
      asOf = result.a;
      measurements = new Map(result.m.map((m) => [m.execution_id, m]));
      followRunning();
    }
    context.rerender();
  }

  /** Follows the output of every execution not yet finished; stops following finished ones. */
  function followRunning() {
    for (const e of executions) {
      const running = !FINAL.has(e.status);
      const follower = followers.get(e.execution_id);
      if (running && !follower && !at) {
        followers.set(
          e.execution_id,
          followLogs(
            e.execution_id,
            () => auth.token(),
            (chunk, streamSeq) => {
              const ids = seen.get(e.execution_id) ?? new Set<number>();
              seen.set(e.execution_id, ids);
              if (streamSeq !== null && ids.has(streamSeq)) return;
              if (streamSeq !== null) ids.add(streamSeq);
              chunks.set(e.execution_id, [...(chunks.get(e.execution_id) ?? []), chunk]);
              context.rerender();
            },
            (message) => {
              notice = message;
              context.rerender();
            },
          ),
        );
      } else if (!running && follower) {
        followers.delete(e.execution_id);
        // The last chunks may still be on their way when the outcome is read.
        setTimeout(() => follower.stop(), 2_000);
      }
    }
  }

  const reload = debounce(() => void load(), 250);
  const executionIds = () => new Set(executions.map((e) => e.execution_id));
  if (!at) {
    live.subscribe({
      topics: ["plan.updated", "execution.updated"],
      onEvent: ({ event }) => {
        const payload = (event.payload ?? {}) as { plan_id?: unknown };
        const mine =
          (event.aggregate_type === "plan" && event.aggregate_id === planId) ||
          payload.plan_id === planId ||
          (event.aggregate_type === "execution" && executionIds().has(event.aggregate_id));
        if (mine) reload();
      },
      onResync: reload,
    });
  }
  void load();
  const clock = setInterval(() => {
    now = Date.now();
    context.rerender();
  }, 1000);

  /**
   * Runs a command; resolves to whether the API accepted it. Its problem goes to `onProblem` (by
   * default the Execution section's).
   */
  async function command(
    name: string,
    work: () => Promise<unknown>,
    onProblem: (problem: Problem | null) => void = (p) => {
      actionProblem = p;
    },
  ): Promise<boolean> {
    busy = name;
    notice = null;
    context.rerender();
    const done = await attempt(work, onProblem, toProblem);
    busy = null;
    if (done !== null) notice = `${name} accepted`;
    await load();
    return done !== null;
  }

  /** A decision form's command: resolves to the API's problem, or null when it was accepted. */
  async function decide(name: string, work: () => Promise<unknown>): Promise<Problem | null> {
    let refused: Problem | null = null;
    await command(name, work, (p) => {
      refused = p;
    });
    return refused;
  }

  function answer(decision: "grant" | "deny", comment: string | null): Promise<Problem | null> {
    const current = plan;
    if (!current?.digest || current.revision === null) return Promise.resolve(null);
    return decide(decision === "grant" ? "Approval" : "Denial", () =>
      unwrap(
        api.POST("/v1/approvals", {
          params: { header: { "Idempotency-Key": crypto.randomUUID(), "If-Match": `"${current.version}"` } },
          body: {
            plan_id: current.plan_id,
            revision: current.revision as number,
            decision,
            digest: current.digest as string,
            channel: "console",
            ...(comment ? { comment } : {}),
          },
        }),
      ),
    );
  }

  function giveVerdict(executionId: string, decision: "pass" | "fail", reason: string): Promise<Problem | null> {
    return decide("Verdict", () =>
      unwrap(
        api.POST("/v1/executions/{id}:verdict", {
          params: { path: { id: executionId }, header: { "Idempotency-Key": crypto.randomUUID() } },
          body: { decision, reason },
        }),
      ),
    );
  }

  function execute(dryRun: boolean) {
    const current = plan;
    if (!current?.digest || current.revision === null) return;
    void command(dryRun ? "Dry run" : "Execution", () =>
      unwrap(
        api.POST("/v1/plans/{id}:execute", {
          params: {
            path: { id: current.plan_id },
            header: { "Idempotency-Key": crypto.randomUUID(), "If-Match": `"${current.version}"` },
          },
          body: {
            revision: current.revision as number,
            digest: current.digest as string,
            ...(dryRun ? { dry_run: true } : {}),
          },
        }),
      ),
    );
  }

  function cancel(event: SubmitEvent, executionId: string) {
    event.preventDefault();
    const reason = String(new FormData(event.target as HTMLFormElement).get("reason") ?? "").trim();
    if (!reason) return;
    cancelling = null;
    void command("Cancellation", () =>
      unwrap(
        api.POST("/v1/executions/{id}:cancel", {
          params: { path: { id: executionId }, header: { "Idempotency-Key": crypto.randomUUID() } },
          body: { reason },
        }),
      ),
    ).then((accepted) => {
      if (!accepted) return;
      cancelRequested.set(executionId, reason);
      context.rerender();
    });
  }

  /**
   * Whether the signed-in person may cancel `execution` or give the verdict on its pause, as the
   * two routes decide: an operator who asked for it or for its plan, or an admin.
   */
  function mayStopOrJudge(execution: Execution): boolean {
    const me = context.me;
    if (!me) return false;
    if (hasRole(me, "admin")) return true;
    const requesters = [execution.actor_id, plan?.requested_by?.id ?? plan?.actor_id];
    return hasRole(me, "operator") && requesters.includes(me.id);
  }

  /**
   * Cancel, while an execution runs and for whom may cancel it: a first click asks why, and the
   * reason goes into the audit trail with the request.
   */
  function cancelView(executionId: string): TemplateResult | typeof nothing {
    const execution = executions.find((e) => e.execution_id === executionId);
    if (at || !execution || !CANCELLABLE.has(execution.status) || !mayStopOrJudge(execution)) return nothing;
    const requested = cancelRequested.get(executionId);
    if (requested !== undefined) {
      return html`<p class="banner cancel-requested" role="status">
        Cancellation requested (${requested}): the execution stops before its next step or measurement, and what
        has run stays as it is (no rollback).
      </p>`;
    }
    const id = `cancel-reason-${executionId}`;
    if (cancelling !== executionId) {
      return html`<div class="actions">
        <button class="danger" type="button" ?disabled=${busy !== null} @click=${() => {
          cancelling = executionId;
          context.rerender();
          requestAnimationFrame(() => document.getElementById(id)?.focus());
        }}>Cancel execution…</button>
      </div>`;
    }
    return html`<form class="cancel-form" aria-label="Confirm the cancellation" @submit=${(e: SubmitEvent) => cancel(e, executionId)}>
      <p><strong>Stop this execution?</strong> It stops before its next step, without rolling back what has run.</p>
      <label for=${id}>Why? (recorded with the request in the audit trail)</label>
      <textarea id=${id} name="reason" rows="2" required maxlength="2000"></textarea>
      <div class="actions">
        <button class="danger" type="submit" ?disabled=${busy !== null}>Confirm cancellation</button>
        <button type="button" @click=${() => {
          cancelling = null;
          context.rerender();
        }}>Keep running</button>
      </div>
    </form>`;
  }

  /** Why the signed-in person cannot answer this plan now; null when they can. */
  function approveBlocked(p: Plan): string | null {
    const me = auth.user?.id;
    const requirement = policyOf(p)?.requirement ?? null;
    if (p.status !== "pending_approval")
      return `This plan is ${p.status.replaceAll("_", " ")}: there is nothing to approve.`;
    if (!p.digest) return "This revision has no valid digest: request the change again.";
    if (me && (p.requested_by?.id ?? p.actor_id) === me && !requirement?.selfApproval) {
      return "You requested this plan, and policy does not allow approving your own plan: another approver must.";
    }
    const answered = approvalsOf(p).some(
      (a) => a.revision === p.revision && a.approvers.some((x) => x.approver === me),
    );
    if (answered) return "You already answered this revision.";
    if (requirement && !requirement.channels.includes("console")) {
      return `Policy takes approvals of a ${p.tier} plan only from ${requirement.channels.join(", ")}.`;
    }
    return null;
  }

  function executeBlocked(p: Plan): string | null {
    if (p.status === "pending_approval")
      return `Waiting for approval: ${Math.max(0, p.approvals_required - p.approvals_granted)} more needed.`;
    if (p.status !== "approved") return `A ${p.status.replaceAll("_", " ")} plan cannot run.`;
    if (executions.some((e) => e.revision === p.revision && !e.dry_run))
      return `Revision ${p.revision} has been executed.`;
    return null;
  }

  function approvalsView(p: Plan): TemplateResult {
    const policy = policyOf(p);
    const requirement = policy?.requirement;
    const approvals = approvalsOf(p).filter((a) => a.revision === p.revision);
    const needed = Math.max(0, p.approvals_required - p.approvals_granted);
    const expires = approvals.find((a) => a.status === "pending")?.expiresAt ?? policy?.expiresAt ?? null;
    const blocked = approveBlocked(p);
    if (p.decision !== "require_approval" && approvals.length === 0) {
      return html`<p>
        ${p.decision === "allow" ? "Policy allows this plan without approval." : p.decision === "deny" ? "Policy refused this plan: it cannot be approved." : "Policy has not decided yet."}
      </p>`;
    }
    const requester = p.requested_by?.id ?? p.actor_id;
    return html`<p>
        <strong>${p.approvals_granted}</strong> of <strong>${p.approvals_required}</strong> approvals ·
        <strong class="needed">${needed}</strong> still needed
        ${p.status === "pending_approval" ? html` · <span class="countdown">${countdown(expires, now)}</span>` : nothing}
      </p>
      ${
        requirement
          ? html`<p class="small">
            Who may approve: ${
              requirement.groups.length
                ? requirement.groups.map((g, i) => html`${i ? ", " : ""}${g.count} from <strong>${g.group}</strong>`)
                : html`any ${requirement.approvers === 1 ? "approver" : `${requirement.approvers} approvers`}`
            }
            with the approver role${requirement.selfApproval ? "" : html`, not the requester (${requester ?? "?"})`}; through
            ${requirement.channels.join(", ")}.
          </p>`
          : nothing
      }
      ${approvals.flatMap((a) => Object.entries(a.links)).map(([name, url]) => html`<p class="small">Also open in <a href=${url} rel="noreferrer">${name}</a>.</p>`)}
      <table class="list compact">
        <caption class="visually-hidden">Answers to revision ${p.revision}</caption>
        <thead><tr><th scope="col">Who</th><th scope="col">When</th><th scope="col">Channel</th><th scope="col">Digest</th><th scope="col">Comment</th></tr></thead>
        <tbody>
          ${approvals.flatMap((a) =>
            a.approvers.map(
              (x) =>
                html`<tr><td>${x.approver}${x.breakGlass ? html` <span class="badge badge-warn">break-glass</span>` : nothing}</td><td>${timeView(x.at, now)}</td><td>${x.via}</td><td class="mono">${x.digest ? `${x.digest.slice(0, 12)}…` : "—"}</td><td>${x.comment ?? ""}</td></tr>`,
            ),
          )}
          ${approvals.some((a) => a.status === "denied") ? html`<tr><td colspan="5">${statusBadge("denied")} ${approvals.find((a) => a.status === "denied")?.reason ?? ""}</td></tr>` : nothing}
          ${approvals.every((a) => a.approvers.length === 0) ? html`<tr><td colspan="5" class="muted">No answers yet.</td></tr>` : nothing}
        </tbody>
      </table>
      ${
        at
          ? nothing
          : decisionForm({
              fieldId: "approval-comment",
              whyId: "approve-why",
              label: "Comment (optional)",
              required: false,
              why: "what you checked",
              choices: [
                { decision: "grant", label: "Approve", tone: "primary" },
                { decision: "deny", label: "Deny", tone: "danger" },
              ],
              blocked,
              ready: `You may answer revision ${p.revision} (digest ${p.digest?.slice(0, 12)}…).`,
              busy: busy !== null,
              draft: approvalDraft,
              rerender: context.rerender,
              submit: answer,
            })
      }`;
  }

  /**
   * The "needs your verdict" panel of an execution paused for a verdict: the check that stayed
   * inconclusive and its measurements, with Pass and Fail and a required reason for whoever may
   * give it (the others see why they cannot).
   */
  function verdictView(story: Story): TemplateResult | typeof nothing {
    const execution = executions.find((e) => e.execution_id === story.execution_id);
    if (at || !execution) return nothing;
    const paused = pausedCheckOf(story, execution.status, measurements.get(story.execution_id));
    if (!paused) {
      verdictDrafts.delete(story.execution_id);
      return nothing;
    }
    if (paused.kind === "given") return verdictPanel(story.execution_id, paused, nothing, now);
    const draft = verdictDrafts.get(story.execution_id) ?? newDraft();
    verdictDrafts.set(story.execution_id, draft);
    const requesters = [...new Set([execution.actor_id, plan?.requested_by?.id ?? plan?.actor_id])].filter(Boolean);
    const form = decisionForm({
      fieldId: `verdict-reason-${story.execution_id}`,
      whyId: `verdict-why-${story.execution_id}`,
      label: "Why? (required; recorded with the verdict in the audit trail)",
      required: true,
      why: "why the analysis passes or fails",
      choices: [
        { decision: "pass", label: "Pass", tone: "primary" },
        { decision: "fail", label: "Fail", tone: "danger" },
      ],
      blocked: mayStopOrJudge(execution)
        ? null
        : `Only whoever requested this execution or its plan (${requesters.join(", ") || "?"}), or an admin, may give the verdict.`,
      ready: "Your verdict and its reason are recorded in the audit trail, and verification goes on with them.",
      busy: busy !== null,
      draft,
      rerender: context.rerender,
      submit: (decision, reason) => giveVerdict(story.execution_id, decision, reason ?? ""),
    });
    return verdictPanel(story.execution_id, paused, form, now);
  }

  function executeView(p: Plan): TemplateResult | typeof nothing {
    if (at) return nothing;
    const blocked = executeBlocked(p);
    return html`<div class="actions">
        <button class="primary" type="button" ?disabled=${blocked !== null || busy !== null} aria-describedby="execute-why" @click=${() => execute(false)}>Execute</button>
        <button type="button" ?disabled=${blocked !== null || busy !== null} aria-describedby="execute-why" @click=${() => execute(true)}>Dry run</button>
      </div>
      <p id="execute-why" class="why">${blocked ?? `Runs revision ${p.revision} as approved (digest ${p.digest?.slice(0, 12)}…).`}</p>`;
  }

  function asOfForm(): TemplateResult {
    return html`<form class="as-of" aria-label="Time travel" @submit=${(event: SubmitEvent) => {
      event.preventDefault();
      const value = (event.target as HTMLFormElement).elements.namedItem("at") as HTMLInputElement;
      navigate(`/changes/${encodeURIComponent(planId)}`, { at: fromLocalInput(value.value) });
    }}>
      <label>As of <input type="datetime-local" name="at" step="1" .value=${toLocalInput(at)} /></label>
      <button type="submit">Show</button>
      ${at ? html`<a href=${href(`/changes/${encodeURIComponent(planId)}`)}>Back to now</a>` : nothing}
    </form>`;
  }

  function view(): TemplateResult {
    const current = asOf?.state ?? plan;
    if (!current || !explanation) {
      return html`<h1 tabindex="-1">Change <span class="mono">${planId}</span></h1>${problemView(problem)}${problem ? nothing : html`<p role="status">Loading…</p>`}`;
    }
    const x = explanation;
    const statusOf = (id: string) => executions.find((e) => e.execution_id === id)?.status ?? "requested";
    return html`<h1 tabindex="-1">${current.summary ?? current.intent ?? planId}</h1>
      <p class="meta">
        <span class="mono">${planId}</span> <span class="plan-status">${statusBadge(current.status)}</span>
        ${current.tier ? html`<span class="badge badge-info">${current.tier}</span>` : nothing}
        ${current.environment ?? ""} ${current.service ? html`· ${current.service}` : nothing}
      </p>
      ${asOfForm()}
      ${asOf ? html`<p class="banner" role="status">As of ${new Date(asOf.as_of).toLocaleString()}: ${asOf.events} events folded (stream position ${asOf.last_seq}). Actions and live updates are off.</p>` : nothing}
      ${problemView(problem)}
      <section aria-labelledby="h-request"><h2 id="h-request">Request</h2>
        <blockquote class="intent">${current.intent ?? "—"}</blockquote>
        <p class="small">Asked by <strong>${current.requested_by ? actorName(current.requested_by) : (current.actor_id ?? "—")}</strong> ${timeView(current.created_at, now)} through ${current.source ?? "—"}.</p>
      </section>
      <section aria-labelledby="h-plan"><h2 id="h-plan">Plan</h2>${revisionsView(x, current.revision, stepsOf(current))}</section>
      <section aria-labelledby="h-policy"><h2 id="h-policy">Policy decision</h2>${policyView(x)}</section>
      <section aria-labelledby="h-approvals"><h2 id="h-approvals">Approvals</h2>${approvalsView(current)}</section>
      <section aria-labelledby="h-execution"><h2 id="h-execution">Execution</h2>
        ${executeView(current)}
        ${problemView(actionProblem)}
        <p class="notice" role="status">${notice ?? ""}</p>
        ${
          x.executions.length
            ? [...x.executions].reverse().map((e) =>
                executionView(e, chunks.get(e.execution_id) ?? [], statusOf(e.execution_id), {
                  actions: html`${verdictView(e)}${cancelView(e.execution_id)}`,
                  measurements: at ? nothing : measurementsView(measurements.get(e.execution_id)),
                }),
              )
            : html`<p class="muted">Not executed yet.</p>`
        }
      </section>
      <section aria-labelledby="h-context"><h2 id="h-context">Context snapshot</h2>${contextView(x)}</section>
      <section aria-labelledby="h-evidence"><h2 id="h-evidence">Evidence</h2>${evidenceList(x)}</section>
      <section aria-labelledby="h-timeline"><h2 id="h-timeline">Timeline</h2>${timelineView(x, at)}</section>`;
  }

  return {
    title: `Change ${planId}`,
    view,
    dispose() {
      clearInterval(clock);
      reload.cancel();
      for (const follower of followers.values()) follower.stop();
      followers.clear();
    },
  };
};
