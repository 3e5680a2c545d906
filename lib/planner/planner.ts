/**
 * `createPlanner(deps).plan(request) → PlanResult`: intent (plus context and
 * evidence) in, a typed plan of catalog tool calls out, or a
 * `PlanningFailedError` with reasons.
 *
 * With an LLM configured: the prompt is assembled, redacted, and sent with the
 * catalog-generated answer schema; an invalid answer goes back once or twice
 * with the validation issues; when every provider fails, the template planner
 * answers if it understands the intent. Without an LLM: the template planner.
 */

import type { Logger } from "pino";
import { v7 as uuidv7 } from "uuid";
import { AllProvidersFailedError, type LLMRouter } from "../llm/router.ts";
import type { LLMMessage } from "../llm/types.ts";
import { createRedactor, type Redactor } from "../redact/index.ts";
import type { Catalog } from "../tools/index.ts";
import { checkDraft, repairMessage } from "./check.ts";
import { intentFromAlert, parseIntent } from "./intent.ts";
import { buildPrompt } from "./prompt.ts";
import { buildPlanSchema, PLAN_SCHEMA_NAME } from "./schema.ts";
import { buildTemplatePlan, TemplateError, type TemplateOptions } from "./template.ts";
import {
  type Plan,
  type PlannerInfo,
  type PlanningContext,
  PlanningFailedError,
  type PlanRequest,
  type PlanResult,
  type PlanTranscript,
} from "./types.ts";

export interface PlannerDeps {
  readonly catalog: Catalog;
  /** The LLM router; null or disabled means the template planner plans alone. */
  readonly llm?: LLMRouter | null | undefined;
  /** Reads context for a request that carries none (the context read model). */
  readonly getContext?: ((request: PlanRequest) => Promise<PlanningContext | null>) | undefined;
  /** Configured `llm.redact_patterns`, added to the default detectors. */
  readonly redactPatterns?: readonly string[] | undefined;
  /** Repairs after the first answer (default 2). */
  readonly maxRepairs?: number | undefined;
  /** Whether the template planner may answer when every provider fails (default true). */
  readonly templateFallback?: boolean | undefined;
  readonly template?: TemplateOptions | undefined;
  readonly logger?: Logger | undefined;
  readonly newId?: (() => string) | undefined;
}

export interface Planner {
  plan(request: PlanRequest): Promise<PlanResult>;
}

const TEMPLATE: PlannerInfo = { kind: "template" };

/**
 * The request as the context reader gets it: scoped to the environment and service the intent
 * names when the request itself does not say (a CLI plan carries the words alone), so that the
 * graph read, and recorded, is the slice the plan is about.
 */
function contextScope(request: PlanRequest): PlanRequest {
  if (request.environment !== undefined && request.service !== undefined) return request;
  const read =
    request.source === "alert" && request.signal
      ? intentFromAlert(request.signal)
      : ((parsed) => (parsed.ok ? parsed.intent : null))(
          parseIntent(request.intent, { environment: request.environment }),
        );
  if (!read) return request;
  return {
    ...request,
    environment: request.environment ?? (read.environment === "unknown" ? undefined : read.environment),
    service: request.service ?? read.service,
  };
}

