/**
 * The local stack's NATS users against a real nats-server 2.14 of their own (its own port and
 * data directory, so the shared stack is left alone), configured the way scripts/infra does it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection, nkeyAuthenticator, nkeys } from "@nats-io/transport-node";
import { type AnyEvent, type AnyRecordedEvent, newEvent } from "../events/index.ts";
import { parseConfig } from "../lib/config/index.ts";
import { ForbiddenError, UnauthenticatedError } from "../lib/errors/index.ts";
import { createEventStore, type EventStore } from "../lib/eventstore/index.ts";
import { openRuntime } from "../lib/runtime/index.ts";
import { freePort, uniqueName, waitFor } from "../test/support/index.ts";
import { type NatsUserName, seedFileName, writeNatsAuth } from "./nats-auth.ts";

const root = join(import.meta.dirname, "..");
const natsServer = join(root, ".tools", "bin", "nats-server");
const actor = { kind: "service" as const, id: "auth-test", roles: [] };

/** The error and its causes, for asserting on what NATS said however the store wraps it. */
const chain = (error: unknown): string => {
  const parts: string[] = [];
  for (let e = error as (Error & { cause?: unknown }) | undefined; e; e = e.cause as typeof e) {
    parts.push(`${e.name}: ${e.message}`);
  }
  return parts.join(" <- ");
};

