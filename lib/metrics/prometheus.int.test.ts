/**
 * The Prometheus client against a real Prometheus (Debian's package)
 * scraping an exporter the test controls: an error ratio measured from
 * request counters, an empty answer, NaN from no traffic, a scalar, and a
 * query Prometheus refuses, each read as the engine needs it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type CounterExporter,
  prometheusBinary,
  startCounterExporter,
  startTestPrometheus,
  type TestPrometheus,
} from "../../test/support/prometheus.ts";
import { ValidationError } from "../errors/index.ts";
import { createPrometheusClient, oneSample } from "./prometheus.ts";

const RATIO =
  'sum(rate(http_requests_total{service="web",code=~"5.."}[10s])) / sum(rate(http_requests_total{service="web"}[10s]))';

describe("Prometheus client against a real Prometheus", {
  skip: prometheusBinary() ? false : "no prometheus binary",
}, () => {
  let exporter: CounterExporter;
  let prometheus: TestPrometheus;

  before(async () => {
    exporter = await startCounterExporter();
    exporter.set({ namespace: "shop", service: "web", version: "v1", code: "200" }, 0);
    exporter.set({ namespace: "shop", service: "web", version: "v1", code: "500" }, 0);
    exporter.set({ namespace: "shop", service: "idle", version: "v1", code: "200" }, 0);
    exporter.set({ namespace: "shop", service: "idle", version: "v1", code: "500" }, 0);
    prometheus = await startTestPrometheus([exporter.target]);
  });
  after(async () => {
    await prometheus?.stop();
    await exporter?.close();
  });

  it("measures an error ratio from counters, and NaN where there was no traffic", async () => {
    const client = createPrometheusClient({ url: prometheus.url });
    // Traffic: 90 good and 10 failed requests a scrape, for a few scrapes.
    for (let i = 0; i < 4; i++) {
      exporter.add({ namespace: "shop", service: "web", version: "v1", code: "200" }, 90);
      exporter.add({ namespace: "shop", service: "web", version: "v1", code: "500" }, 10);
      await exporter.scraped(1);
    }
    const ratio = oneSample((await client.query(RATIO)).result);
    assert.ok(ratio.value !== null && Math.abs(ratio.value - 0.1) < 0.02, `ratio ${ratio.value} (${ratio.detail})`);

    const idle = await client.query(
      'sum(rate(http_requests_total{service="idle",code=~"5.."}[10s])) / sum(rate(http_requests_total{service="idle"}[10s]))',
    );
    const nan = oneSample(idle.result);
    assert.equal(nan.value, null);
    assert.match(nan.detail, /NaN is no measurement/);
  });

  it("answers nothing for labels that match nothing, and reads a scalar", async () => {
    const client = createPrometheusClient({ url: prometheus.url });
    const empty = oneSample((await client.query('sum(http_requests_total{service="nope"})')).result);
    assert.equal(empty.value, null);
    assert.match(empty.detail, /no series/);
    assert.equal(oneSample((await client.query("scalar(vector(2))")).result).value, 2);
    const several = oneSample((await client.query('http_requests_total{service="web"}')).result);
    assert.match(several.detail, /2 series/);
  });

  it("names a query Prometheus refuses", async () => {
    const client = createPrometheusClient({ url: prometheus.url });
    const error = await client.query("sum(rate(").catch((e: unknown) => e as ValidationError);
    assert.ok(error instanceof ValidationError);
    assert.match(error.message, /answered 400 .*bad_data/);
  });
});
