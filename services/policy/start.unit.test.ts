import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigError } from "../../lib/errors/index.ts";
import { readPolicyData } from "./start.ts";

describe("readPolicyData (policy.data_path at start-up)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wheelhouse-policy-data-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function write(name: string, changeWindows: unknown): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify({ wheelhouse: { config: { stage: 1, change_windows: changeWindows } } }));
    return path;
  }

  test("windows in a time zone and across midnight are accepted", async () => {
    const path = await write("ok.json", {
      "*": [{ days: ["Mon", "Tue", "Wed", "Thu"], start: "09:00", end: "16:00", tz: "Europe/Berlin" }],
      production: [{ days: ["Sat"], start: "22:00", end: "04:00" }],
    });
    assert.deepEqual(readPolicyData(path)?.wheelhouse, {
      config: {
        stage: 1,
        change_windows: {
          "*": [{ days: ["Mon", "Tue", "Wed", "Thu"], start: "09:00", end: "16:00", tz: "Europe/Berlin" }],
          production: [{ days: ["Sat"], start: "22:00", end: "04:00" }],
        },
      },
    });
    assert.equal(readPolicyData(undefined), undefined);
  });

  test("an unknown zone or a malformed time stops start-up, naming the field and the fix", async () => {
    const path = await write("bad.json", {
      production: [{ days: ["Sat"], start: "22:00", end: "4:00", tz: "Europe/Berln" }],
    });
    assert.throws(
      () => readPolicyData(path),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(
          error.issues.map((i) => i.field),
          [
            "policy.data_path: data.wheelhouse.config.change_windows.production[0].end",
            "policy.data_path: data.wheelhouse.config.change_windows.production[0].tz",
          ],
        );
        assert.match(
          error.message,
          /production\[0\]\.tz: "Europe\/Berln" is not a time zone .*Fix: use an IANA time zone name such as "Europe\/Berlin"/,
        );
        assert.match(error.message, /production\[0\]\.end: "4:00" is not a time of day\. Fix: write HH:MM/);
        return true;
      },
    );
  });

  test("a file that is not JSON still names policy.data_path", async () => {
    const path = join(dir, "broken.json");
    await writeFile(path, "{");
    assert.throws(
      () => readPolicyData(path),
      (error: unknown) => error instanceof ConfigError && error.issues[0]?.field === "policy.data_path",
    );
  });
});
