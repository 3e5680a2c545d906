/**
 * The policy's input document and the builder that derives it from a plan
 * step, its catalog action, the actor and the surrounding context. The shape
 * is documented for humans in policies/README.md; the Rego reads exactly these
 * fields.
 */
import type { Actor } from "../../events/envelope.ts";
import type { PlanStep } from "../../events/plan.ts";
import type { CatalogAction, RiskTier } from "../tools/index.ts";
import type { TimeZoneOffsets } from "./windows.ts";

export type { RiskTier } from "../tools/index.ts";

/** One approval already given for the step (from the approvals service). */
export interface PolicyApproval {
  readonly approver: string;
  /** RFC 3339 time the approval was given. */
  readonly at: string;
}

/** What the policy evaluates for one plan step. */
export interface PolicyInput {
  readonly actor: {
    readonly id: string;
    readonly kind: "user" | "service" | "system";
    readonly roles: readonly string[];
  };
  readonly action: {
    /** `<tool>.<action>`, e.g. `kubectl.scale`. */
    readonly id: string;
    readonly tool: string;
    readonly name: string;
    readonly kind: "read" | "write";
    readonly reversible: boolean;
    /** The catalog's default tier; data.json's action map takes precedence. */
    readonly risk: RiskTier;
    readonly in_catalog: boolean;
    /** Whether the tool has a dry-run form; `constraints.dry_run_first` is only set when it does. */
    readonly dry_run?: boolean;
  };
  readonly context: {
    /** Narrows (never widens) the rollout stage configured in data. */
    readonly stage?: number;
    readonly plan_id: string;
    readonly step_id?: string;
    readonly source: string;
    readonly approvals?: readonly PolicyApproval[];
  };
  readonly resources: {
    readonly environment: string;
    readonly namespace: string | null;
    readonly service: string | null;
    readonly account: string | null;
    readonly cluster: string | null;
    /** Target replica count, for scaling actions. */
    readonly replicas: number | null;
    /** Live replica count, for the step bound. */
    readonly current_replicas: number | null;
    /** The HorizontalPodAutoscaler scaling the target (service graph): a count outside its bounds is denied. */
    readonly hpa?: PolicyHpa | null;
    readonly names: readonly string[];
    /** True when the action addresses resources by pattern or selector rather than by name. */
    readonly wildcard: boolean;
  };
  readonly risk: {
    /** Raises the tier (never lowers it). */
    readonly tier?: RiskTier;
    /** How many services the change can affect (from the service graph). */
    readonly blast_radius: number;
  };
  /** RFC 3339 evaluation time; change windows are checked against it. */
  readonly time: string;
  /**
   * UTC offsets around `time` of each time zone the change windows name (not UTC). The policy
   * service adds the ones missing (`withTimeZones`), so callers leave this out unless they
   * replay a recorded input.
   */
  readonly time_zones?: TimeZoneOffsets;
}

/** An autoscaler's bounds as the service graph knows them. */
export interface PolicyHpa {
  readonly name?: string | undefined;
  readonly min_replicas?: number | undefined;
  readonly max_replicas?: number | undefined;
}

/** What the caller knows beyond the step itself. */
export interface PolicyInputContext {
  readonly plan_id: string;
  readonly source: string;
  readonly stage?: number | undefined;
  readonly approvals?: readonly PolicyApproval[] | undefined;
  /** Live replica count from the context service; preferred over the step input's `current_replicas`. */
  readonly current_replicas?: number | null | undefined;
  readonly blast_radius?: number | undefined;
  /** The target's autoscaler, from the context service. */
  readonly hpa?: PolicyHpa | null | undefined;
  readonly tier_override?: RiskTier | undefined;
  /** Evaluation time; defaults to now. */
  readonly now?: Date | undefined;
}

type ActorLike = Pick<Actor, "id" | "kind"> & { readonly roles?: readonly string[] | undefined };

// Input fields that address many resources at once.
const SELECTOR_FIELDS = ["label_selector", "selector", "field_selector"] as const;

/**
 * Derives the policy input for one plan step.
 *
 * `catalogAction` is null when the step names an action the catalog does not
 * have: the input then says `in_catalog: false` (which policy denies) and
 * assumes the worst (an irreversible T3 write). The target's namespace,
 * names and replicas are read from the step input through the catalog's
 * `resource` mapping, because that input is what will actually run; the
 * step's `target` fills in what the input does not say.
 */
export function buildPolicyInput(
  step: Pick<PlanStep, "step_id" | "action_id" | "input" | "target">,
  catalogAction: CatalogAction | null,
  actor: ActorLike,
  context: PolicyInputContext,
): PolicyInput {
  const [toolFromId = step.action_id, nameFromId = step.action_id] = step.action_id.split(".", 2);
  const mapping = catalogAction?.resource ?? {};
  const stepInput = step.input;
  const read = (key: string | undefined): unknown => (key === undefined ? undefined : stepInput[key]);

  const names = toNames(read(mapping.name));
  const bySelector = SELECTOR_FIELDS.some((field) => {
    const value = stepInput[field];
    return typeof value === "string" && value.trim() !== "";
  });
  const wildcard = names.some((name) => name.includes("*")) || stepInput.all === true || bySelector;

  const currentFromInput = read(mapping.current_replicas ?? "current_replicas");
  const currentReplicas =
    context.current_replicas !== undefined ? context.current_replicas : numberOrNull(currentFromInput);

  return {
    actor: { id: actor.id, kind: actor.kind, roles: [...(actor.roles ?? [])] },
    action: {
      id: step.action_id,
      tool: catalogAction?.tool ?? toolFromId,
      name: catalogAction?.action ?? nameFromId,
      kind: catalogAction?.kind ?? "write",
      reversible: catalogAction?.reversible ?? false,
      risk: catalogAction?.risk ?? "T3",
      in_catalog: catalogAction !== null,
      dry_run: catalogAction?.dry_run ?? false,
    },
    context: {
      ...(context.stage === undefined ? {} : { stage: context.stage }),
      plan_id: context.plan_id,
      step_id: step.step_id,
      source: context.source,
      ...(context.approvals === undefined ? {} : { approvals: context.approvals.map((a) => ({ ...a })) }),
    },
    resources: {
      environment: step.target.environment,
      namespace: stringOrNull(read(mapping.namespace)) ?? step.target.namespace ?? null,
      service: step.target.service ?? null,
      account: stringOrNull(read(mapping.account)) ?? step.target.account ?? null,
      cluster: stringOrNull(read(mapping.cluster)) ?? step.target.cluster ?? null,
      replicas: numberOrNull(read(mapping.replicas)),
      current_replicas: currentReplicas,
      ...(context.hpa ? { hpa: { ...context.hpa } } : {}),
      names,
      wildcard,
    },
    risk: {
      ...(context.tier_override === undefined ? {} : { tier: context.tier_override }),
      blast_radius: context.blast_radius ?? 1,
    },
    time: (context.now ?? new Date()).toISOString(),
  };
}

function toNames(value: unknown): string[] {
  if (typeof value === "string") return value === "" ? [] : [value];
  if (typeof value === "number") return [String(value)];
  if (Array.isArray(value)) return value.filter((v) => typeof v === "string" || typeof v === "number").map(String);
  return [];
}

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
