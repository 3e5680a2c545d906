/**
 * `wheelhouse`: a small client of the API.
 *
 *   wheelhouse plan "scale checkout to 6 in staging" [--env staging] [--service checkout]
 *   wheelhouse status <plan-id>
 *   wheelhouse approve <plan-id> [--revision N] [--deny] [--comment "..."]
 *   wheelhouse execute <plan-id> [--revision N]
 *   wheelhouse audit [--plan <id>] [--limit 20]
 *
 * Base URL and token from WHEELHOUSE_URL (default http://127.0.0.1:8320) and
 * WHEELHOUSE_TOKEN (for the dev issuer: `scripts/mint-token.ts`).
 */
import { randomUUID } from "node:crypto";
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

async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  if (!token)
    throw new Error(
      "WHEELHOUSE_TOKEN is not set (dev: export WHEELHOUSE_TOKEN=$(node --import tsx scripts/mint-token.ts --sub you --roles operator,approver))",
    );
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
      const query = new URLSearchParams();
      if (values.plan) query.set("aggregate_id", values.plan);
      query.set("limit", values.limit ?? "20");
      const page = await api<{
        items: { seq: number; occurred_at: string; action: string; aggregate_id: string; actor: { id?: string } }[];
      }>("GET", `/v1/audit/events?${query}`);
      if (values.json) print(page);
      else
        for (const e of page.items)
          print(`${e.seq}\t${e.occurred_at}\t${e.action}\t${e.aggregate_id}\t${e.actor?.id ?? ""}`);
      return 0;
    }
    default:
      return usage(command ? `unknown command ${command}` : "");
  }
}

function usage(message: string): number {
  if (message) process.stderr.write(`wheelhouse: ${message}\n`);
  process.stderr.write(
    'usage: wheelhouse plan "<change>" [--env E] [--service S] | status <plan> | approve <plan> [--deny] [--comment C] | execute <plan> | audit [--plan P]\n',
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
