/**
 * Change windows on the host side: checking the windows in a policy data
 * document, and the UTC offsets of their time zones that the Rego reads from
 * `input.time_zones`. The Rego cannot look time zones up itself (the wasm
 * target hands `time.*` to the host, and opa-wasm does not implement them), so
 * the host computes each zone's offsets around `input.time` from Node's tz
 * database and the decision stays a pure function of its input.
 */
import type { FieldIssue } from "../errors/index.ts";
import type { PolicyInput } from "./input.ts";

/** One stretch of a zone's UTC offset, as `input.time_zones[zone]` holds it. */
export interface ZoneOffset {
  /** Minutes since the Unix epoch (UTC) from which `offset` applies. */
  readonly from: number;
  /** Local time minus UTC, in minutes (Europe/Berlin: 60 in winter, 120 in summer). */
  readonly offset: number;
}

/** `input.time_zones`: each zone's offsets around the evaluation time, sorted by `from`. */
export type TimeZoneOffsets = Readonly<Record<string, readonly ZoneOffset[]>>;

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;
const WINDOW_KEYS = new Set(["days", "start", "end", "tz"]);
const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/;
const WINDOW_EXAMPLE = '{"days": ["Mon", "Tue"], "start": "09:00", "end": "16:00", "tz": "Europe/Berlin"}';
const MINUTE_MS = 60_000;
const DAY_MINUTES = 1440;
// The Rego looks up to 8 local days ahead for the next opening, and offsets reach ±14 h.
const RANGE_BEFORE_MINUTES = 2 * DAY_MINUTES;
const RANGE_AFTER_MINUTES = 10 * DAY_MINUTES;

/**
 * Problems with `wheelhouse.config.change_windows` in a policy data document
 * (the whole `data` tree), each naming the field under `prefix` and the fix.
 * No windows at all is fine (no restriction); the policy denies on anything
 * it cannot read, but a bad window is refused here, before it ever serves.
 */
export function changeWindowIssues(data: unknown, prefix = "data"): FieldIssue[] {
  const windows = changeWindowsOf(data);
  const base = `${prefix}.wheelhouse.config.change_windows`;
  if (windows === undefined) return [];
  if (!isRecord(windows)) {
    return [
      {
        field: base,
        message: "is not an object of environment → list of windows",
        fix: `write {"*": [${WINDOW_EXAMPLE}]}, with a key per environment or "*" for the rest`,
      },
    ];
  }
  const issues: FieldIssue[] = [];
  for (const [environment, list] of Object.entries(windows)) {
    const field = `${base}.${environment}`;
    if (!Array.isArray(list)) {
      issues.push({
        field,
        message: "is not a list of windows",
        fix: `write [${WINDOW_EXAMPLE}] ([] means never open)`,
      });
      continue;
    }
    for (const [index, window] of list.entries()) issues.push(...windowIssues(window, `${field}[${index}]`));
  }
  return issues;
}

function windowIssues(window: unknown, field: string): FieldIssue[] {
  if (!isRecord(window)) return [{ field, message: "is not an object", fix: `write ${WINDOW_EXAMPLE}` }];
  const issues: FieldIssue[] = [];
  for (const key of Object.keys(window)) {
    if (!WINDOW_KEYS.has(key)) {
      issues.push({
        field: `${field}.${key}`,
        message: `is not a window field`,
        fix: `a window has days, start, end and tz (e.g. ${WINDOW_EXAMPLE}); remove ${key} or rename it`,
      });
    }
  }
  const days = window.days;
  if (!Array.isArray(days) || days.some((day) => !(WEEKDAYS as readonly unknown[]).includes(day))) {
    issues.push({
      field: `${field}.days`,
      message: `${JSON.stringify(days)} is not a list of weekdays`,
      fix: `list the days the window opens on, from ${WEEKDAYS.join(", ")} (e.g. ["Mon", "Tue"])`,
    });
  }
  for (const key of ["start", "end"] as const) {
    const value = window[key];
    if (typeof value !== "string" || !CLOCK.test(value)) {
      issues.push({
        field: `${field}.${key}`,
        message: `${JSON.stringify(value)} is not a time of day`,
        fix: `write HH:MM on the 24-hour clock, 00:00 to 23:59 (e.g. "09:00"); an end at or before the start runs past midnight, so midnight is "00:00"`,
      });
    }
  }
  if (window.tz !== undefined) {
    const tz = window.tz;
    if (typeof tz !== "string" || !isTimeZone(tz)) {
      issues.push({
        field: `${field}.tz`,
        message: `${JSON.stringify(tz)} is not a time zone this runtime knows`,
        fix: 'use an IANA time zone name such as "Europe/Berlin" or "America/New_York", or "UTC" (the default)',
      });
    }
  }
  return issues;
}

/** The time zones other than UTC that the data's change windows name, sorted. */
export function changeWindowZones(data: unknown): string[] {
  const windows = changeWindowsOf(data);
  if (!isRecord(windows)) return [];
  const zones = new Set<string>();
  for (const list of Object.values(windows)) {
    if (!Array.isArray(list)) continue;
    for (const window of list) {
      if (isRecord(window) && typeof window.tz === "string" && window.tz !== "UTC") zones.add(window.tz);
    }
  }
  return [...zones].sort();
}

