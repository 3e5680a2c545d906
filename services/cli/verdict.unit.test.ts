/**
 * `wheelhouse executions verdict`: what it refuses before calling the API (usage errors, exit 2, with
 * the command's usage). Sending a verdict to a paused execution is services/orchestrator/verdict.int.test.ts.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { commandHelp } from "./help.ts";

const run = promisify(execFile);
const main = new URL("./main.ts", import.meta.url).pathname;

/** Runs the CLI against an unroutable API; never rejects, so that a test can assert on the exit code. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", main, ...args], {
      env: { ...process.env, WHEELHOUSE_URL: "http://127.0.0.1:9", WHEELHOUSE_TOKEN: "t" },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("cli: executions verdict", () => {
  it("its help names the subcommand, pass|fail and --reason", () => {
    const text = commandHelp("executions");
    assert.match(text, /wheelhouse executions verdict <execution-id> pass\|fail --reason "<why>"/);
    assert.match(text, /judge the analysis a paused execution waits on/);
  });

  const refused = [
    { args: ["executions", "verdict"], message: /executions verdict needs an execution id/ },
    { args: ["executions", "verdict", "x-r1"], message: /needs pass or fail after the execution id\n/ },
    {
      args: ["executions", "verdict", "x-r1", "maybe", "--reason", "r"],
      message: /needs pass or fail after the execution id, not "maybe"/,
    },
    { args: ["executions", "verdict", "x-r1", "pass"], message: /needs --reason "<why it passes>"/ },
    { args: ["executions", "verdict", "x-r1", "fail", "--reason", "  "], message: /needs --reason "<why it fails>"/ },
    { args: ["executions", "judge", "x-r1"], message: /try: executions cancel, executions verdict/ },
  ];
  for (const { args, message } of refused) {
    it(`refuses \`${args.join(" ")}\` with the usage (exit 2)`, async () => {
      const { code, stdout, stderr } = await cli(...args);
      assert.equal(code, 2, stderr);
      assert.equal(stdout, "");
      assert.match(stderr, message);
      assert.match(stderr, /usage: wheelhouse executions verdict <execution-id> pass\|fail/);
    });
  }
});
