/**
 * Command handlers: validate, fold the aggregate, ask the decider, append,
 * answer 202 once JetStream has acknowledged. With `Prefer: wait=N` (or
 * `?wait=N`) the answer is held until the projector has caught up with the
 * append, so the caller's next read sees its own write.
 */
import { createHash } from "node:crypto";
import { v5 as uuidv5, v7 as uuidv7 } from "uuid";
import type { Actor, AggregateType, ApprovalChannel } from "../../events/index.ts";
import { decide, envelopeDrafts, executionIdOf, type PlanCommand, planDecider } from "../../lib/domain/index.ts";
import { ConflictError, ForbiddenError, UnauthenticatedError } from "../../lib/errors/index.ts";
import { type AppendOutcome, type EventStore, handleCommand } from "../../lib/eventstore/index.ts";
import {
  type Accepted,
  ApprovalRequestSchema,
  CommandQuerySchema,
  CreatePlanRequestSchema,
  ExecutePlanRequestSchema,
  PlanIdParamsSchema,
} from "../../schemas/api/index.ts";
import { type ApiRequest, type ApiResponse, parseInput } from "./api.ts";

/** Namespace for ids derived from idempotency keys (so a retry names the same plan). */
const ID_NAMESPACE = "6f1d8f0e-3a51-4c1e-9d2b-5b7f0c8e2a10";

export interface CommandDeps {
  readonly store: EventStore;
  readonly now: () => Date;
  /** Resolves true once the read models include `seq`, false at the deadline. */
  readonly waitForProjection: (
    seq: number,
    target: { kind: "plan" | "execution" | "signal"; id: string },
    timeoutMs: number,
  ) => Promise<boolean>;
  readonly maxWaitMs: number;
  /**
   * Redacts secrets from free text an operator typed (an intent, an approval
   * comment) before it is recorded: a pasted token must never reach the event stream, the
   * audit trail or the planner's prompt.
   */
  readonly scrub: (text: string) => string;
}

export function actorOf(request: ApiRequest): Actor {
  if (!request.actor) throw new UnauthenticatedError("this endpoint needs a signed-in caller");
  return request.actor;
}

/** The key the store deduplicates on: the client's Idempotency-Key scoped to the caller and the operation. */
export function scopedIdempotencyKey(request: ApiRequest, operation: string): string | undefined {
  const key = request.headers["idempotency-key"];
  if (key === undefined || key === "") return undefined;
  return createHash("sha256")
    .update(`${request.actor?.id ?? "anonymous"}\n${operation}\n${key}`)
    .digest("hex")
    .slice(0, 40);
}

/** Requested read-your-writes wait in ms: `Prefer: wait=N` or `?wait=N`, capped by config. */
export function requestedWaitMs(request: ApiRequest, maxWaitMs: number): number {
  const query = parseInput(CommandQuerySchema, request.query, "query");
  const prefer = request.headers.prefer;
  const fromHeader = prefer ? /(?:^|[\s,;])wait\s*=\s*(\d+)/i.exec(prefer)?.[1] : undefined;
  const seconds = query.wait ?? (fromHeader === undefined ? 0 : Number(fromHeader));
  return Math.min(seconds * 1000, maxWaitMs);
}

export function meta(request: ApiRequest, actor: Actor, now: Date) {
  const correlation = request.headers["x-correlation-id"];
  return {
    actor,
    correlation_id: correlation && /^[\w.:-]{1,128}$/.test(correlation) ? correlation : request.requestId,
    occurred_at: now.toISOString(),
  };
}

