import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { leaked, loadCorpus } from "../../test/fixtures/redaction/corpus.ts";
import { createLogger, withContext } from "./index.ts";

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("logging", () => {
  it("writes JSON with the service, level and ISO time", () => {
    const out = capture();
    createLogger({ service: "gateway", destination: out.stream }).info({ plan_id: "p1" }, "plan accepted");
    const [line] = out.lines();
    assert.equal(line?.service, "gateway");
    assert.equal(line?.level, "info");
    assert.equal(line?.msg, "plan accepted");
    assert.equal(line?.plan_id, "p1");
    assert.match(String(line?.time), /^\d{4}-\d\d-\d\dT/);
  });

  it("redacts secret fields by name, nested and in request headers", () => {
    const out = capture();
    const log = createLogger({ service: "t", destination: out.stream });
    log.info({ password: "hunter2", llm: { api_key: "sk-abc" }, req: { headers: { authorization: "Bearer x" } } });
    const text = JSON.stringify(out.lines());
    for (const secret of ["hunter2", "sk-abc", "Bearer x"]) assert.ok(!text.includes(secret), `${secret} leaked`);
    assert.ok(text.includes("[REDACTED:field]"));
  });

  it("scrubs with the redaction library when no scrubber is given", () => {
    const out = capture();
    const log = createLogger({ service: "t", destination: out.stream });
    const { kinds } = loadCorpus();
    for (const { kind, text } of kinds) log.warn({ detail: text, kind }, `kind ${kind}: ${text}`);
    log.error({ err: new Error(`connect postgres://app:Xq9-vB7_pLm2@db.internal/app failed`) }, "boom");
    const written = out
      .lines()
      .map((l) => JSON.stringify(l))
      .join("\n");
    const leaks = kinds.flatMap((k) => k.secrets.filter((s) => leaked(written, s)).map(() => k.kind));
    assert.deepEqual(leaks, []);
    assert.ok(!written.includes("Xq9-vB7_pLm2"));
  });

  it("runs messages through a scrubber, so secrets inside text do not leak", () => {
    const out = capture();
    const log = createLogger({
      service: "t",
      destination: out.stream,
      scrub: (s) => s.replaceAll(/ghp_[A-Za-z0-9]{36}/g, "[REDACTED:github_token]"),
    });
    log.warn(`clone failed with token ghp_${"a".repeat(36)}`);
    assert.equal(out.lines()[0]?.msg, "clone failed with token [REDACTED:github_token]");
  });

  it("scrubs secrets inside field values and errors too", () => {
    const out = capture();
    const token = `ghp_${"b".repeat(36)}`;
    const log = createLogger({
      service: "t",
      destination: out.stream,
      scrub: (s) => s.replaceAll(/ghp_[A-Za-z0-9]{36}/g, "[REDACTED:github_token]"),
    });
    log.error(
      { argv: ["git", "clone", `https://x:${token}@github.com/o/r`], err: new Error(`auth ${token}`) },
      "clone",
    );
    const text = JSON.stringify(out.lines());
    assert.ok(!text.includes(token), text);
    assert.ok(text.includes("[REDACTED:github_token]"));
  });

  it("carries correlation and request ids on every line of a child logger", () => {
    const out = capture();
    const log = withContext(createLogger({ service: "t", destination: out.stream }), {
      correlation_id: "c-1",
      request_id: "r-1",
      skipped: undefined,
    });
    log.info("one");
    log.error("two");
    for (const line of out.lines()) {
      assert.equal(line.correlation_id, "c-1");
      assert.equal(line.request_id, "r-1");
      assert.ok(!("skipped" in line));
    }
  });
});
