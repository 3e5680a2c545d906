import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { waitFor } from "../../test/support/index.ts";
import { UnavailableError } from "../errors/index.ts";
import { createSandbox, type OutputLine } from "./sandbox.ts";

const hostEnv = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: process.env.HOME ?? "/root",
  WH_TEST_TOKEN: "tok-4f9a8b7c6d5e-secret",
  WH_NOT_ALLOWED: "should-not-leak",
};
const node = process.execPath;

/** True while the process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
/** Pids in a process group, read from /proc (the "process tree" of the call). */
async function groupMembers(pgid: number): Promise<number[]> {
  const { readdir } = await import("node:fs/promises");
  const out: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") out.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return out;
}

describe("sandbox", () => {
  const sandbox = createSandbox({ envAllow: ["PATH", "HOME"], hostEnv, killGraceMs: 500 });

  it("runs the argv without a shell, in a private work dir that is removed, with a clean env", async () => {
    const lines: OutputLine[] = [];
    const result = await sandbox.run({
      argv: ["bash", "-c", 'pwd; echo "$WH_NOT_ALLOWED|$EXTRA"; echo "$1"', "bash", "a b; $(touch /tmp/pwned-wh)"],
      env: { EXTRA: "x1" },
      onLine: (l) => lines.push(l),
    });
    assert.equal(result.exit_code, 0);
    assert.equal(result.binary, "/usr/bin/bash");
    assert.deepEqual(result.argv.slice(0, 2), ["bash", "-c"]);
    const [pwd, env, arg] = result.stdout.text.split("\n");
    assert.match(pwd ?? "", /wh-tool-/);
    assert.equal(existsSync(pwd ?? "/"), false, "work dir removed");
    assert.equal(env, "|x1", "only allow-listed and given variables are visible");
    assert.equal(arg, "a b; $(touch /tmp/pwned-wh)", "arguments are passed verbatim, never interpreted");
    assert.deepEqual(
      lines.map((l) => [l.seq, l.stream]),
      [
        [0, "stdout"],
        [1, "stdout"],
        [2, "stdout"],
      ],
    );
    assert.equal(result.stdout.sha256.length, 64);
  });

  it("kills the whole process group on timeout, children that ignore SIGTERM included", async () => {
    const lines: string[] = [];
    let pgid = 0;
    const started = Date.now();
    const result = await sandbox.run({
      // The children ignore SIGTERM (inherited), so only the SIGKILL escalation stops them.
      argv: ["bash", "-c", "trap '' TERM; sleep 300 & echo $!; (sleep 300; echo never) & echo $!; wait"],
      timeoutMs: 500,
      onSpawn: ({ pid }) => {
        pgid = pid;
      },
      onLine: (l) => lines.push(l.line),
    });
    assert.equal(result.timed_out, true);
    assert.equal(result.exit_code, null);
    assert.equal(result.signal, "SIGKILL");
    assert.ok(Date.now() - started < 10_000);
    const children = lines.map(Number);
    assert.equal(children.length, 2, `children reported: ${lines.join(",")}`);
    assert.ok(pgid > 0);
    await waitFor("the process group to be empty", async () => (await groupMembers(pgid)).length === 0, {
      timeoutMs: 5000,
    });
    for (const pid of children) assert.equal(alive(pid), false, `child ${pid} is gone`);
  });

  it("kills what the tool left behind in its group when the tool itself exits", async () => {
    const result = await sandbox.run({ argv: ["bash", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"] });
    assert.equal(result.exit_code, 0);
    const pid = Number(result.stdout.text);
    await waitFor(`leftover child ${pid} to be killed`, () => !alive(pid), { timeoutMs: 5000 });
  });

  it("cancels through an AbortSignal", async () => {
    const controller = new AbortController();
    const pending = sandbox.run({
      argv: ["sleep", "300"],
      signal: controller.signal,
      // Cancel once the process exists (onSpawn is that signal), not after a guessed delay.
      onSpawn: () => controller.abort(),
    });
    const result = await pending;
    assert.equal(result.canceled, true);
    assert.notEqual(result.exit_code, 0);
  });

  it("caps 100 MB of output without holding it in memory", async () => {
    const cap = 1024 * 1024;
    const total = 100 * 1024 * 1024;
    const code = `const line = "x".repeat(1023) + "\\n"; const block = line.repeat(1024);
      let left = ${total}; function go(){ while (left > 0) { left -= block.length; if (!process.stdout.write(block)) { process.stdout.once("drain", go); return; } } } go();`;
    // Collect garbage while sampling, so the peak measures what is retained, not allocation churn.
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    gc();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
      gc();
    }, 20);
    let forwarded = 0;
    const result = await sandbox.run({
      argv: [node, "-e", code],
      maxOutputBytes: cap,
      // Writing and draining 100 MB is CPU work: a loaded two-core machine took over a minute. Not asserted.
      timeoutMs: 240_000,
      onLine: (l) => {
        forwarded += l.line.length + 1;
      },
    });
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.equal(result.exit_code, 0, result.stderr.text);
    assert.equal(result.stdout.bytes, total, "every byte was drained");
    assert.equal(result.truncated, true);
    assert.equal(result.stdout.truncated, true);
    assert.ok(result.stdout.text.length <= cap, `kept ${result.stdout.text.length}`);
    assert.ok(forwarded <= cap, `forwarded ${forwarded}`);
    const growthMb = (peak - before) / 1024 / 1024;
    assert.ok(growthMb < 32, `RSS grew by ${growthMb.toFixed(1)} MB while 100 MB streamed through`);
  });

  it("cuts an endless line into bounded pieces", async () => {
    const result = await sandbox.run({
      argv: [node, "-e", 'process.stdout.write("y".repeat(300000))'],
      maxOutputBytes: 1024 * 1024,
    });
    const pieces = result.stdout.text.split("\n");
    assert.ok(pieces.length >= 4, `got ${pieces.length} pieces`);
    assert.ok(pieces.every((p) => p.length <= 64 * 1024));
    assert.equal(result.truncated, false);
  });

  it("never lets an injected credential reach the output stream or the result", async () => {
    const lines: string[] = [];
    const result = await sandbox.run({
      argv: [
        "bash",
        "-c",
        'echo "token is $TOOL_TOKEN"; echo "$TOOL_TOKEN" >&2; echo "aws AKIAABCDEF""GHIJKLMNOP"; echo ok',
      ],
      credentials: { TOOL_TOKEN: "env:WH_TEST_TOKEN" },
      onLine: (l) => lines.push(l.line),
    });
    const everything = JSON.stringify(result) + lines.join("\n");
    assert.equal(everything.includes(hostEnv.WH_TEST_TOKEN), false, "the credential value never appears");
    assert.equal(everything.includes("AKIAABCDEFGHIJKLMNOP"), false, "an AWS key id is scrubbed");
    assert.ok(lines.includes("token is [REDACTED:injected_secret]"), lines.join("|"));
    assert.equal(result.stderr.text, "[REDACTED:injected_secret]");
    assert.ok(lines.includes("ok"));
  });

  it("never lets part of an injected credential through where a long line is cut", async () => {
    // A cut of 16 bytes and one line per offset: the 23-byte credential straddles a cut at every position.
    const cutting = createSandbox({ envAllow: ["PATH"], hostEnv, maxLineBytes: 16, killGraceMs: 500 });
    const lines: string[] = [];
    const result = await cutting.run({
      argv: [
        node,
        "-e",
        'for (let i = 0; i <= 40; i++) console.log(".".repeat(i) + process.env.TOOL_TOKEN + ".".repeat(20)); process.stdout.write(process.env.TOOL_TOKEN.repeat(3))',
      ],
      credentials: { TOOL_TOKEN: "env:WH_TEST_TOKEN" },
      onLine: (l) => lines.push(l.line),
    });
    assert.equal(result.exit_code, 0, result.stderr.text);
    assert.deepEqual(result.stdout.text.split("\n"), lines);
    const placeholders = lines.join("").split("[REDACTED:injected_secret]");
    assert.ok(placeholders.length > 42, `${placeholders.length - 1} placeholders`);
    // Without its placeholders the output is nothing but the dots around the credential.
    assert.match(placeholders.join(""), /^\.*$/, lines.join("|"));
    // Cut: no piece holds more than 16 of the tool's bytes (a placeholder stands for up to 23).
    assert.ok(
      lines.every((l) => Buffer.byteLength(l.replaceAll("[REDACTED:injected_secret]", "")) <= 16),
      lines.join("|"),
    );
  });

  it("applies the injected redactor after the built-in one", async () => {
    const custom = createSandbox({
      envAllow: ["PATH"],
      hostEnv,
      redact: (s) => s.replaceAll("customer-42", "[customer]"),
    });
    const result = await custom.run({ argv: ["echo", "customer-42"] });
    assert.equal(result.stdout.text, "[customer]");
  });

  it("refuses a missing credential and a missing binary with typed errors", async () => {
    await assert.rejects(
      sandbox.run({ argv: ["echo", "x"], credentials: { T: "env:WH_UNSET_VAR_FOR_TEST" } }),
      (e: unknown) => e instanceof UnavailableError && e.field === "tools.credentials.T",
    );
    await assert.rejects(
      sandbox.run({ argv: ["wh-no-such-binary-xyz"] }),
      (e: unknown) => e instanceof UnavailableError && /not installed/.test((e as Error).message),
    );
  });

  it("redacts every line of a multi-line credential the tool prints", async () => {
    const pem =
      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----";
    const withKey = createSandbox({ envAllow: ["PATH"], hostEnv: { ...hostEnv, WH_TEST_PEM: pem }, killGraceMs: 500 });
    const lines: OutputLine[] = [];
    const result = await withKey.run({
      argv: ["printenv", "TOOL_KEY"],
      credentials: { TOOL_KEY: "env:WH_TEST_PEM" },
      onLine: (l) => lines.push(l),
    });
    assert.equal(result.exit_code, 0);
    const printed = [result.stdout.text, ...lines.map((l) => l.line)].join("\n");
    for (const part of ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"]) {
      assert.equal(printed.includes(part), false, printed);
    }
  });
});
