/**
 * The policy service: evaluates plan steps with the compiled Rego (OPA wasm),
 * fails closed, and swaps in a new bundle at run time without a gap.
 */
import { createHash } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname } from "node:path";
import { performance } from "node:perf_hooks";
import * as v from "valibot";
import { type ApprovalRequirement, ApprovalRequirementSchema, DecisionSchema, TierSchema } from "../../events/index.ts";
import { ValidationError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { bundleError, parseBundle } from "./bundle.ts";
import { combine, deny, legacyRequirement } from "./combine.ts";
import type { PolicyInput } from "./input.ts";
import { changeWindowIssues, changeWindowZones, withTimeZones } from "./windows.ts";

type OpaWasm = typeof import("@open-policy-agent/opa-wasm");
type LoadedPolicy = import("@open-policy-agent/opa-wasm").LoadedPolicy;
// The package's ESM entry exports only loadPolicy; its CommonJS entry has loadPolicySync too.
const { loadPolicy, loadPolicySync } = createRequire(import.meta.url)("@open-policy-agent/opa-wasm") as OpaWasm;

/** The Rego rule the bundle is built for (`opa build -e`). */
export const POLICY_ENTRYPOINT = "wheelhouse/authz/decision";

/** What the Rego must return; anything else is treated as a deny. */
export const PolicyOutputSchema = v.object({
  decision: DecisionSchema,
  tier: TierSchema,
  reasons: v.array(v.string()),
  approvers_required: v.pipe(v.number(), v.integer(), v.minValue(0)),
  constraints: v.record(v.string(), v.unknown()),
  ttl: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** Who must approve; a bundle built before policy returned it gets the equivalent of its other fields. */
  approval: v.optional(ApprovalRequirementSchema),
});

export type Decision = v.InferOutput<typeof DecisionSchema>;
export type Tier = v.InferOutput<typeof TierSchema>;

/** One step's decision. `ttl` is in seconds; `policy_revision` names the bundle (and overrides) that decided. */
export interface PolicyDecision extends v.InferOutput<typeof PolicyOutputSchema> {
  readonly approval: ApprovalRequirement;
  readonly policy_revision: string;
}

/** A plan's decision: the strictest of its steps (deny > require_approval > allow). */
export interface PlanDecision {
  readonly decision: Decision;
  /** Highest step tier. */
  readonly tier: Tier;
  /** Every step's reasons, prefixed with its step id. */
  readonly reasons: string[];
  /** Most approvers any step needs. */
  readonly approvers_required: number;
  /** Shortest step ttl, in seconds. */
  readonly ttl: number;
  /** The steps' approval requirements combined (combineApprovals). */
  readonly approval: ApprovalRequirement;
  readonly policy_revision: string;
  readonly steps: ReadonlyArray<PolicyDecision & { readonly step_id: string }>;
}

export interface PolicyServiceOptions {
  /** `opa build -t wasm` bundle (tar.gz). */
  readonly bundlePath: string;
  /** Replaces the bundle's data document (the whole `data` tree). */
  readonly data?: Record<string, unknown> | undefined;
  /** Overrides `data.wheelhouse.config.stage`. */
  readonly stage?: number | undefined;
  /**
   * Budget for one evaluation. Wasm runs on the caller's thread and cannot be
   * pre-empted, so a slower evaluation completes but its answer is replaced by a deny.
   */
  readonly timeoutMs: number;
  /** Milliseconds from a monotonic clock, for the budget (default `performance.now`); tests pass their own. */
  readonly clock?: (() => number) | undefined;
  readonly logger: Logger;
  /** Reload when the bundle file changes (default true). */
  readonly watch?: boolean | undefined;
  readonly entrypoint?: string | undefined;
}

export interface ReloadResult {
  readonly ok: boolean;
  /** The revision now serving (the previous one when the reload failed), or null when none ever loaded. */
  readonly revision: string | null;
  readonly error?: string;
}

export interface PolicyService {
  /** Decides one step. Never throws: any failure is a deny naming its cause. */
  evaluatePolicy(input: PolicyInput): PolicyDecision;
  /** Decides a plan with one policy revision for all its steps. */
  evaluatePlan(inputs: readonly PolicyInput[]): PlanDecision;
  /** Loads the bundle again; on failure the current policy keeps serving. */
  reload(): Promise<ReloadResult>;
  /** Revision currently serving, or null when no bundle has loaded. */
  readonly revision: string | null;
  close(): Promise<void>;
}

interface Loaded {
  /** The wasm bytes, kept to start a fresh instance after a trap. */
  readonly wasm: Uint8Array;
  readonly data: Record<string, unknown>;
  readonly revision: string;
  readonly bundleSha: string;
  /** Time zones (other than UTC) the data's change windows name: each input gets their offsets. */
  readonly zones: readonly string[];
  policy: LoadedPolicy;
  entrypointId: number;
}

// Initial 5 pages (320 KiB) like opa-wasm; the maximum bounds a runaway evaluation (64 MiB).
const MEMORY = { initial: 5, maximum: 1024 } as const;

/** A self-test input every bundle must decide before it may serve. */
const CANARY_INPUT: PolicyInput = {
  actor: { id: "wheelhouse-canary", kind: "system", roles: ["viewer"] },
  action: {
    id: "kubectl.get",
    tool: "kubectl",
    name: "get",
    kind: "read",
    reversible: false,
    risk: "T0",
    in_catalog: true,
  },
  context: { plan_id: "canary", source: "api" },
  resources: {
    environment: "staging",
    namespace: null,
    service: null,
    account: null,
    cluster: null,
    replicas: null,
    current_replicas: null,
    names: [],
    wildcard: false,
  },
  risk: { blast_radius: 1 },
  time: "2026-01-01T00:00:00Z",
};

const NO_REVISION = "none";

/**
 * Starts the policy service. Resolves even when the bundle cannot be loaded:
 * the service then denies everything (naming the load error) until a reload
 * succeeds, so a bad deploy never turns into an open door.
 */
export async function createPolicyService(options: PolicyServiceOptions): Promise<PolicyService> {
  const entrypoint = options.entrypoint ?? POLICY_ENTRYPOINT;
  const logger = options.logger;
  const clock = options.clock ?? (() => performance.now());
  let current: Loaded | null = null;
  let lastError = "policy bundle not loaded yet";
  let reloading: Promise<ReloadResult> = Promise.resolve({ ok: true, revision: null });
  let watcher: FSWatcher | null = null;
  let debounce: NodeJS.Timeout | null = null;
  let closed = false;

  async function load(bytes: Uint8Array, bundleSha: string): Promise<Loaded> {
    const bundle = parseBundle(bytes, entrypoint);
    const data = effectiveData(options.data ?? bundle.data, options.stage);
    checkChangeWindows(data, options.data === undefined ? "policy.bundle_path" : "policy.data_path");
    const policy = await loadPolicy(bundle.wasm, { ...MEMORY });
    const entrypointId = entrypointIdOf(policy, entrypoint);
    policy.setData(data);
    const revision = revisionOf(bundle.manifest.revision ?? bundleSha, options);
    const zones = changeWindowZones(data);
    const loaded: Loaded = { wasm: bundle.wasm, data, revision, bundleSha, zones, policy, entrypointId };
    // A bundle that cannot decide the canary never replaces one that can.
    const probe = evaluateWith(loaded, CANARY_INPUT);
    if (probe.error !== null) throw bundleError(`bundle failed its self-test: ${probe.error}`);
    return loaded;
  }

  function reload(): Promise<ReloadResult> {
    reloading = reloading.then(async (): Promise<ReloadResult> => {
      if (closed) return { ok: false, revision: current?.revision ?? null, error: "policy service is closed" };
      try {
        const bytes = await readFile(options.bundlePath);
        const bundleSha = createHash("sha256").update(bytes).digest("hex");
        // Watchers fire several times per replacement; the same bytes need no new instance.
        if (current !== null && current.bundleSha === bundleSha) return { ok: true, revision: current.revision };
        const next = await load(bytes, bundleSha);
        const previous = current?.revision ?? null;
        current = next;
        if (previous !== next.revision) logger.info({ revision: next.revision, previous }, "policy bundle loaded");
        return { ok: true, revision: next.revision };
      } catch (error) {
        const message = errorMessage(error);
        if (current === null) lastError = `policy bundle not loaded: ${message}`;
        logger.error(
          { err: message, bundle: options.bundlePath, serving: current?.revision ?? null },
          "policy bundle reload failed; keeping the current policy",
        );
        return { ok: false, revision: current?.revision ?? null, error: message };
      }
    });
    return reloading;
  }

  function evaluatePolicy(input: PolicyInput): PolicyDecision {
    const loaded = current;
    if (loaded === null) return deny(lastError, NO_REVISION);
    return decide(loaded, input);
  }

  function decide(loaded: Loaded, input: PolicyInput): PolicyDecision {
    const started = clock();
    const result = evaluateWith(loaded, input);
    const elapsedMs = clock() - started;
    if (result.error !== null) {
      logger.warn({ err: result.error, revision: loaded.revision }, "policy evaluation failed; denying");
      return deny(result.error, loaded.revision);
    }
    if (elapsedMs > options.timeoutMs) {
      logger.warn(
        { elapsed_ms: elapsedMs, revision: loaded.revision },
        "policy evaluation exceeded its budget; denying",
      );
      return deny(
        `policy evaluation took ${elapsedMs.toFixed(3)} ms, over the ${options.timeoutMs} ms budget`,
        loaded.revision,
      );
    }
    return {
      ...result.output,
      approval: result.output.approval ?? legacyRequirement(result.output),
      policy_revision: loaded.revision,
    };
  }

  function evaluatePlan(inputs: readonly PolicyInput[]): PlanDecision {
    const loaded = current;
    const steps = inputs.map((input, index) => ({
      // Inputs come from callers that may not be typed; a bad one must deny, not throw.
      step_id: (input as PolicyInput | undefined)?.context?.step_id ?? `step-${index + 1}`,
      ...(loaded === null ? deny(lastError, NO_REVISION) : decide(loaded, input)),
    }));
    return combine(steps, loaded?.revision ?? NO_REVISION);
  }

  if (options.watch ?? true) {
    try {
      // Watch the directory, not the file: deploys replace the file (new inode) by rename.
      watcher = watch(dirname(options.bundlePath), (_event, filename) => {
        if (filename !== null && filename !== basename(options.bundlePath)) return;
        if (debounce) clearTimeout(debounce);
        debounce = setTimeout(() => {
          debounce = null;
          // reload() logs its own failures and keeps the current policy.
          void reload();
        }, 50);
      });
      watcher.on("error", (error) => logger.warn({ err: errorMessage(error) }, "policy bundle watch failed"));
    } catch (error) {
      logger.warn({ err: errorMessage(error), bundle: options.bundlePath }, "cannot watch the policy bundle");
    }
  }

  await reload();

  return {
    evaluatePolicy,
    evaluatePlan,
    reload,
    get revision() {
      return current?.revision ?? null;
    },
    async close() {
      closed = true;
      if (debounce) clearTimeout(debounce);
      watcher?.close();
      await reloading;
    },
  };
}

type Evaluation =
  | { readonly error: null; readonly output: v.InferOutput<typeof PolicyOutputSchema> }
  | { readonly error: string };

function evaluateWith(loaded: Loaded, input: PolicyInput): Evaluation {
  let resultSet: unknown;
  try {
    resultSet = loaded.policy.evaluate(withTimeZones(input, loaded.zones), loaded.entrypointId);
  } catch (error) {
    // A trap can leave the instance's heap in any state: start a fresh instance.
    try {
      loaded.policy = loadPolicySync(loaded.wasm, { ...MEMORY });
      loaded.policy.setData(loaded.data);
    } catch {
      // The old instance stays; the next evaluation resets its heap pointer anyway.
    }
    return { error: `policy evaluation failed: ${errorMessage(error)}` };
  }
  if (!Array.isArray(resultSet) || resultSet.length === 0) return { error: "policy returned no decision" };
  const parsed = v.safeParse(PolicyOutputSchema, (resultSet[0] as { result?: unknown }).result);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const where = issue ? v.getDotPath(issue) : null;
    return { error: `policy returned a malformed decision${where ? ` at ${where}` : ""}: ${issue?.message ?? ""}` };
  }
  return { error: null, output: parsed.output };
}

