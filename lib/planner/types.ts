/**
 * Planner shapes: what a plan request carries in, what a plan is, and the
 * infrastructure context the planner reads. The plan and step shapes are the
 * event payloads' (events/plan.ts): planner, policy and orchestrator share them.
 */
import type * as v from "valibot";
import type { PlannerInfoSchema, PlanSourceSchema, PlanStep } from "../../events/plan.ts";
import type { SignalReceivedSchema } from "../../events/signal.ts";
import { ValidationError } from "../errors/index.ts";
import type { ContextSnapshot } from "./snapshot.ts";

export type { PlanStep } from "../../events/plan.ts";
export type PlanSource = v.InferOutput<typeof PlanSourceSchema>;
export type PlannerInfo = v.InferOutput<typeof PlannerInfoSchema>;
export type AlertSignal = v.InferOutput<typeof SignalReceivedSchema>;

/** A typed plan of catalog tool calls. */
export interface Plan {
  readonly plan_id: string;
  readonly revision: number;
  readonly intent: string;
  readonly source: PlanSource;
  readonly planner: PlannerInfo;
  readonly summary: string;
  readonly steps: readonly PlanStep[];
}

/** What the context read model knows about one service in one environment. */
export interface ServiceContext {
  readonly name: string;
  readonly environment: string;
  readonly namespace?: string | undefined;
  readonly cluster?: string | undefined;
  readonly account?: string | undefined;
  /** Workload kind and name when they differ from `deployment/<name>`. */
  readonly kind?: "deployment" | "statefulset" | "daemonset" | undefined;
  readonly workload?: string | undefined;
  /** Desired replicas now (the workloads' spec), and how many are ready. */
  readonly replicas?: number | undefined;
  readonly ready_replicas?: number | undefined;
  /** Container images the workloads run now. */
  readonly images?: readonly string[] | undefined;
  /** The HorizontalPodAutoscaler that scales the workload, with its bounds. */
  readonly hpa?: { readonly name?: string; readonly min_replicas?: number; readonly max_replicas?: number } | undefined;
  /**
   * The Helm release that deploys it. `chart` is a chart reference `helm upgrade` can install from;
   * `chart_name` and `version` are what the release runs now.
   */
  readonly helm?:
    | {
        readonly release?: string;
        readonly chart?: string;
        readonly chart_name?: string;
        readonly revision?: number;
        readonly version?: string;
        readonly status?: string;
      }
    | undefined;
  readonly argocd?: { readonly app?: string; readonly revision?: string; readonly history_id?: number } | undefined;
  /** The GitOps repository a deploy "via PR" proposes to, and the file in it holding the version. */
  readonly gitops?: { readonly repo?: string; readonly base?: string; readonly path?: string } | undefined;
  readonly vault?: { readonly mount?: string; readonly path?: string; readonly version?: number } | undefined;
  /** What it depends on (service names, or node ids of cloud resources), and the services that depend on it. */
  readonly depends_on?: readonly string[] | undefined;
  readonly dependents?: readonly string[] | undefined;
}

/** Context for one plan: the service graph slice and recent events. Everything in it is untrusted data. */
export interface PlanningContext {
  /** Where it came from (read model revision, snapshot id), recorded with the plan. */
  readonly ref?: string | undefined;
  readonly services?: readonly ServiceContext[] | undefined;
  readonly recent_events?: readonly unknown[] | undefined;
  /** The graph as read (nodes, edges, digest): recorded with the plan, not shown to the model twice. */
  readonly snapshot?: ContextSnapshot | undefined;
  readonly [key: string]: unknown;
}

/** Text the planner may read (tool output, logs, alert details), shown to the model as untrusted data. */
export interface EvidenceText {
  readonly name: string;
  readonly text: string;
}

export interface PlanRequest {
  /** Defaults to a new UUIDv7. The service passes the `plan.requested` plan id. */
  readonly planId?: string | undefined;
  readonly revision?: number | undefined;
  readonly intent: string;
  readonly source: PlanSource;
  /** The environment and service the request is scoped to, when the caller knows them. */
  readonly environment?: string | undefined;
  readonly service?: string | undefined;
  /** A reference the `getContext` dependency resolves; or `context` directly. */
  readonly contextRef?: string | undefined;
  readonly context?: PlanningContext | null | undefined;
  readonly evidence?: readonly EvidenceText[] | undefined;
  /** The alert behind a `source: "alert"` request. */
  readonly signal?: AlertSignal | undefined;
  readonly abortSignal?: AbortSignal | undefined;
}

/** The prompt and answers of an LLM plan, redacted, for the evidence store. */
export interface PlanTranscript {
  readonly system: string;
  readonly messages: readonly { readonly role: "user" | "assistant"; readonly content: string }[];
  readonly responses: readonly {
    readonly provider: string;
    readonly model: string;
    readonly text: string;
    readonly attempts: readonly unknown[];
  }[];
  /** Count of redacted secrets by kind (never the secrets). */
  readonly redactions: Readonly<Record<string, number>>;
}

export interface PlanResult {
  readonly plan: Plan;
  /** Present when an LLM was asked (even when the template planner answered in the end). */
  readonly transcript?: PlanTranscript | undefined;
  /** Why the template planner answered instead of the configured LLM. */
  readonly fallbackReason?: string | undefined;
  /** The context snapshot the plan was made from, when the context came with one. */
  readonly context?: ContextSnapshot | undefined;
}

/** Planning failed: the model never produced a valid plan, or the intent was not understood. */
export class PlanningFailedError extends ValidationError {
  readonly reasons: readonly string[];
  readonly planner: PlannerInfo;
  readonly transcript: PlanTranscript | undefined;
  constructor(reasons: readonly string[], planner: PlannerInfo, transcript?: PlanTranscript, fix?: string) {
    super(`planning failed: ${reasons.join("; ")}`, { field: "intent", fix });
    this.name = "PlanningFailedError";
    this.reasons = reasons;
    this.planner = planner;
    this.transcript = transcript;
  }
}
