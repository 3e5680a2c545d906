/**
 * The Prometheus and Tempo clients over HTTP: Prometheus' instant-query
 * answers as its HTTP API documents them (served by the generic fixture),
 * Tempo's search against the Tempo fixture; each reduced to the one value an
 * analysis judges, with nothing (no series, NaN, no traces searched) as no
 * value, and failures as errors naming the problem and the fix.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FixtureReply, type HttpFixture, startHttpFixture } from "../../test/fixtures/http-fixture.ts";
import { startTempoFixture, type TempoFixture } from "../../test/fixtures/tempo/server.ts";
import { UnavailableError, ValidationError } from "../errors/index.ts";
import { createPrometheusClient, oneSample, type PrometheusError } from "./prometheus.ts";
import { createTempoClient, measureTraces, type TempoError } from "./tempo.ts";

const success = (resultType: string, result: unknown, warnings?: string[]): FixtureReply => ({
  kind: "json",
  body: { status: "success", data: { resultType, result }, ...(warnings ? { warnings } : {}) },
});

describe("Prometheus client", () => {
  let prometheus: HttpFixture;
  const replies: FixtureReply[] = [];

  before(async () => {
    prometheus = await startHttpFixture({
      routes: { "GET /api/v1/query": () => replies.shift() ?? success("vector", []) },
    });
  });
  after(() => prometheus.close());

  const client = () => createPrometheusClient({ url: `${prometheus.url}/`, timeoutMs: 2000 });

  it("sends the query and time, and reads a vector of one series", async () => {
    replies.push(success("vector", [{ metric: { service: "shop" }, value: [1_700_000_000.5, "0.0125"] }], ["partial"]));
    const at = new Date(1_700_000_000_500);
    const answer = await client().query('sum(rate(http_requests_total{code=~"5.."}[1m]))', { time: at });
    const request = prometheus.requests.at(-1);
    assert.equal(request?.query.get("query"), 'sum(rate(http_requests_total{code=~"5.."}[1m]))');
    assert.equal(request?.query.get("time"), "1700000000.500");
    assert.deepEqual(answer.warnings, ["partial"]);
    assert.match(answer.raw, /"0.0125"/);
    assert.deepEqual(oneSample(answer.result), { value: 0.0125, detail: '{service="shop"} 0.0125' });
  });

  it("reads a scalar", async () => {
    replies.push(success("scalar", [1_700_000_000, "3"]));
    assert.equal(oneSample((await client().query("scalar(sum(up))")).result).value, 3);
  });

  it("has no value for an empty vector, several series, NaN, ±Inf, a string or a range", async () => {
    const cases: [FixtureReply, RegExp][] = [
      [success("vector", []), /no series/],
      [
        success("vector", [
          { metric: { pod: "a" }, value: [1, "1"] },
          { metric: { pod: "b" }, value: [1, "2"] },
        ]),
        /2 series; aggregate/,
      ],
      [success("vector", [{ metric: {}, value: [1, "NaN"] }]), /NaN is no measurement/],
      [success("scalar", [1, "+Inf"]), /Infinity is no measurement/],
      [success("string", [1, "hello"]), /a string/],
      [success("matrix", [{ metric: {}, values: [[1, "1"]] }]), /range vector/],
    ];
    for (const [reply, detail] of cases) {
      replies.push(reply);
      const sample = oneSample((await client().query("q")).result);
      assert.equal(sample.value, null, String(detail));
      assert.match(sample.detail, detail);
    }
  });

  it("names a refused query (400 bad_data, 422) and keeps Prometheus' answer", async () => {
    for (const status of [400, 422]) {
      replies.push({
        kind: "json",
        status,
        body: { status: "error", errorType: "bad_data", error: 'invalid parameter "query": 1:5: parse error' },
      });
      const error = await client()
        .query("sum(")
        .then(
          () => null,
          (e: unknown) => e as PrometheusError,
        );
      assert.ok(error instanceof ValidationError, `status ${status}`);
      assert.match(error.message, /answered \d+ to "sum\(": bad_data: invalid parameter "query"/);
      assert.equal(error.field, "verification.analysis.query");
      assert.match(error.fix ?? "", /correct the PromQL/);
      assert.match(error.extra.raw ?? "", /parse error/);
    }
  });

  it("tells an unavailable server apart: 503, not Prometheus, not answering", async () => {
    replies.push({
      kind: "json",
      status: 503,
      body: { status: "error", errorType: "timeout", error: "query timed out" },
    });
    const timeout = await client()
      .query("up")
      .catch((e: unknown) => e as Error);
    assert.ok(timeout instanceof UnavailableError);
    assert.match(timeout.message, /503.*timeout: query timed out/);
    replies.push({ kind: "raw", status: 200, contentType: "text/html", body: "<html>Grafana</html>" });
    assert.ok(
      (await client()
        .query("up")
        .catch((e: unknown) => e)) instanceof UnavailableError,
    );
    const gone = createPrometheusClient({ url: "http://127.0.0.1:1", timeoutMs: 1000 });
    const refused = await gone.query("up").catch((e: unknown) => e as Error);
    assert.ok(refused instanceof UnavailableError);
    assert.match(refused.message, /did not answer/);
    assert.equal((refused as UnavailableError).field, "connectors.prometheus.url");
  });
});

describe("Tempo client", () => {
  let tempo: TempoFixture;
  const now = Date.now();

  before(async () => {
    tempo = await startTempoFixture();
    tempo.addTrace([{ name: "GET /cart", service: "shop", status: "error", durationMs: 900 }], new Date(now - 20_000));
    tempo.addTrace([{ name: "GET /cart", service: "shop", status: "error", durationMs: 300 }], new Date(now - 10_000));
    tempo.addTrace([{ name: "GET /", service: "shop", status: "ok", durationMs: 20 }], new Date(now - 5_000));
  });
  after(() => tempo.close());

  const client = () => createTempoClient({ url: tempo.url, timeoutMs: 2000 });
  const window = { start: new Date(now - 60_000), end: new Date(now) };

  it("searches with TraceQL in a window and measures a count or the slowest trace", async () => {
    const answer = await client().search({
      q: '{ resource.service.name = "shop" && status = error }',
      ...window,
      limit: 50,
    });
    const sent = tempo.searches().at(-1);
    assert.equal(sent?.query.get("start"), String(Math.floor((now - 60_000) / 1000)));
    assert.equal(sent?.query.get("limit"), "50");
    assert.equal(answer.traces.length, 2);
    assert.deepEqual(measureTraces(answer, "count", 50).value, 2);
    const slowest = measureTraces(answer, "max_duration_ms", 50);
    assert.equal(slowest.value, 900);
    assert.match(slowest.detail, /900 ms/);
  });

  it("counts no match as 0 when traces were searched, and as no value when none were", async () => {
    const none = await client().search({ q: '{ resource.service.name = "payments" }', ...window });
    assert.deepEqual(measureTraces(none, "count", 20), { value: 0, detail: "0 trace(s) matched of 3 inspected" });
    const future = new Date(now + 3_600_000);
    const nothing = await client().search({ q: "{}", start: future, end: future });
    const measured = measureTraces(nothing, "count", 20);
    assert.equal(measured.value, null);
    assert.match(measured.detail, /inspected no traces/);
    assert.equal(measureTraces(none, "max_duration_ms", 20).value, null);
  });

  it("searches by tags", async () => {
    const answer = await client().search({ tags: "service.name=shop", minDuration: "100ms", ...window });
    assert.equal(answer.traces.length, 2);
  });

  it("names a refused query and an unavailable Tempo, keeping the answer", async () => {
    const refused = await client()
      .search({ q: "{ status = }" })
      .catch((e: unknown) => e as TempoError);
    assert.ok(refused instanceof ValidationError);
    assert.match(refused.message, /refused the search: invalid TraceQL query/);
    assert.match((refused as TempoError).extra.raw ?? "", /invalid TraceQL/);
    tempo.failNextSearch({ kind: "raw", status: 500, contentType: "text/plain", body: "ingester unavailable" });
    const down = await client()
      .search({ q: "{}" })
      .catch((e: unknown) => e);
    assert.ok(down instanceof UnavailableError);
    assert.match((down as Error).message, /500: ingester unavailable/);
  });
});
