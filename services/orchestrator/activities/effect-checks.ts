/**
 * Effect checks: for a write whose process ended without reporting (the
 * worker or router died after `tool_call.started`), whether the target's
 * live state, as the tool router's GetResource read it, shows that the call
 * took effect. One entry per write action whose effect can be read back; a
 * write without one is never settled by reading (the call is refused instead
 * of being run a second time).
 *
 * Pure functions of the call's input, the state read and when the call
 * started: what they compare is said in each `detail`, which the activity
 * records. Where the state alone cannot tell a fresh change from an old one
 * (a Helm deploy, an Argo CD sync, a restart), the change must have happened
 * after the call started, within `CLOCK_SKEW_MS`.
 */

/** What a check concluded: `shown` when the state carries the call's effect; `detail` says why, either way. */
export interface EffectVerdict {
  readonly shown: boolean;
  readonly detail: string;
}

export type EffectCheck = (input: Readonly<Record<string, unknown>>, state: unknown, startedAt: Date) => EffectVerdict;

/** Clocks of the router's host, the cluster and Argo CD may differ this much. */
export const CLOCK_SKEW_MS = 5_000;

type Json = Record<string, unknown>;

function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Json)[key];
  }
  return current;
}

/** Whether timestamp `value` is at or after the call's start (less the clock skew); false when it is not a time. */
function since(value: unknown, startedAt: Date): boolean {
  if (typeof value !== "string") return false;
  const t = Date.parse(value);
  return Number.isFinite(t) && t >= startedAt.getTime() - CLOCK_SKEW_MS;
}

const verdict = (shown: boolean, detail: string): EffectVerdict => ({ shown, detail });

const kubectlScale: EffectCheck = (input, state) => {
  const replicas = at(state, "spec", "replicas");
  return verdict(
    replicas === input.replicas,
    `spec.replicas of ${String(input.kind)}/${String(input.name)} is ${String(replicas)}; the call sets ${String(input.replicas)}`,
  );
};

const kubectlAnnotate: EffectCheck = (input, state) => {
  const live = (at(state, "metadata", "annotations") ?? {}) as Json;
  const wanted = (input.annotations ?? {}) as Json;
  const differing = Object.keys(wanted).filter((k) => live[k] !== wanted[k]);
  return verdict(
    differing.length === 0,
    differing.length === 0
      ? `every annotation the call sets holds (${Object.keys(wanted).join(", ")})`
      : `annotation(s) ${differing.join(", ")} differ from what the call sets`,
  );
};

const kubectlRolloutRestart: EffectCheck = (input, state, startedAt) => {
  const restartedAt = at(state, "spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt");
  return verdict(
    since(restartedAt, startedAt),
    `${String(input.kind)}/${String(input.name)} was last restarted at ${String(restartedAt ?? "never")}; the call started at ${startedAt.toISOString()}`,
  );
};

const helmUpgrade: EffectCheck = (input, state, startedAt) => {
  const status = at(state, "info", "status");
  const deployed = at(state, "info", "last_deployed");
  const version = at(state, "chart", "metadata", "version");
  const versionHolds = input.version === undefined || version === input.version;
  return verdict(
    status === "deployed" && since(deployed, startedAt) && versionHolds,
    `release ${String(input.release)} is ${String(status)} at chart version ${String(version)}, last deployed ${String(deployed)}; the call started at ${startedAt.toISOString()}${input.version === undefined ? "" : ` and deploys version ${String(input.version)}`}`,
  );
};

const helmRollback: EffectCheck = (input, state, startedAt) => {
  const status = at(state, "info", "status");
  const deployed = at(state, "info", "last_deployed");
  const description = at(state, "info", "description");
  const to = /^Rollback to (\d+)$/.exec(typeof description === "string" ? description : "")?.[1];
  return verdict(
    status === "deployed" && since(deployed, startedAt) && to !== undefined && Number(to) === input.revision,
    `release ${String(input.release)} is ${String(status)} ("${String(description)}"), last deployed ${String(deployed)}; the call rolls back to revision ${String(input.revision)}, started at ${startedAt.toISOString()}`,
  );
};

const argocdAppSync: EffectCheck = (input, state, startedAt) => {
  const operation = at(state, "status", "operationState");
  const phase = at(operation, "phase");
  const started = at(operation, "startedAt");
  const revisions = [at(operation, "syncResult", "revision"), at(operation, "operation", "sync", "revision")];
  const revisionHolds = input.revision === undefined || revisions.includes(input.revision);
  return verdict(
    phase === "Succeeded" && since(started, startedAt) && revisionHolds,
    `application ${String(input.app)}'s last sync is ${String(phase ?? "absent")}, started ${String(started)} at revision ${String(revisions[0])}; the call started at ${startedAt.toISOString()}${input.revision === undefined ? "" : ` and syncs revision ${String(input.revision)}`}`,
  );
};

/** The write actions whose effect the live state shows, keyed by catalog action id. */
export const EFFECT_CHECKS: Readonly<Record<string, EffectCheck>> = {
  "kubectl.scale": kubectlScale,
  "kubectl.annotate": kubectlAnnotate,
  "kubectl.rollout_restart": kubectlRolloutRestart,
  "helm.upgrade": helmUpgrade,
  "helm.rollback": helmRollback,
  "argocd.app_sync": argocdAppSync,
};

/** The check of `actionId`, or null when its effect cannot be read back. */
export function effectCheckFor(actionId: string): EffectCheck | null {
  return Object.hasOwn(EFFECT_CHECKS, actionId) ? (EFFECT_CHECKS[actionId] as EffectCheck) : null;
}