/**
 * The offsets of `zones` from two days before `time` (RFC 3339) to ten days
 * after it, enough for the Rego's window check and its next-opening search.
 * The first entry starts the range with the offset then in force; each later
 * one is a change (a DST transition). Null when `time` is not a timestamp
 * (the policy denies that input anyway). Zones this runtime does not know
 * are left out; the policy then denies, naming the zone.
 */
export function timeZoneOffsets(zones: readonly string[], time: string): TimeZoneOffsets | null {
  const ms = Date.parse(time);
  if (!Number.isFinite(ms)) return null;
  const now = Math.floor(ms / MINUTE_MS);
  const from = now - RANGE_BEFORE_MINUTES;
  const to = now + RANGE_AFTER_MINUTES;
  const out: Record<string, ZoneOffset[]> = {};
  for (const zone of zones) {
    const offsets = offsetsBetween(zone, from, to);
    if (offsets !== null) out[zone] = offsets;
  }
  return out;
}

/** Whether `Intl` knows `zone` (an IANA name, "UTC", or a fixed offset like "+01:00"). */
export function isTimeZone(zone: string): boolean {
  return formatterFor(zone) !== null;
}

// --- Offsets from Intl, cached per zone and UTC year ---------------------------

interface YearOffsets {
  /** The offset at the year's first minute. */
  readonly initial: number;
  /** Changes within the year, ascending. */
  readonly changes: readonly ZoneOffset[];
}

const formatters = new Map<string, Intl.DateTimeFormat | null>();
const years = new Map<string, YearOffsets>();

function offsetsBetween(zone: string, from: number, to: number): ZoneOffset[] | null {
  const format = formatterFor(zone);
  if (format === null) return null;
  const first = new Date(from * MINUTE_MS).getUTCFullYear();
  const last = new Date(to * MINUTE_MS).getUTCFullYear();
  let offset = offsetAt(yearOffsets(zone, format, first), from);
  const out: ZoneOffset[] = [{ from, offset }];
  for (let year = first; year <= last; year++) {
    for (const change of yearOffsets(zone, format, year).changes) {
      if (change.from <= from || change.from > to || change.offset === offset) continue;
      out.push(change);
      offset = change.offset;
    }
  }
  return out;
}

function offsetAt(year: YearOffsets, minute: number): number {
  let offset = year.initial;
  for (const change of year.changes) {
    if (change.from > minute) break;
    offset = change.offset;
  }
  return offset;
}

function yearOffsets(zone: string, format: Intl.DateTimeFormat, year: number): YearOffsets {
  const key = `${zone}@${year}`;
  const cached = years.get(key);
  if (cached) return cached;
  const start = Date.UTC(year, 0, 1) / MINUTE_MS;
  const end = Date.UTC(year + 1, 0, 1) / MINUTE_MS;
  const initial = intlOffset(format, start);
  const changes: ZoneOffset[] = [];
  // Sample every 6 hours (no zone changes its offset twice that fast), then find each change to the minute.
  const step = 6 * 60;
  let previous = start;
  let previousOffset = initial;
  for (let minute = Math.min(start + step, end); minute <= end; minute = Math.min(minute + step, end)) {
    const offset = intlOffset(format, minute);
    if (offset !== previousOffset) {
      let lo = previous;
      let hi = minute;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (intlOffset(format, mid) === previousOffset) lo = mid;
        else hi = mid;
      }
      // A change at the next year's first minute is kept here: that year's own list starts after it.
      changes.push({ from: hi, offset });
      previousOffset = offset;
    }
    previous = minute;
    if (minute === end) break;
  }
  const result = { initial, changes };
  years.set(key, result);
  return result;
}

/** Local minus UTC at `minute`, in whole minutes. */
function intlOffset(format: Intl.DateTimeFormat, minute: number): number {
  const parts = format.formatToParts(new Date(minute * MINUTE_MS));
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  const local = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return Math.round(local / MINUTE_MS) - minute;
}

function formatterFor(zone: string): Intl.DateTimeFormat | null {
  const cached = formatters.get(zone);
  if (cached !== undefined) return cached;
  let format: Intl.DateTimeFormat | null;
  try {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch {
    format = null;
  }
  formatters.set(zone, format);
  return format;
}

function changeWindowsOf(data: unknown): unknown {
  if (!isRecord(data) || !isRecord(data.wheelhouse) || !isRecord(data.wheelhouse.config)) return undefined;
  return data.wheelhouse.config.change_windows;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `input` with `time_zones` for each of `zones` it does not already carry
 * (a caller replaying a recorded input keeps the offsets it recorded).
 * Returns the input itself when nothing is to add or `time` is unusable.
 */
export function withTimeZones(input: PolicyInput, zones: readonly string[]): PolicyInput {
  // Inputs come from callers that may not be typed: anything odd goes to the policy as it is, which denies it.
  if (zones.length === 0 || !isRecord(input) || typeof input.time !== "string") return input;
  const given: TimeZoneOffsets = isRecord(input.time_zones) ? input.time_zones : {};
  const missing = zones.filter((zone) => !Object.hasOwn(given, zone));
  if (missing.length === 0) return input;
  const computed = timeZoneOffsets(missing, input.time);
  if (computed === null) return input;
  return { ...input, time_zones: { ...computed, ...given } };
}