export function createPlanner(deps: PlannerDeps): Planner {
  const { catalog } = deps;
  const schema = buildPlanSchema(catalog);
  const maxRepairs = deps.maxRepairs ?? 2;
  const newId = deps.newId ?? uuidv7;

  const templatePlan = (request: PlanRequest, context: PlanningContext | null, redactor: Redactor): Plan => {
    const fromAlert = request.source === "alert" && request.signal ? intentFromAlert(request.signal) : null;
    let intent = fromAlert;
    if (!intent) {
      const parsed = parseIntent(request.intent, { environment: request.environment });
      if (!parsed.ok) throw new PlanningFailedError([parsed.reason], TEMPLATE, undefined, parsed.reason);
      intent = parsed.intent;
    }
    if (request.environment && intent.environment !== request.environment && intent.environment !== "unknown") {
      const reason = `the intent names environment "${intent.environment}" but the request is scoped to "${request.environment}"`;
      throw new PlanningFailedError([reason], TEMPLATE);
    }
    let built: ReturnType<typeof buildTemplatePlan>;
    try {
      built = buildTemplatePlan(intent, context, deps.template);
    } catch (error) {
      if (error instanceof TemplateError)
        throw new PlanningFailedError([error.message], TEMPLATE, undefined, error.message);
      throw error;
    }
    // The template's own output must pass the same check as a model's: the catalog may have changed under it.
    const check = checkDraft(built, catalog);
    if (!check.ok) {
      throw new PlanningFailedError(
        check.issues.map((i) => `${i.field}: ${i.message}`),
        TEMPLATE,
      );
    }
    return finish(request, TEMPLATE, check.summary, check.steps, redactor);
  };

  const finish = (
    request: PlanRequest,
    planner: PlannerInfo,
    summary: string,
    steps: Plan["steps"],
    redactor: Redactor,
  ): Plan => ({
    plan_id: request.planId ?? newId(),
    revision: request.revision ?? 1,
    // The intent and plan are recorded in events: a secret the operator pasted must not land there.
    intent: redactor.redact(request.intent),
    source: request.source,
    planner,
    summary: redactor.redact(summary),
    steps: redactor.redactValue(steps),
  });

  return {
    async plan(request) {
      const redactor = createRedactor(deps.redactPatterns ?? []);
      const context =
        request.context !== undefined ? request.context : ((await deps.getContext?.(contextScope(request))) ?? null);
      // Every outcome names the graph it was made from, so policy and approvers judge the same state.
      const made = context?.snapshot ? { context: context.snapshot } : {};
      const llm = deps.llm;
      if (!llm?.enabled) return { plan: templatePlan(request, context, redactor), ...made };

      // Structured parts are redacted before they are serialized: key names are context
      // (`"password": ...`), and JSON escaping would hide a secret's boundaries.
      const safeRequest: PlanRequest = {
        ...request,
        intent: redactor.redact(request.intent),
        evidence: request.evidence?.map((e) => ({ name: e.name, text: redactor.redact(e.text) })),
        signal: request.signal ? redactor.redactValue(request.signal) : undefined,
      };
      const prompt = buildPrompt(catalog, safeRequest, context ? redactor.redactValue(context) : context);
      const system = redactor.redact(prompt.system);
      const messages: LLMMessage[] = [{ role: "user", content: redactor.redact(prompt.user) }];
      const responses: PlanTranscript["responses"][number][] = [];
      const transcript = (): PlanTranscript => ({
        system,
        messages: [...messages],
        responses: [...responses],
        redactions: redactor.stats(),
      });
      let lastIssues: string[] = [];
      let info: PlannerInfo = { kind: "llm" };

      for (let round = 0; round <= maxRepairs; round++) {
        let answer: Awaited<ReturnType<LLMRouter["complete"]>>;
        try {
          answer = await llm.complete({
            system,
            messages,
            schemaName: PLAN_SCHEMA_NAME,
            schemaDescription: "A plan of tool-catalog steps for the request.",
            schema,
            signal: request.abortSignal,
          });
        } catch (error) {
          if (!(error instanceof AllProvidersFailedError)) throw error;
          const reason = error.message;
          deps.logger?.warn({ plan_id: request.planId }, `LLM unavailable, trying the template planner: ${reason}`);
          if (deps.templateFallback === false) throw new PlanningFailedError([reason], info, transcript());
          try {
            return {
              plan: templatePlan(request, context, redactor),
              transcript: transcript(),
              fallbackReason: reason,
              ...made,
            };
          } catch (templateError) {
            const more = templateError instanceof PlanningFailedError ? templateError.reasons : [String(templateError)];
            throw new PlanningFailedError([reason, ...more], info, transcript());
          }
        }
        info = { kind: "llm", provider: answer.provider, model: answer.model };
        const answerText = redactor.redact(answer.text);
        responses.push({ provider: answer.provider, model: answer.model, text: answerText, attempts: answer.attempts });
        const check =
          answer.parseError === undefined
            ? checkDraft(answer.json, catalog, { environment: request.environment })
            : null;
        if (check?.ok) {
          return {
            plan: finish(request, info, check.summary, check.steps, redactor),
            transcript: transcript(),
            ...made,
          };
        }
        const issues = check && !check.ok ? check.issues : [];
        lastIssues =
          answer.parseError !== undefined
            ? [`the answer is not valid JSON: ${answer.parseError}`]
            : issues.map((i) => `${i.field}: ${i.message}`);
        deps.logger?.info(
          { plan_id: request.planId, round, issues: lastIssues.length },
          "model answer rejected; asking for a repair",
        );
        if (round === maxRepairs) break;
        messages.push({ role: "assistant", content: answerText.length > 0 ? answerText : "(empty answer)" });
        messages.push({ role: "user", content: repairMessage(issues, answer.parseError) });
      }
      throw new PlanningFailedError(
        [`the model's plan was still invalid after ${maxRepairs} repair(s)`, ...lastIssues.slice(0, 20)],
        info,
        transcript(),
        "rephrase the intent, or use a phrasing the template planner understands",
      );
    },
  };
}