/** `If-Match: "<version>"` lets a client say which version of the plan it decided on. */
function expectedFromIfMatch(request: ApiRequest, current: number): void {
  const ifMatch = request.headers["if-match"];
  if (ifMatch === undefined) return;
  const wanted = Number(ifMatch.replace(/^W\//, "").replaceAll('"', ""));
  if (!Number.isInteger(wanted) || wanted !== current) {
    throw new ConflictError(`the plan changed: it is at version ${current}, not ${ifMatch}`, {
      field: "If-Match",
      fix: "read the plan again (GET /v1/plans/{id}), review it, and retry with its current version",
      extra: { current_version: current },
    });
  }
}

/** The command endpoints, each a module function of its dependencies and the request. */
export function createCommandHandlers(deps: CommandDeps) {
  return {
    /** POST /v1/plans */
    createPlan: (request: ApiRequest) => createPlan(deps, request),
    /** POST /v1/plans/{id}:execute */
    executePlan: (request: ApiRequest) => executePlan(deps, request),
    /** POST /v1/approvals */
    decideApproval: (request: ApiRequest) => decideApproval(deps, request),
  };
}

/**
 * On a resumed retry (the first request with this key never answered), what that request appended,
 * if it got that far. Only then: the first attempt of a command costs no extra read.
 */
export function earlierAppend(
  store: EventStore,
  request: ApiRequest,
  aggregateType: AggregateType,
  id: string,
  key: string | undefined,
) {
  return request.resumed && key !== undefined ? store.findAppend(aggregateType, id, key) : Promise.resolve(null);
}

/**
 * How a command on one execution answers (executing a plan, a person's request to a running execution):
 * `accept` turns an append into the 202 naming the execution; `earlier` is that answer for what the
 * first attempt of a resumed retry appended (then nothing is decided again), null otherwise.
 */
export async function executionAnswer(
  deps: CommandDeps,
  request: ApiRequest,
  executionId: string,
  idempotencyKey: string | undefined,
): Promise<{ accept: (result: AppendOutcome) => Promise<ApiResponse>; earlier: ApiResponse | null }> {
  const accept = (result: AppendOutcome) =>
    accepted(
      deps,
      request,
      result,
      { id: executionId, kind: "execution", location: `/v1/executions/${executionId}` },
      { kind: "execution", id: executionId },
    );
  const earlier = await earlierAppend(deps.store, request, "execution", executionId, idempotencyKey);
  return { accept, earlier: earlier ? await accept(earlier.result) : null };
}

/** 202 with the append's sequence; with a requested wait, held until the read models include it. */
export async function accepted(
  deps: CommandDeps,
  request: ApiRequest,
  result: AppendOutcome,
  body: Omit<Accepted, "seq" | "duplicate" | "projected" | "redacted">,
  target: { kind: "plan" | "execution"; id: string },
  extra: Pick<Accepted, "redacted"> = {},
): Promise<ApiResponse> {
  const seq = result.seqs[result.seqs.length - 1] ?? result.version;
  const waitMs = requestedWaitMs(request, deps.maxWaitMs);
  let projected: boolean | undefined;
  if (waitMs > 0) projected = await deps.waitForProjection(seq, target, waitMs);
  const headers: Record<string, string> = { location: body.location };
  if (projected) headers["preference-applied"] = `wait=${Math.ceil(waitMs / 1000)}`;
  return {
    status: 202,
    headers,
    body: {
      ...body,
      seq,
      duplicate: result.duplicate,
      ...(projected === undefined ? {} : { projected }),
      ...extra,
    },
  };
}

async function createPlan(deps: CommandDeps, request: ApiRequest): Promise<ApiResponse> {
  const actor = actorOf(request);
  const input = parseInput(CreatePlanRequestSchema, request.body, "body");
  const idempotencyKey = scopedIdempotencyKey(request, "create-plan");
  const planId = idempotencyKey ? uuidv5(idempotencyKey, ID_NAMESPACE) : uuidv7();
  const now = deps.now();
  const intent = deps.scrub(input.intent);
  const planAccepted = (result: AppendOutcome) =>
    accepted(
      deps,
      request,
      result,
      { id: planId, kind: "plan", location: `/v1/plans/${planId}` },
      { kind: "plan", id: planId },
      { redacted: intent !== input.intent },
    );
  const earlier = await earlierAppend(deps.store, request, "plan", planId, idempotencyKey);
  if (earlier) return planAccepted(earlier.result);
  const command: PlanCommand = {
    type: "RequestPlan",
    planId,
    intent,
    // A plan asked for in Slack (through ChatOps acting for the person) says so.
    source: request.channel === "slack" ? "slack" : "api",
    environment: input.environment,
    service: input.service,
    actor,
    now,
  };
  // A fresh id has no history: decide on the empty state and let the
  // append's expectedVersion "none" catch the (retry) case where it exists.
  const { appended } = await handleCommand(
    deps.store,
    planDecider,
    planId,
    (state) => envelopeDrafts(decide(command, state), planId, meta(request, actor, now)),
    { newAggregate: true, idempotencyKey },
  );
  return planAccepted(appended as AppendOutcome);
}

async function executePlan(deps: CommandDeps, request: ApiRequest): Promise<ApiResponse> {
  const actor = actorOf(request);
  const { id: planId } = parseInput(PlanIdParamsSchema, request.params, "params");
  const input = parseInput(ExecutePlanRequestSchema, request.body, "body");
  // One execution per plan revision (and one dry run of it): the id is derived, so a
  // retry or a second click finds the execution already there instead of starting two.
  // The dry run has its own id, or previewing a revision would use up its real run.
  const executionId = executionIdOf(planId, input.revision, input.dry_run === true);
  const idempotencyKey = scopedIdempotencyKey(request, `execute:${planId}`);
  const { accept, earlier } = await executionAnswer(deps, request, executionId, idempotencyKey);
  if (earlier) return earlier;
  const now = deps.now();
  const command: PlanCommand = {
    type: "RequestExecution",
    planId,
    revision: input.revision,
    executionId,
    digest: input.digest,
    dryRun: input.dry_run,
    actor,
    now,
  };
  let decided = false;
  let result: AppendOutcome;
  try {
    // Decided on the plan, recorded on the execution it starts: that one must not exist yet.
    const { appended } = await handleCommand(
      deps.store,
      planDecider,
      planId,
      (state, { version }) => {
        expectedFromIfMatch(request, version);
        const drafts = decide(command, state);
        decided = true;
        return envelopeDrafts(drafts, executionId, meta(request, actor, now));
      },
      { expectedVersion: "none", idempotencyKey },
    );
    result = appended as AppendOutcome;
  } catch (error) {
    // Only the append's refusal means the execution exists; the decider's own refusals pass as they are.
    if (decided && error instanceof ConflictError) {
      throw new ConflictError(`plan ${planId} revision ${input.revision} was already sent for execution`, {
        field: "revision",
        fix: `follow /v1/executions/${executionId}; to run again, request a new revision`,
        extra: { execution_id: executionId, location: `/v1/executions/${executionId}`, ...error.extra },
        cause: error,
      });
    }
    throw error;
  }
  return accept(result);
}

/**
 * The channel an approval is recorded with. A service acting for the person (ChatOps) fixes it: its
 * requests are Slack's whatever their body says, so chat cannot pass for the API where policy keeps a
 * tier out of chat. Slack and Linear answers only come through their services, never a direct call.
 */
function approvalChannel(request: ApiRequest, named: ApprovalChannel): ApprovalChannel {
  const sent = (request.body as { channel?: unknown } | null)?.channel;
  if (request.channel !== undefined) {
    if (sent !== undefined && sent !== request.channel) {
      throw new ForbiddenError(`a request made through ${request.channel} cannot answer as ${String(sent)}`, {
        field: "channel",
        fix: `leave channel out (it is ${request.channel}) or send "${request.channel}"`,
      });
    }
    return request.channel;
  }
  if (named === "slack" || named === "linear") {
    throw new ForbiddenError(`approvals from ${named} come through Wheelhouse's ${named} integration, not the API`, {
      field: "channel",
      fix: `answer in ${named === "slack" ? "Slack (the plan's message)" : "the plan's Linear issue"}, or send channel "api"`,
    });
  }
  return named;
}

async function decideApproval(deps: CommandDeps, request: ApiRequest): Promise<ApiResponse> {
  const actor = actorOf(request);
  const input = parseInput(ApprovalRequestSchema, request.body, "body");
  const idempotencyKey = scopedIdempotencyKey(request, `approval:${input.plan_id}`);
  const approvalAccepted = (result: AppendOutcome, approvalId: string) =>
    accepted(
      deps,
      request,
      result,
      { id: approvalId, kind: "approval", location: `/v1/plans/${input.plan_id}` },
      { kind: "plan", id: input.plan_id },
    );
  const earlier = await earlierAppend(deps.store, request, "plan", input.plan_id, idempotencyKey);
  if (earlier) {
    const recorded = earlier.events[0]?.payload as { approval_id?: string } | undefined;
    return approvalAccepted(earlier.result, recorded?.approval_id ?? "");
  }
  const now = deps.now();
  const channel = approvalChannel(request, input.channel);
  // Derived from the key when there is one: two attempts of one request name the same approval.
  const approvalId = idempotencyKey ? uuidv5(idempotencyKey, ID_NAMESPACE) : uuidv7();
  const base = {
    planId: input.plan_id,
    revision: input.revision,
    digest: input.digest,
    actor,
    channel,
    comment: input.comment === undefined ? undefined : deps.scrub(input.comment),
    approvalId,
    now,
  };
  const command: PlanCommand =
    input.decision === "grant"
      ? {
          type: "GrantApproval",
          ...base,
          breakGlass: input.break_glass === true ? { reason: deps.scrub(input.reason ?? "") } : undefined,
        }
      : { type: "DenyApproval", ...base, reason: base.comment ?? `denied via ${channel}` };
  // Guarded on the version we decided on: if anything was recorded on the
  // plan since (a new revision, another answer), the append is refused with 409.
  const { appended, events } = await handleCommand(
    deps.store,
    planDecider,
    input.plan_id,
    (state, { version }) => {
      expectedFromIfMatch(request, version);
      return envelopeDrafts(decide(command, state), input.plan_id, meta(request, actor, now));
    },
    { idempotencyKey },
  );
  const payload = events[0]?.payload as { approval_id?: string } | undefined;
  return approvalAccepted(appended as AppendOutcome, payload?.approval_id ?? approvalId);
}