function entrypointIdOf(policy: LoadedPolicy, entrypoint: string): number {
  const entrypoints = policy.entrypoints as Record<string, number>;
  const id = entrypoints[entrypoint];
  if (typeof id !== "number") {
    throw bundleError(
      `bundle has no entrypoint ${entrypoint} (it has: ${Object.keys(entrypoints).join(", ") || "none"})`,
    );
  }
  return id;
}

/** Applies the stage override on a copy; the caller's data is never mutated. */
function effectiveData(data: Record<string, unknown>, stage: number | undefined): Record<string, unknown> {
  const copy = structuredClone(data);
  if (stage === undefined) return copy;
  const wheelhouse = copy.wheelhouse as { config?: Record<string, unknown> } | undefined;
  if (!wheelhouse?.config) {
    throw new ValidationError("cannot apply the stage override: the policy data has no wheelhouse.config", {
      field: "policy.stage",
      fix: "remove policy.stage, or use a data document with wheelhouse.config (policy.data_path)",
    });
  }
  wheelhouse.config.stage = stage;
  return copy;
}

/** Refuses data whose change windows the policy could not read (it would deny every T3 write). */
function checkChangeWindows(data: Record<string, unknown>, source: "policy.bundle_path" | "policy.data_path"): void {
  const issues = changeWindowIssues(data);
  const first = issues[0];
  if (first === undefined) return;
  const problems = issues.map((issue) => `${issue.field}: ${issue.message}. Fix: ${issue.fix}`).join("; ");
  throw new ValidationError(`the policy data (${source}) has change windows the policy cannot use: ${problems}`, {
    field: first.field,
    fix: first.fix,
    issues,
  });
}

function revisionOf(bundleRevision: string, options: PolicyServiceOptions): string {
  let revision = bundleRevision;
  if (options.data !== undefined) {
    const digest = createHash("sha256").update(JSON.stringify(options.data)).digest("hex").slice(0, 12);
    revision += `+data.${digest}`;
  }
  if (options.stage !== undefined) revision += `+stage.${options.stage}`;
  return revision;
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message);
  return String(error);
}
