/**
 * Kill drill: the gateway process (services/gateway/main.ts, configured through the environment as in
 * production) is SIGKILLed while keyed `POST /v1/plans` are in flight — some appended and waiting for
 * the read model, some arriving as it dies. A new process then takes every retry by the same
 * Idempotency-Key: each must answer at once (no 409 while the dead claims age), and every key must end
 * with exactly one plan: none lost, none twice.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { createEventStore, type EventStore } from "../../lib/eventstore/index.ts";
import { type OidcFixture, startOidcFixture } from "../../test/fixtures/oidc/server.ts";
import {
  connectTestNats,
  deleteStreams,
  dropSchemas,
  freePort,
  natsEnv,
  testEnv,
  uniqueName,
  waitFor,
} from "../../test/support/index.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const LANDED = 12;
const BURST = 24;
/** Far below the 60 s a dead claim used to hold its key; generous for a loaded two-core machine. */
const AT_ONCE_MS = 5_000;

describe("kill drill: SIGKILL of the gateway during keyed appends, retries through a new process", () => {
  const prefix = uniqueName("drill");
  const schema = uniqueName("drill");
  let dir: string;
  let idp: OidcFixture;
  let nc: NatsConnection;
  let store: EventStore;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "wh-kill-drill-"));
    idp = await startOidcFixture();
    nc = await connectTestNats();
    store = createEventStore({ nc, prefix });
    await store.provision();
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await deleteStreams(nc, prefix);
    await nc.close();
    await dropSchemas(schema);
    await idp.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The gateway as its own process, on this test's stream prefix, schema and issuer. */
  async function startGatewayProcess(): Promise<{ url: string; child: ChildProcess; log: () => string }> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // The gateway's own NATS user where the stack has them: what it may publish is what it needs.
      ...natsEnv("gateway"),
      WHEELHOUSE_NATS__PREFIX: prefix,
      WHEELHOUSE_STORAGE__POSTGRES_URL: testEnv.pgUrl,
      WHEELHOUSE_STORAGE__POSTGRES_SCHEMA: schema,
      WHEELHOUSE_STORAGE__EVIDENCE__PATH: join(dir, "evidence"),
      WHEELHOUSE_DATA_DIR: dir,
      WHEELHOUSE_GATEWAY__PORT: String(port),
      // Requests that wait for a read model nobody projects stay in flight until the kill.
      WHEELHOUSE_GATEWAY__MAX_WAIT_MS: "120000",
      WHEELHOUSE_GATEWAY__AUTH__MODE: "oidc",
      WHEELHOUSE_GATEWAY__AUTH__ISSUER: idp.issuer,
      WHEELHOUSE_GATEWAY__AUTH__JWKS_URL: idp.jwksUrl,
      WHEELHOUSE_GATEWAY__AUTH__ALGORITHMS: "[RS256]",
      WHEELHOUSE_LOG__LEVEL: "warn",
      WHEELHOUSE_LOG__FORMAT: "json",
    };
    delete env.WHEELHOUSE_CONFIG;
    const child = spawn(process.execPath, ["--import", "tsx", "services/gateway/main.ts"], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let log = "";
    child.stdout?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
      "the gateway process to serve /healthz",
      async () => {
        if (child.exitCode !== null) throw new Error(`the gateway exited ${child.exitCode}: ${log}`);
        return (await fetch(`${url}/healthz`).catch(() => null))?.ok;
      },
      { timeoutMs: 90_000, intervalMs: 100 },
    );
    return { url, child, log: () => log };
  }

  it("every retry answers at once; each key has exactly one plan", async () => {
    const token = await idp.sign({ sub: "alice", groups: ["wheelhouse-operators"] }, { expiresIn: "1h" });
    const body = (key: string) => JSON.stringify({ intent: `restart checkout in staging (${key})` });
    const post = (url: string, key: string, headers: Record<string, string> = {}) =>
      fetch(`${url}/v1/plans`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "idempotency-key": key,
          ...headers,
        },
        body: body(key),
      });

    const first = await startGatewayProcess();
    const landed = Array.from({ length: LANDED }, (_, i) => `drill-landed-${i}`);
    const burst = Array.from({ length: BURST }, (_, i) => `drill-burst-${i}`);
    // Appended, then held waiting for a projection that never comes: claimed, with no answer stored.
    const inFlight = landed.map((key) => post(first.url, key, { prefer: "wait=100" }).catch(() => null));
    await waitFor("the waiting requests' appends", async () => (await store.lastSeq()) >= LANDED, {
      timeoutMs: 30_000,
    });
    // The burst arrives as the process dies: some appended, some claimed only, some never read.
    const answeredBeforeKill = new Map<string, string>();
    const burstRequests = burst.map((key) =>
      post(first.url, key)
        .then(async (res) => {
          if (res.status === 202) answeredBeforeKill.set(key, ((await res.json()) as { id: string }).id);
        })
        .catch(() => null),
    );
    await waitFor("a first burst append", async () => (await store.lastSeq()) > LANDED, { timeoutMs: 30_000 });
    const exited = new Promise((resolve) => first.child.once("exit", resolve));
    first.child.kill("SIGKILL");
    await exited;
    await Promise.all([...inFlight, ...burstRequests]);

    // The drill reached the state it is about: claims without answers, left by a dead process.
    const kv = await new Kvm(nc).open(`${prefix}_idempotency`);
    let pending = 0;
    for await (const k of await kv.keys()) {
      const entry = await kv.get(k);
      if (entry?.operation === "PUT" && (entry.json() as { state: string }).state === "pending") pending++;
    }
    assert.ok(pending >= LANDED, `only ${pending} pending claims after the kill`);

    const second = await startGatewayProcess();
    const answers = new Map<string, { id: string; duplicate: boolean }>();
    for (const key of [...landed, ...burst]) {
      const started = Date.now();
      const res = await post(second.url, key);
      const elapsed = Date.now() - started;
      assert.equal(res.status, 202, `${key}: ${await res.clone().text()}`);
      assert.ok(elapsed < AT_ONCE_MS, `${key} took ${elapsed} ms`);
      answers.set(key, (await res.json()) as { id: string; duplicate: boolean });
    }
    second.child.kill("SIGTERM");

    for (const key of landed) assert.equal(answers.get(key)?.duplicate, true, `${key} was appended again`);
    for (const [key, id] of answeredBeforeKill) assert.equal(answers.get(key)?.id, id, `${key} names another plan`);
    const ids = new Set([...answers.values()].map((a) => a.id));
    assert.equal(ids.size, LANDED + BURST);
    for (const id of ids) {
      const events = await store.readAggregate("plan", id);
      assert.deepEqual(
        events.map((e) => e.type),
        ["plan.requested"],
        `plan ${id}`,
      );
    }
    let requested = 0;
    for await (const batch of store.readStream({ fromSeq: 1 })) {
      requested += batch.filter((e) => e.type === "plan.requested").length;
    }
    assert.equal(requested, LANDED + BURST);
  });
});
