/**
 * The CLI's help and its answer to a mistyped command: the help texts as functions, and the
 * entry file as a process (no API is called: help and usage errors never reach the network).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { COMMANDS, type CommandName, closestCommand, commandHelp, overview, unknownCommand } from "./help.ts";

const run = promisify(execFile);
const main = new URL("./main.ts", import.meta.url).pathname;

/** Runs the CLI; never rejects, so that a test can assert on the exit code. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", main, ...args], {
      // Unroutable on purpose: help must not need the API.
      env: { ...process.env, WHEELHOUSE_URL: "http://127.0.0.1:9", WHEELHOUSE_TOKEN: "" },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const names = Object.keys(COMMANDS) as CommandName[];

describe("cli help texts", () => {
  it("lists every command with its summary, and the environment variables", () => {
    const text = overview();
    const lines = text.split("\n");
    for (const name of names) {
      assert.ok(
        lines.some((line) => line.startsWith(`  ${name} `) && line.endsWith(COMMANDS[name].summary)),
        `overview line for ${name}`,
      );
    }
    assert.match(text, /WHEELHOUSE_URL/);
    assert.match(text, /WHEELHOUSE_TOKEN/);
    assert.match(text, /wheelhouse help <command>/);
  });

  for (const name of names) {
    it(`gives ${name} its usage, arguments, options and examples`, () => {
      const text = commandHelp(name);
      const help = COMMANDS[name];
      for (const usage of help.usage) assert.ok(text.includes(`wheelhouse ${usage}`), `usage line ${usage}`);
      for (const [arg] of "arguments" in help ? help.arguments : []) assert.ok(text.includes(arg), `argument ${arg}`);
      for (const [option] of "options" in help ? help.options : [])
        assert.ok(text.includes(option), `option ${option}`);
      assert.ok(help.examples.length > 0);
      for (const example of help.examples) {
        assert.ok(example.startsWith(`wheelhouse ${name === "help" ? "" : name}`), `example ${example}`);
        assert.ok(text.includes(example));
      }
      if (name !== "help") assert.match(text, /WHEELHOUSE_URL[\s\S]*WHEELHOUSE_TOKEN/);
    });
  }

  const closest: [string, CommandName | null][] = [
    ["plna", "plan"],
    ["stauts", "status"],
    ["aprove", "approve"],
    ["approval", "approve"],
    ["exec", "execute"],
    ["audti", "audit"],
    ["explian", "explain"],
    ["Plan", "plan"],
    ["deploy", null],
    ["kubectl", null],
  ];
  for (const [input, expected] of closest) {
    it(`suggests ${expected ?? "nothing"} for "${input}"`, () => {
      assert.equal(closestCommand(input), expected);
    });
  }

  it("names the unknown command and the closest one", () => {
    assert.equal(unknownCommand("plna"), 'unknown command "plna". Did you mean `wheelhouse plan`?');
    assert.equal(unknownCommand("deploy"), 'unknown command "deploy".');
  });
});

describe("cli entry file", () => {
  it("`--help` prints the overview and exits 0", async () => {
    const { code, stdout } = await cli("--help");
    assert.equal(code, 0);
    assert.equal(stdout, overview());
  });

  it("`help <command>` and `<command> --help` print that command's help and exit 0", async () => {
    for (const args of [
      ["help", "approve"],
      ["approve", "--help"],
      ["approve", "some-plan", "-h"],
    ]) {
      const { code, stdout } = await cli(...args);
      assert.equal(code, 0, args.join(" "));
      assert.equal(stdout, commandHelp("approve"), args.join(" "));
    }
  });

  it("an unknown command is an error naming it, the closest command and --help (exit 2)", async () => {
    const { code, stdout, stderr } = await cli("aprove", "some-plan");
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.match(stderr, /unknown command "aprove"\. Did you mean `wheelhouse approve`\?/);
    assert.match(stderr, /wheelhouse --help/);
    const topic = await cli("help", "deploy");
    assert.equal(topic.code, 2);
    assert.match(topic.stderr, /unknown command "deploy"\./);
  });

  it("a missing argument or unknown option shows the command's usage (exit 2)", async () => {
    const missing = await cli("status");
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /status needs a plan id\nusage: wheelhouse status <plan-id>/);
    assert.match(missing.stderr, /wheelhouse help status/);
    const option = await cli("status", "p1", "--bogus");
    assert.equal(option.code, 2);
    assert.match(option.stderr, /status: Unknown option '--bogus'\nusage: wheelhouse status/);
  });

  it("no command prints the overview on stderr (exit 2)", async () => {
    const { code, stdout, stderr } = await cli();
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(stderr, overview());
  });
});
