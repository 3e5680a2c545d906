/**
 * Readable lines on a terminal, JSON lines otherwise, the secret scrubber on both. The terminal
 * is a real pseudo-terminal from util-linux `script`; the test is skipped where it is missing.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { logFormat } from "./index.ts";

const run = promisify(execFile);
const SECRET = `ghp_${"a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"}`;
const dir = mkdtempSync(join(tmpdir(), "wh-log-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A process that logs a line with a secret in its message and in a field, then exits at once. */
function writeProgram(format: string): string {
  const file = join(dir, `log-${format}.ts`);
  const index = new URL("./index.ts", import.meta.url).pathname;
  writeFileSync(
    file,
    [
      `import { createLogger } from ${JSON.stringify(index)};`,
      `const log = createLogger({ service: "demo", format: ${JSON.stringify(format)} });`,
      `log.info({ command: "git push https://${SECRET}@github.com/o/r" }, "pushing with ${SECRET}");`,
      // Exiting at once must not lose the line (a worker-thread transport could).
      "process.exit(0);",
    ].join("\n"),
  );
  return file;
}

/** Runs a program under a pseudo-terminal; its output with colours and carriage returns removed. */
async function onTerminal(program: string, env: Record<string, string> = {}): Promise<string> {
  const command = `${process.execPath} --import tsx ${program}`;
  const { stdout } = await run("script", ["-qec", command, "/dev/null"], { env: { ...process.env, ...env } });
  return stdout.replaceAll("\r", "");
}

const script = existsSync("/usr/bin/script") || existsSync("/bin/script");

describe("log format", () => {
  const table: [format: "json" | "pretty" | "auto", tty: boolean, expected: "json" | "pretty"][] = [
    ["auto", true, "pretty"],
    ["auto", false, "json"],
    ["json", true, "json"],
    ["pretty", false, "pretty"],
  ];
  for (const [format, tty, expected] of table) {
    it(`${format} on ${tty ? "a terminal" : "a pipe"} writes ${expected}`, () => {
      assert.equal(logFormat(format, tty), expected);
    });
  }

  it("auto: readable lines on a terminal, scrubbed, none lost at exit", {
    skip: !script && "no `script`",
  }, async () => {
    const out = await onTerminal(writeProgram("auto"));
    assert.match(out, /^\[\d\d:\d\d:\d\d\.\d{3}\] .*INFO.*: .*pushing with \[REDACTED:github_token\]/m);
    assert.match(out, /service.*: .*"demo"/);
    assert.match(out, /command.*: "git push https:\/\/\[REDACTED/);
    assert.doesNotMatch(out, /^\{/m, "no JSON line on a terminal");
    assert.ok(!out.includes(SECRET), out);
  });

  it("NO_COLOR turns the colours off", { skip: !script && "no `script`" }, async () => {
    const out = await onTerminal(writeProgram("auto"), { NO_COLOR: "1" });
    assert.match(out, /INFO: pushing with/);
    assert.ok(!out.includes("\u001b["), "no escape sequences");
  });

  it("json on a terminal, and auto on a pipe, write JSON lines, scrubbed", {
    skip: !script && "no `script`",
  }, async () => {
    const forced = await onTerminal(writeProgram("json"));
    const { stdout: piped } = await run(process.execPath, ["--import", "tsx", writeProgram("auto")]);
    for (const out of [forced, piped]) {
      const line = JSON.parse(out.trim().split("\n")[0] ?? "") as { msg: string; command: string; service: string };
      assert.equal(line.service, "demo");
      assert.equal(line.msg, "pushing with [REDACTED:github_token]");
      assert.ok(!out.includes(SECRET), out);
    }
  });
});
