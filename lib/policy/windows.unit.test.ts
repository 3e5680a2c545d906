import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { PolicyInput } from "./input.ts";
import {
  changeWindowIssues,
  changeWindowZones,
  isTimeZone,
  timeZoneOffsets,
  withTimeZones,
  type ZoneOffset,
} from "./windows.ts";

const minutes = (iso: string) => Date.parse(iso) / 60_000;
const dataWith = (change_windows: unknown) => ({ wheelhouse: { config: { change_windows } } });
const berlinOffice = { days: ["Mon", "Tue", "Wed", "Thu"], start: "09:00", end: "16:00", tz: "Europe/Berlin" };

/** The offset Intl reports through a different door (the GMT±hh:mm name), to check the sampled one. */
function longOffset(zone: string, minute: number): number {
  const name =
    new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" })
      .formatToParts(new Date(minute * 60_000))
      .find((p) => p.type === "timeZoneName")?.value ?? "";
  const match = /^GMT(?:([+-])(\d{2}):(\d{2}))?$/.exec(name);
  assert.ok(match, `unexpected zone name ${name}`);
  if (match[1] === undefined) return 0;
  return (match[1] === "-" ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3]));
}

/** What the Rego's offset_at does: the last segment starting at or before `minute`, else the first. */
function offsetAt(segments: readonly ZoneOffset[], minute: number): number {
  let offset = segments[0]?.offset ?? Number.NaN;
  for (const segment of segments.slice(1)) if (segment.from <= minute) offset = segment.offset;
  return offset;
}

describe("changeWindowIssues", () => {
  test("the shipped data and windows of every valid shape pass", () => {
    const shipped = JSON.parse(readFileSync(join(import.meta.dirname, "../../policies/data.json"), "utf8"));
    assert.deepEqual(changeWindowIssues(shipped), []);
    const valid = dataWith({
      "*": [berlinOffice],
      production: [
        { days: ["Sat"], start: "22:00", end: "04:00", tz: "America/New_York" },
        { days: ["Sun"], start: "00:00", end: "00:00" },
        { days: [], start: "23:59", end: "00:00", tz: "UTC" },
      ],
      frozen: [],
    });
    assert.deepEqual(changeWindowIssues(valid), []);
    assert.deepEqual(changeWindowIssues({}), [], "no windows at all: no restriction");
    assert.deepEqual(changeWindowIssues(dataWith(undefined)), []);
  });

  test("an unknown time zone names the field and valid examples", () => {
    const [issue, ...rest] = changeWindowIssues(dataWith({ production: [{ ...berlinOffice, tz: "Europe/Berln" }] }));
    assert.equal(rest.length, 0);
    assert.equal(issue?.field, "data.wheelhouse.config.change_windows.production[0].tz");
    assert.match(issue?.message ?? "", /"Europe\/Berln" is not a time zone/);
    assert.match(issue?.fix ?? "", /"Europe\/Berlin".*"UTC"/);
    assert.equal(changeWindowIssues(dataWith({ "*": [{ ...berlinOffice, tz: 1 }] }))[0]?.field.endsWith(".tz"), true);
  });

  test("malformed times, days and keys each name their field and the fix", () => {
    const issues = changeWindowIssues(
      dataWith({
        staging: [
          { days: ["Mon"], start: "9:00", end: "24:00" },
          { days: ["Monday"], start: "09:00", end: "16:00", timezone: "Europe/Berlin" },
          "Mon 09:00-16:00",
        ],
        production: { days: ["Mon"] },
      }),
      "policy.data_path",
    );
    const byField = new Map(issues.map((i) => [i.field, i]));
    const base = "policy.data_path.wheelhouse.config.change_windows";
    assert.deepEqual(
      [...byField.keys()].sort(),
      [
        `${base}.production`,
        `${base}.staging[0].end`,
        `${base}.staging[0].start`,
        `${base}.staging[1].days`,
        `${base}.staging[1].timezone`,
        `${base}.staging[2]`,
      ].sort(),
    );
    assert.match(byField.get(`${base}.staging[0].start`)?.fix ?? "", /HH:MM.*"09:00"/);
    assert.match(byField.get(`${base}.staging[0].end`)?.fix ?? "", /midnight is "00:00"/);
    assert.match(byField.get(`${base}.staging[1].days`)?.fix ?? "", /Sun, Mon, Tue, Wed, Thu, Fri, Sat/);
    assert.match(byField.get(`${base}.staging[1].timezone`)?.fix ?? "", /days, start, end and tz/);
    for (const issue of issues) assert.ok(issue.fix, `${issue.field} has no fix`);
    assert.equal(changeWindowIssues(dataWith(["Mon"]))[0]?.field, "data.wheelhouse.config.change_windows");
  });
});