describe("NATS users of the local stack (own nats-server)", () => {
  const dir = mkdtempSync(join(tmpdir(), "wh-nats-auth-int-"));
  const authDir = join(dir, "auth");
  const prefix = uniqueName("auth");
  let url: string;
  let server: ChildProcess;
  let serverLog = "";
  const connections: NatsConnection[] = [];
  let admin: EventStore;

  const seedRef = (user: NatsUserName) => `file:${join(authDir, seedFileName(user))}` as const;
  const connectAs = async (user: NatsUserName): Promise<NatsConnection> => {
    const seed = readFileSync(join(authDir, seedFileName(user)), "utf8").trim();
    const nc = await connect({ servers: url, authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) });
    connections.push(nc);
    return nc;
  };
  const storeAs = async (user: NatsUserName) => createEventStore({ nc: await connectAs(user), prefix });
  const planRequested = (planId: string) =>
    newEvent(
      "plan.requested",
      planId,
      { plan_id: planId, intent: "restart checkout", source: "api" },
      {
        actor,
        correlation_id: planId,
      },
    ) as AnyEvent;
  const executionStarted = (executionId: string) =>
    newEvent(
      "execution.started",
      executionId,
      { execution_id: executionId, plan_id: "p1", workflow_id: `wf-${executionId}` },
      { actor, correlation_id: executionId },
    ) as AnyEvent;

  before(async () => {
    writeNatsAuth(authDir);
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    const conf = join(dir, "nats.conf");
    // What scripts/infra writes, on this test's own port and store.
    writeFileSync(
      conf,
      [
        "server_name: wheelhouse_auth_test",
        `listen: 127.0.0.1:${port}`,
        "max_payload: 8MB",
        `jetstream { store_dir: ${JSON.stringify(join(dir, "jetstream"))}, sync_interval: always }`,
        "include ./auth/auth.conf",
        "",
      ].join("\n"),
    );
    server = spawn(natsServer, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
    server.stdout?.on("data", (d: Buffer) => {
      serverLog += d.toString();
    });
    server.stderr?.on("data", (d: Buffer) => {
      serverLog += d.toString();
    });
    const nc = await waitFor("the test's nats-server to accept the admin user", () => connectAs("admin"), {
      timeoutMs: 15_000,
      intervalMs: 100,
    }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${serverLog.slice(-2000)}`);
    });
    admin = createEventStore({ nc, prefix });
    await admin.provision();
  });

  after(async () => {
    for (const nc of connections) await nc.close().catch(() => {});
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once("exit", resolve));
      server.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every event of an aggregate instance, as the admin user reads them. */
  const stored = (aggregate: "plan" | "execution", id: string): Promise<AnyRecordedEvent[]> =>
    admin.readAggregate(aggregate, id);

  it("refuses an anonymous client and a key it does not know", async () => {
    await assert.rejects(connect({ servers: url }), (e: Error) => e.name === "AuthorizationError");
    const stranger = nkeyAuthenticator(nkeys.createUser().getSeed());
    await assert.rejects(
      connect({ servers: url, authenticator: stranger }),
      (e: Error) => e.name === "AuthorizationError",
    );
  });

  it("refuses a plan event from a user that does not own the plan aggregate, and stores nothing", async () => {
    for (const user of ["projector", "tool-router"] as const) {
      const planId = uniqueName(`p_${user.replace("-", "_")}`);
      const store = await storeAs(user);
      const started = Date.now();
      await assert.rejects(store.append([planRequested(planId)], { expectedVersion: "none" }), (e: unknown) => {
        assert.match(chain(e), /permission/i, `${user}: ${chain(e)}`);
        // A 403 naming the subject and the fix, not "did not acknowledge… retry" (retrying cannot help).
        assert.ok(e instanceof ForbiddenError, `${user}: ${chain(e)}`);
        assert.equal(e.status, 403);
        assert.equal(e.field, "nats.credentials");
        assert.ok(e.message.includes(store.subjectFor("plan", planId)), e.message);
        assert.match(e.fix ?? "", /lacks publish permission for the plan aggregate/);
        return true;
      });
      assert.ok(Date.now() - started < 4000, `${user}: refused at once, not after the publish timeout`);
      // A raw publish, the way the anonymous client of the issue wrote one, is dropped by the server.
      const nc = connections.at(-1) as NatsConnection;
      nc.publish(store.subjectFor("plan", planId), JSON.stringify(planRequested(planId)));
      await nc.flush();
      assert.deepEqual(await stored("plan", planId), [], `${user} wrote to the plan stream`);
    }
    const policy = await storeAs("policy");
    const executionId = uniqueName("e_policy");
    // An atomic batch is refused the same way.
    await assert.rejects(
      policy.append([executionStarted(executionId), executionStarted(executionId)], { expectedVersion: "none" }),
      (e: unknown) => e instanceof ForbiddenError && /execution aggregate/.test(e.fix ?? ""),
    );
    assert.deepEqual(await stored("execution", executionId), []);
  });

  it("stores the events of the aggregates a user owns, and the tool router's output chunks", async () => {
    const planId = uniqueName("p_gateway");
    const gateway = await storeAs("gateway");
    const result = await gateway.append([planRequested(planId)], { expectedVersion: "none", idempotencyKey: planId });
    assert.equal(result.version, result.seqs[0]);
    assert.deepEqual(
      (await stored("plan", planId)).map((e) => e.type),
      ["plan.requested"],
    );

    const executionId = uniqueName("e_orchestrator");
    await (await storeAs("orchestrator")).append([executionStarted(executionId)], { expectedVersion: "none" });
    assert.deepEqual(
      (await stored("execution", executionId)).map((e) => e.type),
      ["execution.started"],
    );

    const output = newEvent(
      "tool_call.output",
      executionId,
      { execution_id: executionId, tool_call_id: "tc1", seq: 0, stream: "stdout", text: "ok\n" },
      { actor, correlation_id: executionId },
    ) as AnyEvent;
    const chunk = await (await storeAs("tool-router")).append([output]);
    assert.equal(chunk.seqs.length, 1);
  });

  it("lets the gateway use its idempotency KV bucket and the planner consume with a durable consumer", async () => {
    const kv = await new Kvm(await connectAs("gateway")).create(`${prefix}_idempotency`, { history: 1 });
    await kv.put("k1", "first answer");
    assert.equal((await kv.get("k1"))?.string(), "first answer");

    const planId = uniqueName("p_consumed");
    await admin.append([planRequested(planId)], { expectedVersion: "none" });
    const seen: string[] = [];
    const consumption = await (await storeAs("planner")).consume({
      durable: uniqueName("planner"),
      filterTypes: ["plan.requested"],
      handler: async (event) => {
        seen.push(event.aggregate_id);
      },
    });
    try {
      await waitFor("the planner to receive the plan request", () => seen.includes(planId));
    } finally {
      await consumption.stop();
    }
  });

  it("lets the gateway hand a Linear webhook to the approvals user, which may answer it but not publish elsewhere", async () => {
    const approvals = await connectAs("approvals");
    const subject = `${prefix}.approvals.linear.webhook`;
    const sub = approvals.subscribe(subject, {
      callback: (_error, msg) => {
        msg.respond(JSON.stringify({ outcome: "ignored", detail: "test" }));
      },
    });
    await approvals.flush();
    const gateway = await connectAs("gateway");
    const reply = await gateway.request(subject, "{}", { timeout: 2000 });
    assert.deepEqual(reply.json(), { outcome: "ignored", detail: "test" });
    // ChatOps may not hand anything over: its request never reaches the approvals user.
    const chatops = await connectAs("chatops");
    await assert.rejects(chatops.request(subject, "{}", { timeout: 1000 }));
    sub.unsubscribe();
  });

  it("refuses a stream update from a service user, so it cannot add subjects or sources to the events stream", async () => {
    const jsm = await jetstreamManager(await connectAs("planner"));
    const name = admin.streams.events;
    const before = (await jsm.streams.info(name)).config;
    await assert.rejects(
      jsm.streams.update(name, { ...before, subjects: [...before.subjects, `${prefix}.sneak.>`] }),
      (e: unknown) => /permission|timeout/i.test(chain(e)),
    );
    assert.deepEqual((await jsm.streams.info(name)).config.subjects, before.subjects);
  });

  it("starts a service process with its own seed: it provisions and appends through the event store", async () => {
    const planId = uniqueName("p_runtime");
    const runtime = await openRuntime(
      parseConfig({ nats: { url, prefix, credentials: seedRef("gateway") }, log: { level: "silent" } }),
      "gateway",
    );
    try {
      await runtime.store.append([planRequested(planId)], { expectedVersion: "none" });
    } finally {
      await runtime.close();
    }
    assert.deepEqual(
      (await stored("plan", planId)).map((e) => e.type),
      ["plan.requested"],
    );
  });

  it("stops a service whose own user may not bring the streams to new settings, and says why", async () => {
    const config = parseConfig({
      nats: { url, prefix, credentials: seedRef("planner"), duplicate_window_ms: 60_000 },
      log: { level: "silent" },
    });
    await assert.rejects(openRuntime(config, "planner"), (e: unknown) => {
      assert.ok(e instanceof ForbiddenError, chain(e));
      assert.match(e.message, /STREAM\.UPDATE/);
      assert.equal(e.field, "nats.credentials");
      return true;
    });
  });

  it("tells a process without credentials which setting to fix", async () => {
    await assert.rejects(
      openRuntime(parseConfig({ profile: "production", nats: { url, prefix }, log: { level: "silent" } }), "gateway"),
      (e: unknown) => {
        assert.ok(e instanceof UnauthenticatedError, chain(e));
        assert.equal(e.field, "nats.credentials");
        assert.match(e.fix ?? "", /WHEELHOUSE_NATS__CREDENTIALS/);
        return true;
      },
    );
  });
});
