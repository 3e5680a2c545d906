/**
 * The template planner's read-only plan for an investigation (an alert, or "investigate checkout
 * in production"): the workload's state, its pods' or workload's events and logs, the autoscaler
 * and rollout when the alert is about replicas, the namespace's events, the release history and the
 * Argo CD app.
 */
import type { PlanStep } from "../../events/plan.ts";
import type { TemplateIntent } from "./intent.ts";

/** Where the investigation looks: the step target and the workload, release and app it reads. */
export interface InvestigationTarget {
  readonly target: PlanStep["target"];
  readonly kind: string;
  readonly workload: string;
  readonly namespace: string;
  readonly release: string;
  readonly app: string | undefined;
}

export function investigate(
  intent: Extract<TemplateIntent, { kind: "investigate" }>,
  at: InvestigationTarget,
): { summary: string; steps: PlanStep[] } {
  const { target, kind, workload, namespace, release } = at;
  const steps: Omit<PlanStep, "step_id" | "target">[] = [];
  const alert = intent.alertname ?? "";
  const crashing = /CrashLoop|PodNotReady|ContainerWaiting|OOMKill|Restart/i.test(alert);
  const replicas = /ReplicasMismatch|RolloutStuck|GenerationMismatch|HPA|Unavailable/i.test(alert);
  steps.push({
    action_id: "kubectl.get",
    input: { kind, name: workload, namespace, output: "json" },
    rationale: `Current state of ${workload}: replicas, images, conditions.`,
  });
  if (crashing && intent.pod) {
    steps.push({
      action_id: "kubectl.describe",
      input: { kind: "pod", name: intent.pod, namespace },
      rationale: `Why pod ${intent.pod} restarts: last state, exit code, events.`,
    });
    steps.push({
      action_id: "kubectl.logs",
      input: { kind: "pod", name: intent.pod, namespace, previous: true, tail_lines: 200 },
      rationale: `Logs of the crashed container, from before its last restart.`,
    });
  } else {
    steps.push({
      action_id: "kubectl.describe",
      input: { kind, name: workload, namespace },
      rationale: `Conditions and recent events of ${workload}.`,
    });
    steps.push({
      action_id: "kubectl.logs",
      input: {
        kind,
        name: workload,
        namespace,
        tail_lines: 500,
        since_seconds: 1800,
        ...(crashing ? { previous: true } : {}),
      },
      rationale: `Recent logs of ${workload}, for errors around the time of the ${alert || "problem"}.`,
    });
  }
  if (replicas) {
    steps.push({
      action_id: "kubectl.rollout_status",
      input: { kind, name: workload, namespace, timeout_seconds: 30 },
      rationale: `Whether a rollout is stuck.`,
    });
    steps.push({
      action_id: "kubectl.get",
      input: { kind: "horizontalpodautoscaler", namespace },
      rationale: `Whether an autoscaler is fighting the desired replica count.`,
    });
  }
  steps.push({
    action_id: "kubectl.get",
    input: { kind: "event", namespace },
    rationale: `Recent events in ${namespace}: scheduling, image pulls, probes, evictions.`,
  });
  steps.push({
    action_id: "helm.history",
    input: { release, namespace, max: 5 },
    rationale: `Whether a recent release coincides with the ${alert || "problem"}.`,
  });
  if (at.app)
    steps.push({
      action_id: "argocd.app_get",
      input: { app: at.app },
      rationale: `Sync state and health of ${at.app}.`,
    });
  return {
    summary: `Investigate ${alert ? `${alert} on ` : ""}${intent.service} in ${namespace} (${intent.environment}): read-only.`,
    steps: steps.map((s, i) => ({ step_id: `s${i + 1}`, target, ...s })),
  };
}
