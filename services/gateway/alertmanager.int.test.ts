/**
 * Alertmanager as a real sender: Debian's prometheus-alertmanager, started on
 * free ports with a receiver pointing at the gateway (bearer credentials in
 * http_config), fed a firing alert and then its resolution through its own
 * API; both signals must arrive end to end.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { AnyRecordedEvent } from "../../events/index.ts";
import { startTestGateway, type TestGateway } from "../../test/support/gateway.ts";
import { freePort, waitFor } from "../../test/support/index.ts";

const BINARY = process.env.WH_ALERTMANAGER_BIN ?? "/usr/bin/prometheus-alertmanager";

describe("Alertmanager delivering to the gateway", () => {
  let gw: TestGateway;
  let am: ChildProcess;
  let dir: string;
  let amUrl: string;
  let amLog = "";

  before(async () => {
    gw = await startTestGateway({ projector: false });
    dir = mkdtempSync(join(tmpdir(), "wh-am-"));
    const port = await freePort();
    amUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, "alertmanager.yml"),
      `route:
  receiver: wheelhouse
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: wheelhouse
    webhook_configs:
      - url: ${gw.url}/v1/hooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: ${gw.secrets.alertmanagerToken}
`,
    );
    am = spawn(
      BINARY,
      [
        `--config.file=${join(dir, "alertmanager.yml")}`,
        `--storage.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--cluster.listen-address=",
        "--log.level=debug",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    am.stdout?.on("data", (d: Buffer) => {
      amLog += d.toString();
    });
    am.stderr?.on("data", (d: Buffer) => {
      amLog += d.toString();
    });
    await waitFor("alertmanager ready", async () => (await fetch(`${amUrl}/-/ready`).catch(() => null))?.ok, {
      timeoutMs: 15_000,
    });
  });

  after(async () => {
    if (am && am.exitCode === null) {
      const exited = new Promise((resolve) => am.once("exit", resolve));
      am.kill("SIGTERM");
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    await gw?.stop();
  });

  async function signalsOf(): Promise<(AnyRecordedEvent & { type: "signal.received" })[]> {
    const out: (AnyRecordedEvent & { type: "signal.received" })[] = [];
    for await (const batch of gw.store.readStream({ fromSeq: 1 })) {
      for (const e of batch)
        if (e.type === "signal.received") out.push(e as AnyRecordedEvent & { type: "signal.received" });
    }
    return out;
  }

  it("a firing alert and then its resolution each arrive as a signal", async () => {
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const alert = {
      labels: { alertname: "CheckoutLatencyHigh", service: "checkout", environment: "staging", severity: "warning" },
      annotations: { summary: "checkout p99 above 2s" },
      startsAt,
      generatorURL: "http://prometheus.local/graph",
    };
    const fire = await fetch(`${amUrl}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ ...alert, endsAt: new Date(Date.now() + 3_600_000).toISOString() }]),
    });
    assert.equal(fire.status, 200, await fire.text());
    const firing = await waitFor(
      "the firing signal",
      async () => (await signalsOf()).find((s) => s.payload.status === "firing"),
      { timeoutMs: 15_000, intervalMs: 100 },
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\nalertmanager log:\n${amLog.slice(-3000)}`);
    });
    assert.equal(firing.payload.service, "checkout");
    assert.equal(firing.payload.summary, "checkout p99 above 2s");
    assert.equal(firing.payload.details.alertname, "CheckoutLatencyHigh");

    const resolve = await fetch(`${amUrl}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ ...alert, endsAt: new Date(Date.now() - 1_000).toISOString() }]),
    });
    assert.equal(resolve.status, 200);
    const resolved = await waitFor(
      "the resolved signal",
      async () => (await signalsOf()).find((s) => s.payload.status === "resolved"),
      { timeoutMs: 15_000, intervalMs: 100 },
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\nalertmanager log:\n${amLog.slice(-3000)}`);
    });
    assert.equal(resolved.payload.details.fingerprint, firing.payload.details.fingerprint);
    // Each state once: Alertmanager's notifications were deduplicated, not multiplied.
    const all = await signalsOf();
    assert.equal(all.filter((s) => s.payload.status === "firing").length, 1);
    assert.equal(all.filter((s) => s.payload.status === "resolved").length, 1);
  });
});