describe("changeWindowZones", () => {
  test("lists each zone other than UTC once, sorted", () => {
    const data = dataWith({
      "*": [berlinOffice, { ...berlinOffice, days: ["Fri"] }],
      production: [
        { days: ["Sat"], start: "22:00", end: "04:00", tz: "America/New_York" },
        { ...berlinOffice, tz: "UTC" },
      ],
      dev: [{ days: ["Mon"], start: "09:00", end: "10:00" }],
    });
    assert.deepEqual(changeWindowZones(data), ["America/New_York", "Europe/Berlin"]);
    assert.deepEqual(changeWindowZones({}), []);
  });
});

describe("timeZoneOffsets", () => {
  test("Europe/Berlin changes to summer time at 2026-03-29 01:00 UTC", () => {
    const offsets = timeZoneOffsets(["Europe/Berlin"], "2026-03-27T12:00:00Z");
    assert.deepEqual(offsets, {
      "Europe/Berlin": [
        { from: minutes("2026-03-25T12:00:00Z"), offset: 60 },
        { from: minutes("2026-03-29T01:00:00Z"), offset: 120 },
      ],
    });
  });

  test("America/New_York changes at 2026-03-08 07:00 UTC; the time's own offset does not matter", () => {
    const offsets = timeZoneOffsets(["America/New_York"], "2026-03-07T12:00:00-05:00");
    assert.deepEqual(offsets?.["America/New_York"], [
      { from: minutes("2026-03-05T17:00:00Z"), offset: -300 },
      { from: minutes("2026-03-08T07:00:00Z"), offset: -240 },
    ]);
  });

  test("a zone without a change in range has one segment; an unknown zone is left out", () => {
    const offsets = timeZoneOffsets(["Asia/Kolkata", "Mars/Olympus_Mons"], "2026-07-01T00:00:00Z");
    assert.deepEqual(offsets, { "Asia/Kolkata": [{ from: minutes("2026-06-29T00:00:00Z"), offset: 330 }] });
  });

  test("a time that is not a timestamp gives null (the policy denies it)", () => {
    assert.equal(timeZoneOffsets(["Europe/Berlin"], "yesterday"), null);
  });

  test("the offsets agree with Intl at every hour of their range, across years and zones", () => {
    const zones = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "Pacific/Chatham"];
    const times = ["2026-03-27T12:00:00Z", "2026-10-30T00:00:00Z", "2026-12-28T20:00:00Z", "2027-04-01T00:00:00Z"];
    let changes = 0;
    for (const time of times) {
      const offsets = timeZoneOffsets(zones, time);
      assert.ok(offsets);
      const now = minutes(time);
      for (const zone of zones) {
        const segments: readonly ZoneOffset[] = offsets[zone] ?? [];
        changes += segments.length - 1;
        for (let minute = now - 2 * 1440; minute <= now + 10 * 1440; minute += 60) {
          assert.equal(offsetAt(segments, minute), longOffset(zone, minute), `${zone} at ${minute} (${time})`);
        }
      }
    }
    assert.ok(changes >= 4, `only ${changes} DST changes in the sample: it checks too little`);
  });

  test("isTimeZone knows IANA names and UTC, not typos", () => {
    assert.equal(isTimeZone("Europe/Berlin"), true);
    assert.equal(isTimeZone("UTC"), true);
    assert.equal(isTimeZone("Europe/Berln"), false);
    assert.equal(isTimeZone(""), false);
  });
});

describe("withTimeZones", () => {
  const input = { time: "2026-03-27T12:00:00Z" } as PolicyInput;

  test("adds the zones the input lacks and keeps the ones it carries", () => {
    const recorded = [{ from: 0, offset: 45 }];
    const out = withTimeZones({ ...input, time_zones: { "Europe/Berlin": recorded } }, [
      "Europe/Berlin",
      "America/New_York",
    ]);
    assert.equal(out.time_zones?.["Europe/Berlin"], recorded);
    assert.deepEqual(out.time_zones?.["America/New_York"]?.[0]?.offset, -240);
  });

  test("returns the input itself when there is nothing to add", () => {
    assert.equal(withTimeZones(input, []), input);
    const bad = { time: "yesterday" } as PolicyInput;
    assert.equal(withTimeZones(bad, ["Europe/Berlin"]), bad);
    assert.equal(withTimeZones(undefined as unknown as PolicyInput, ["Europe/Berlin"]), undefined);
  });
});
