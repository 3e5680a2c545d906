/**
 * `wheelhouse`: a small client of the API. `wheelhouse --help` lists the commands;
 * `wheelhouse help <command>` (or `<command> --help`) gives one command's usage,
 * arguments and examples (`./help.ts`).
 *
 * Base URL and token from WHEELHOUSE_URL (default http://127.0.0.1:8320) and
 * WHEELHOUSE_TOKEN (for the dev issuer: `npm run -s token -- --sub you --roles operator`).
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { parseArgs } from "node:util";
import { UnauthenticatedError, WheelhouseError } from "../../lib/errors/index.ts";
import { type Explanation, printExplanation } from "./explain.ts";
import { COMMANDS, type CommandName, commandHelp, isCommand, overview, unknownCommand } from "./help.ts";

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
    throw new UnauthenticatedError("WHEELHOUSE_TOKEN is not set", {
      field: "WHEELHOUSE_TOKEN",
      fix: "export a bearer token; on a local setup: export WHEELHOUSE_TOKEN=$(npm run -s token -- --sub you --roles operator,approver)",
    });
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
  if (command === undefined) {
    process.stderr.write(overview());
    return 2;
  }
  if (command === "--help" || command === "-h") return help(null);
  if (!isCommand(command)) return usage(unknownCommand(command), null);
  if (command === "help") {
    const topic = rest.find((arg) => !arg.startsWith("-"));
    if (topic === undefined) return help(null);
    return isCommand(topic) ? help(topic) : usage(unknownCommand(topic), null);
  }
  const options = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (options.includes("--help") || options.includes("-h")) return help(command);
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(rest);
  } catch (error) {
    // node's message goes on about positionals starting with '-': the first sentence is the point.
    return usage(`${command}: ${(error as Error).message.split(". To specify")[0]}`, command);
  }
  const { values, positionals } = parsed;
  // Commands carry an Idempotency-Key so that a retried CLI call never doubles a change.
  const idem = { "idempotency-key": randomUUID(), prefer: "wait=5" };
  switch (command) {
    case "plan": {
      const intent = positionals.join(" ").trim();
      if (!intent) return usage('plan needs the change in words: wheelhouse plan "scale checkout to 6"', command);
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
      if (!id) return usage("status needs a plan id", command);
      const plan = await api<Record<string, unknown>>("GET", `/v1/plans/${encodeURIComponent(id)}`);
      // What ran of it: its executions, newest first.
      const { items: executions } = await api<{
        items: { execution_id: string; revision: number | null; status: string; dry_run: boolean }[];
      }>("GET", `/v1/executions?plan_id=${encodeURIComponent(id)}&limit=5`);
      if (values.json) print({ ...plan, executions });
      else {
        print(
          `${plan.plan_id}  ${plan.status}  revision ${plan.revision ?? "-"}  ${plan.decision ?? ""} ${plan.tier ?? ""}`.trim(),
        );
        print(`  ${plan.intent}`);
        if (plan.digest) print(`  digest ${plan.digest}`);
        for (const s of (plan.steps as { step_id: string; action_id: string; decision?: string }[]) ?? []) {
          print(`  - ${s.step_id} ${s.action_id} ${s.decision ?? ""}`);
        }
        for (const x of executions) {
          print(
            `  execution ${x.execution_id}  ${x.status}  revision ${x.revision ?? "-"}${x.dry_run ? " (dry run)" : ""}`,
          );
        }
      }
      return 0;
    }
    case "approve": {
      const id = positionals[0];
      if (!id) return usage("approve needs a plan id", command);
      // The digest of what the approver saw: the plan as read now, unless --digest names the one reviewed earlier.
      const plan = await api<{ revision: number | null; digest: string | null }>(
        "GET",
        `/v1/plans/${encodeURIComponent(id)}`,
      );
      if (!plan.revision || !plan.digest) return usage(`plan ${id} has no proposed revision yet`, command);
      const revision = values.revision === undefined ? plan.revision : Number(values.revision);
      const digest = values.digest ?? plan.digest;
      if (values["break-glass"] && !values.reason) {
        return usage("--break-glass needs --reason: say why this cannot wait for the normal approvers", command);
      }
      const accepted = await api<{ id: string }>(
        "POST",
        "/v1/approvals",
        {
          plan_id: id,
          revision,
          digest,
          channel: "cli",
          decision: values.deny ? "deny" : "grant",
          ...(values.comment ? { comment: values.comment } : {}),
          ...(values["break-glass"] ? { break_glass: true, reason: values.reason } : {}),
        },
        idem,
      );
      print(
        values.json
          ? accepted
          : `${values.deny ? "denied" : "approved"} plan ${id} revision ${revision} digest ${digest}${values["break-glass"] ? " (break-glass)" : ""}`,
      );
      return 0;
    }
    case "execute": {
      const id = positionals[0];
      if (!id) return usage("execute needs a plan id", command);
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
    case "executions": {
      const [sub, id, decision] = positionals;
      if (sub === "verdict") return giveVerdict(id, decision, values.reason, values.json ?? false, idem);
      if (sub !== "cancel")
        return usage(
          `unknown executions command ${sub ?? "(none)"} (try: executions cancel, executions verdict)`,
          command,
        );
      if (!id) return usage("executions cancel needs an execution id", command);
      if (!values.reason?.trim()) return usage('executions cancel needs --reason "<why it should stop>"', command);
      const accepted = await api<{ id: string; location: string; duplicate: boolean }>(
        "POST",
        `/v1/executions/${encodeURIComponent(id)}:cancel`,
        { reason: values.reason },
        idem,
      );
      print(
        values.json
          ? accepted
          : `cancel of execution ${accepted.id} ${accepted.duplicate ? "was already requested" : "requested"}; it stops before its next step (${base}${accepted.location})`,
      );
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
      if (sub !== undefined)
        return usage(`unknown audit command ${sub} (try: audit, audit export, audit verify)`, command);
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
      if (!id) return usage("explain needs a plan or execution id", command);
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
    default: {
      const unhandled: never = command;
      throw new Error(`command ${String(unhandled)} has help but no implementation`);
    }
  }
}

/** `executions verdict <id> pass|fail --reason`: judges the analysis a paused execution waits on. */
async function giveVerdict(
  id: string | undefined,
  decision: string | undefined,
  reason: string | undefined,
  asJson: boolean,
  headers: Record<string, string>,
): Promise<number> {
  if (!id) return usage("executions verdict needs an execution id", "executions");
  if (decision !== "pass" && decision !== "fail") {
    return usage(
      `executions verdict needs pass or fail after the execution id${decision ? `, not "${decision}"` : ""}`,
      "executions",
    );
  }
  const why = decision === "pass" ? "why it passes" : "why it fails";
  if (!reason?.trim()) return usage(`executions verdict needs --reason "<${why}>"`, "executions");
  const accepted = await api<{ id: string; location: string; duplicate: boolean }>(
    "POST",
    `/v1/executions/${encodeURIComponent(id)}:verdict`,
    { decision, reason },
    headers,
  );
  const next =
    decision === "pass" ? "its verification goes on" : "its verification fails and the change is rolled back";
  print(
    asJson ? accepted : `verdict ${decision} on execution ${accepted.id} given; ${next} (${base}${accepted.location})`,
  );
  return 0;
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

function parseOptions(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      env: { type: "string" },
      service: { type: "string" },
      revision: { type: "string" },
      digest: { type: "string" },
      deny: { type: "boolean" },
      "break-glass": { type: "boolean" },
      reason: { type: "string" },
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
}

/** A usage error: what is wrong, the usage of the command at hand, and where the help is; exit 2. */
function usage(message: string, command: CommandName | null): number {
  const lines = [`wheelhouse: ${message}`];
  if (command) lines.push(...COMMANDS[command].usage.map((u) => `usage: wheelhouse ${u}`));
  lines.push(`Run \`wheelhouse ${command ? `help ${command}` : "--help"}\` for more.`);
  process.stderr.write(`${lines.join("\n")}\n`);
  return 2;
}

function help(command: CommandName | null): number {
  process.stdout.write(command ? commandHelp(command) : overview());
  return 0;
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
  } else if (error instanceof WheelhouseError) {
    process.stderr.write(`wheelhouse: ${error.message}\n`);
    if (error.field) process.stderr.write(`  field: ${error.field}\n`);
    if (error.fix) process.stderr.write(`  fix: ${error.fix}\n`);
  } else {
    process.stderr.write(`wheelhouse: ${(error as Error).message}\n`);
  }
  process.exitCode = 1;
}
