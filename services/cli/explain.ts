/** `wheelhouse explain`: a change's story (GET /v1/plans/{id}/explain) as lines of text. */

export interface EventRef {
  seq: number;
  occurred_at: string;
  actor: { id: string };
  audit: { seq: number; hash: string } | null;
}

export interface Explanation {
  plan_id: string | null;
  intent: { text: string; source: string; requested_by: { id: string }; event: EventRef } | null;
  planner: { prompt: { evidence_id: string }[]; model_response: { evidence_id: string }[] };
  revisions: {
    revision: number;
    summary: string;
    digest: string | null;
    context?: {
      digest: string;
      scope: { environment?: string };
      nodes: number;
      edges: number;
      ref: string | null;
      evidence: { evidence_id: string; verified?: boolean } | null;
      evidence_matches: boolean;
    } | null;
    steps: { step_id: string; action_id: string }[];
    event: EventRef;
  }[];
  policy: {
    revision: number;
    decision: string;
    tier: string;
    policy_revision: string;
    reasons: string[];
    event: EventRef;
  }[];
  approvals: {
    revision: number;
    status: string;
    channel: string | null;
    digest: string | null;
    break_glass: boolean;
    reason: string | null;
    comment: string | null;
    actor: { id: string };
    at: string;
  }[];
  executions: {
    execution_id: string;
    status: string;
    dry_run: boolean;
    tool_calls: {
      argv: string[];
      status: string | null;
      exit_code: number | null;
      output: { evidence_id: string; sha256: string | null; verified?: boolean; content?: string } | null;
    }[];
    verification: { passed: boolean; checks: { description: string; passed: boolean }[] }[];
    /** Absent from gateways older than the verdict. */
    pauses?: {
      step_id: string;
      check: string;
      reason: string;
      attempts: number;
      deadline: string;
      verdict: { decision: "pass" | "fail"; reason: string; requested_by: string } | null;
    }[];
    rollback: { phase: string; reason: string }[];
  }[];
  timeline: EventRef[];
}

/** The graph a revision was made from: its digest, what it covers and where it is kept. */
function contextLine(c: NonNullable<Explanation["revisions"][number]["context"]>): string {
  const scope = c.scope.environment ? `environment ${c.scope.environment}` : "every environment";
  const evidence = c.evidence
    ? ` evidence ${c.evidence.evidence_id}${c.evidence_matches ? " (sha256 = digest)" : " (sha256 differs from the digest)"}`
    : "";
  return `context snapshot ${c.digest.slice(0, 12)}: ${c.nodes} services, ${c.edges} edges of ${scope}${c.ref ? ` read at ${c.ref}` : ""}${evidence}`;
}

/** The first lines of a tool call's recorded output (stdout, else stderr); none when it is not shown inline. */
function outputLines(content: string | undefined, max = 6): string[] {
  if (!content) return [];
  let out: { stdout?: unknown; stderr?: unknown };
  try {
    out = JSON.parse(content) as typeof out;
  } catch {
    return []; // cut at the inline limit: the evidence id above leads to the whole of it
  }
  const text = [out.stdout, out.stderr].find((t): t is string => typeof t === "string" && t.trim() !== "") ?? "";
  const lines = text.trimEnd().split("\n");
  return lines.length > max ? [...lines.slice(0, max), `... ${lines.length - max} more lines`] : lines;
}

const at = (e: EventRef) => `${e.occurred_at} by ${e.actor.id} (audit #${e.audit?.seq ?? "pending"})`;

export function printExplanation(s: Explanation): void {
  for (const line of explanationLines(s)) process.stdout.write(`${line}\n`);
}

/** The story as the lines `wheelhouse explain` prints. */
export function explanationLines(s: Explanation): string[] {
  const lines: string[] = [];
  const print = (line: string) => lines.push(line);
  print(`plan ${s.plan_id ?? "-"}`);
  if (s.intent) print(`intent: "${s.intent.text}" (${s.intent.source}) ${at(s.intent.event)}`);
  if (s.planner.prompt.length + s.planner.model_response.length > 0) {
    print(
      `planner evidence: prompt ${s.planner.prompt.map((e) => e.evidence_id).join(", ") || "-"}; answer ${s.planner.model_response.map((e) => e.evidence_id).join(", ") || "-"}`,
    );
  }
  for (const r of s.revisions) {
    print(`revision ${r.revision}: ${r.summary} digest ${r.digest ?? "INVALID"} ${at(r.event)}`);
    if (r.context) print(`  ${contextLine(r.context)}`);
    for (const step of r.steps) print(`  - ${step.step_id} ${step.action_id}`);
  }
  for (const p of s.policy) {
    print(
      `policy r${p.revision}: ${p.decision} ${p.tier} (policy ${p.policy_revision}) ${p.reasons.join("; ")} ${at(p.event)}`,
    );
  }
  for (const a of s.approvals) {
    const how = [
      a.channel ? `via ${a.channel}` : "",
      a.digest ? `for digest ${a.digest.slice(0, 12)}` : "",
      a.break_glass ? `BREAK-GLASS: ${a.reason ?? ""}` : "",
    ].filter((part) => part !== "");
    print(
      `approval r${a.revision}: ${a.status} by ${a.actor.id} at ${a.at}${how.length > 0 ? ` ${how.join(" ")}` : ""}${a.comment ? ` "${a.comment}"` : ""}`,
    );
  }
  for (const x of s.executions) {
    print(`execution ${x.execution_id}: ${x.status}${x.dry_run ? " (dry run)" : ""}`);
    for (const c of x.tool_calls) {
      const out = c.output
        ? ` output ${c.output.evidence_id}${c.output.verified === undefined ? "" : c.output.verified ? " verified" : " NOT VERIFIED"}`
        : "";
      print(`  $ ${c.argv.join(" ")}  → ${c.status ?? "running"} exit ${c.exit_code ?? "-"}${out}`);
      for (const line of outputLines(c.output?.content)) print(`    | ${line}`);
    }
    for (const v of x.verification) {
      print(
        `  verification: ${v.passed ? "passed" : "failed"} ${v.checks.map((c) => `${c.passed ? "✓" : "✗"} ${c.description}`).join(", ")}`,
      );
    }
    for (const p of x.pauses ?? []) {
      const measured = `${p.attempts} measurement${p.attempts === 1 ? "" : "s"}`;
      print(`  paused at ${p.step_id}: ${p.check} inconclusive after ${measured} (${p.reason})`);
      print(
        p.verdict
          ? `    verdict: ${p.verdict.decision} by ${p.verdict.requested_by}: ${p.verdict.reason}`
          : `    waiting for a verdict until ${p.deadline}: wheelhouse executions verdict ${x.execution_id} pass|fail --reason "..."`,
      );
    }
    for (const r of x.rollback) print(`  rollback ${r.phase}: ${r.reason}`);
  }
  print(`${s.timeline.length} events`);
  return lines;
}
