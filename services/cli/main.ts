/**
 * `wheelhouse`: a small client of the API.
 *
 *   wheelhouse plan "scale checkout to 6 in staging" [--env staging] [--service checkout]
 *   wheelhouse status <plan-id>
 *   wheelhouse approve <plan-id> [--revision N] [--deny] [--comment "..."]
 *   wheelhouse execute <plan-id> [--revision N]
 *   wheelhouse audit [--plan <id>] [--type T] [--actor A] [--from T] [--to T] [--service S] [--limit 20]
 *   wheelhouse audit export [same filters] > trail.ndjson   (streamed; ends with the chain proof)
 *   wheelhouse audit verify [--evidence]                   (admin; exit 1 when something does not verify)
 *   wheelhouse explain <plan-or-execution-id> [--verify-evidence]
 *
 * Base URL and token from WHEELHOUSE_URL (default http://127.0.0.1:8320) and
 * WHEELHOUSE_TOKEN (for the dev issuer: `scripts/mint-token.ts`).
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { parseArgs } from "node:util";

const base = (process.env.WHEELHOUSE_URL ?? "http://127.0.0.1:8320").replace(/\/$/, "");
const token = process.env.WHEELHOUSE_TOKEN;

interface Problem {
  title?: string;
  detail?: string;
  field?: string;
  fix?: string;
  errors?: { field: string; message: string; fix?: string }[];
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}

function requireToken(): string {
  if (!token)
    throw new Error(
      "WHEELHOUSE_TOKEN is not set (dev: export WHEELHOUSE_TOKEN=$(node --import tsx scripts/mint-token.ts --sub you --roles operator,approver))",
    );
  return token;
}

/** Streams a response body to stdout as it arrives (an export can be larger than memory). */
async function download(path: string): Promise<void> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${requireToken()}` } });
  if (!res.ok || !res.body) {
    const text = await res.text();
    throw new ApiError(res.status, (text ? JSON.parse(text) : {}) as Problem);
  }
  await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), process.stdout);
}

async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  requireToken();
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as unknown) : null;
  if (!res.ok) throw new ApiError(res.status, (parsed ?? {}) as Problem);
  return parsed as T;
}

const print = (value: unknown) =>
  process.stdout.write(`${typeof value === "string" ? value : JSON.stringify(value, null, 2)}\n`);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      env: { type: "string" },
      service: { type: "string" },
      revision: { type: "string" },
      deny: { type: "boolean" },
      comment: { type: "string" },
      plan: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
      type: { type: "string" },
      actor: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      evidence: { type: "boolean" },
      "verify-evidence": { type: "boolean" },
    },
  });
  // Commands carry an Idempotency-Key so that a retried CLI call never doubles a change.
  const idem = { "idempotency-key": randomUUID(), prefer: "wait=5" };
  switch (command) {
    case "plan": {
      const intent = positionals.join(" ").trim();
      if (!intent) return usage('plan needs the change in words: wheelhouse plan "scale checkout to 6"');
      const accepted = await api<{ id: string; location: string }>(
        "POST",
        "/v1/plans",
        {
          intent,
          ...(values.env ? { environment: values.env } : {}),
          ...(values.service ? { service: values.service } : {}),
        },
        idem,
      );
      print(values.json ? accepted : `plan ${accepted.id} requested (${base}${accepted.location})`);
      return 0;
    }
    case "status": {
      const id = positionals[0];
      if (!id) return usage("status needs a plan id");
      const plan = await api<Record<string, unknown>>("GET", `/v1/plans/${encodeURIComponent(id)}`);
      if (values.json) print(plan);
      else {
        print(
          `${plan.plan_id}  ${plan.status}  revision ${plan.revision ?? "-"}  ${plan.decision ?? ""} ${plan.tier ?? ""}`.trim(),
        );
        print(`  ${plan.intent}`);
        for (const s of (plan.steps as { step_id: string; action_id: string; decision?: string }[]) ?? []) {
          print(`  - ${s.step_id} ${s.action_id} ${s.decision ?? ""}`);
        }
      }
      return 0;
    }
    case "approve": {
      const id = positionals[0];
      if (!id) return usage("approve needs a plan id");
      let revision = values.revision === undefined ? undefined : Number(values.revision);
      if (revision === undefined) {
        const plan = await api<{ revision: number | null }>("GET", `/v1/plans/${encodeURIComponent(id)}`);
        if (!plan.revision) return usage(`plan ${id} has no proposed revision yet`);
        revision = plan.revision;
      }
      const accepted = await api<{ id: string }>(
        "POST",
        "/v1/approvals",
        {
          plan_id: id,
          revision,
          decision: values.deny ? "deny" : "grant",
          ...(values.comment ? { comment: values.comment } : {}),
        },
        idem,
      );
      print(values.json ? accepted : `${values.deny ? "denied" : "approved"} plan ${id} revision ${revision}`);
      return 0;
    }
    case "execute": {
      const id = positionals[0];
      if (!id) return usage("execute needs a plan id");
      const plan = await api<{ revision: number | null }>("GET", `/v1/plans/${encodeURIComponent(id)}`);
      const revision = values.revision === undefined ? plan.revision : Number(values.revision);
      const accepted = await api<{ id: string; location: string }>(
        "POST",
        `/v1/plans/${encodeURIComponent(id)}:execute`,
        { revision },
        idem,
      );
      print(values.json ? accepted : `execution ${accepted.id} requested (${base}${accepted.location})`);
      return 0;
    }
    case "audit": {
      const sub = positionals[0];
      const filters = new URLSearchParams();
      if (values.plan) filters.set("aggregate_id", values.plan);
      for (const key of ["type", "actor", "from", "to", "service"] as const) {
        const value = values[key];
        if (value !== undefined) filters.set(key, value);
      }
      if (sub === "export") {
        const query = filters.toString();
        await download(`/v1/audit/events.ndjson${query ? `?${query}` : ""}`);
        return 0;
      }
      if (sub === "verify") return verify(values.evidence ?? false, values.json ?? false);
      if (sub !== undefined) return usage(`unknown audit command ${sub} (try: audit, audit export, audit verify)`);
      filters.set("limit", values.limit ?? "20");
      const page = await api<{
        items: { seq: number; occurred_at: string; action: string; aggregate_id: string; actor: { id?: string } }[];
      }>("GET", `/v1/audit/events?${filters}`);
      if (values.json) print(page);
      else
        for (const e of page.items)
          print(`${e.seq}\t${e.occurred_at}\t${e.action}\t${e.aggregate_id}\t${e.actor?.id ?? ""}`);
      return 0;
    }
    case "explain": {
      const id = positionals[0];
      if (!id) return usage("explain needs a plan or execution id");
      const query = values["verify-evidence"] ? "?verify_evidence=true" : "";
      let story: Explanation;
      try {
        story = await api<Explanation>("GET", `/v1/plans/${encodeURIComponent(id)}/explain${query}`);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
        story = await api<Explanation>("GET", `/v1/executions/${encodeURIComponent(id)}/explain${query}`);
      }
      if (values.json) print(story);
      else printExplanation(story);
      return 0;
    }
    default:
      return usage(command ? `unknown command ${command}` : "");
  }
}

interface EventRef {
  seq: number;
  occurred_at: string;
  actor: { id: string };
  audit: { seq: number; hash: string } | null;
}
interface Explanation {
  plan_id: string | null;
  intent: { text: string; source: string; requested_by: { id: string }; event: EventRef } | null;
  planner: { prompt: { evidence_id: string }[]; model_response: { evidence_id: string }[] };
  revisions: { revision: number; summary: string; steps: { step_id: string; action_id: string }[]; event: EventRef }[];
  policy: {
    revision: number;
    decision: string;
    tier: string;
    policy_revision: string;
    reasons: string[];
    event: EventRef;
  }[];
  approvals: { revision: number; status: string; comment: string | null; actor: { id: string }; at: string }[];
  executions: {
    execution_id: string;
    status: string;
    dry_run: boolean;
    tool_calls: {
      argv: string[];
      status: string | null;
      exit_code: number | null;
      output: { evidence_id: string; sha256: string | null; verified?: boolean } | null;
    }[];
    verification: { passed: boolean; checks: { description: string; passed: boolean }[] }[];
    rollback: { phase: string; reason: string }[];
  }[];
  timeline: EventRef[];
}

const at = (e: EventRef) => `${e.occurred_at} by ${e.actor.id} (audit #${e.audit?.seq ?? "pending"})`;

function printExplanation(s: Explanation): void {
  print(`plan ${s.plan_id ?? "-"}`);
  if (s.intent) print(`intent: "${s.intent.text}" (${s.intent.source}) ${at(s.intent.event)}`);
  if (s.planner.prompt.length + s.planner.model_response.length > 0) {
    print(
      `planner evidence: prompt ${s.planner.prompt.map((e) => e.evidence_id).join(", ") || "-"}; answer ${s.planner.model_response.map((e) => e.evidence_id).join(", ") || "-"}`,
    );
  }
  for (const r of s.revisions) {
    print(`revision ${r.revision}: ${r.summary} ${at(r.event)}`);
    for (const step of r.steps) print(`  - ${step.step_id} ${step.action_id}`);
  }
  for (const p of s.policy) {
    print(
      `policy r${p.revision}: ${p.decision} ${p.tier} (policy ${p.policy_revision}) ${p.reasons.join("; ")} ${at(p.event)}`,
    );
  }
  for (const a of s.approvals) {
    print(`approval r${a.revision}: ${a.status} by ${a.actor.id} at ${a.at}${a.comment ? ` "${a.comment}"` : ""}`);
  }
  for (const x of s.executions) {
    print(`execution ${x.execution_id}: ${x.status}${x.dry_run ? " (dry run)" : ""}`);
    for (const c of x.tool_calls) {
      const out = c.output
        ? ` output ${c.output.evidence_id}${c.output.verified === undefined ? "" : c.output.verified ? " verified" : " NOT VERIFIED"}`
        : "";
      print(`  $ ${c.argv.join(" ")}  → ${c.status ?? "running"} exit ${c.exit_code ?? "-"}${out}`);
    }
    for (const v of x.verification) {
      print(
        `  verification: ${v.passed ? "passed" : "failed"} ${v.checks.map((c) => `${c.passed ? "✓" : "✗"} ${c.description}`).join(", ")}`,
      );
    }
    for (const r of x.rollback) print(`  rollback ${r.phase}: ${r.reason}`);
  }
  print(`${s.timeline.length} events`);
}

async function verify(evidence: boolean, asJson: boolean): Promise<number> {
  const result = await api<{
    ok: boolean;
    chain: {
      ok: boolean;
      checked: number;
      head: { seq: number; hash: string } | null;
      failure: { message: string } | null;
    };
    tail: { behind: number };
    evidence: { checked: number; failures: { message: string }[] } | null;
  }>("GET", `/v1/audit/verify${evidence ? "?evidence=true" : ""}`);
  if (asJson) print(result);
  else {
    const head = result.chain.head ? ` head #${result.chain.head.seq} ${result.chain.head.hash}` : "";
    print(
      result.chain.ok
        ? `chain ok: ${result.chain.checked} records${head}`
        : `chain BROKEN: ${result.chain.failure?.message}`,
    );
    if (result.tail.behind > 0) print(`the trail is ${result.tail.behind} events behind the stream (projector lag?)`);
    if (result.evidence) {
      print(
        result.evidence.failures.length === 0
          ? `evidence ok: ${result.evidence.checked} blobs`
          : `evidence BROKEN: ${result.evidence.failures.map((f) => f.message).join("; ")}`,
      );
    }
  }
  return result.ok ? 0 : 1;
}

function usage(message: string): number {
  if (message) process.stderr.write(`wheelhouse: ${message}\n`);
  process.stderr.write(
    'usage: wheelhouse plan "<change>" [--env E] [--service S] | status <plan> | approve <plan> [--deny] [--comment C] | execute <plan> | audit [--plan P] | audit export > trail.ndjson | audit verify [--evidence] | explain <id>\n',
  );
  return 2;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof ApiError) {
    const p = error.problem;
    process.stderr.write(`wheelhouse: ${error.status} ${p.detail ?? p.title ?? ""}\n`);
    if (p.field) process.stderr.write(`  field: ${p.field}\n`);
    for (const issue of p.errors ?? []) process.stderr.write(`  - ${issue.field}: ${issue.message}\n`);
    if (p.fix) process.stderr.write(`  fix: ${p.fix}\n`);
  } else {
    process.stderr.write(`wheelhouse: ${(error as Error).message}\n`);
  }
  process.exitCode = 1;
}
