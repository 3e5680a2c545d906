/**
 * Page cursors: the last row's sort key as base64url JSON, opaque to
 * clients. Every paged list (read models, audit trail, service graph) uses
 * this one codec.
 *
 * ```ts
 * const next = encodeCursor([last.created_at, last.plan_id]);
 * const key = decodeCursor(cursor, ["timestamp", "string"]); // [at, id] | null
 * ```
 */
import { ValidationError } from "../errors/index.ts";

/** A sort key: the values a page ends on, in the order the list sorts by. */
export type CursorKey = readonly (string | number)[];

/** What each element of a key must be: text, a number, or an ISO 8601 timestamp (text). */
export type CursorPart = "string" | "number" | "timestamp";

/** The decoded key for `parts`: numbers where a number is expected, text everywhere else. */
export type DecodedCursor<P extends readonly CursorPart[]> = {
  -readonly [I in keyof P]: P[I] extends "number" ? number : string;
};

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/**
 * The key a cursor holds, checked against `parts`; null when there is no
 * cursor (first page). A cursor this API did not return is a
 * `ValidationError` naming `field`.
 */
export function decodeCursor<const P extends readonly CursorPart[]>(
  cursor: string | null | undefined,
  parts: P,
  field = "cursor",
): DecodedCursor<P> | null {
  if (cursor === null || cursor === undefined || cursor === "") return null;
  let key: unknown = null;
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    // reported below
  }
  if (Array.isArray(key) && key.length === parts.length && parts.every((part, i) => isPart(part, key[i]))) {
    return key as DecodedCursor<P>;
  }
  throw new ValidationError("the cursor is not one this API returned", {
    field,
    fix: "pass next_cursor from the previous page unchanged, or leave it out to start over",
  });
}

function isPart(part: CursorPart, value: unknown): boolean {
  if (part === "number") return typeof value === "number" && Number.isFinite(value);
  if (typeof value !== "string") return false;
  return part === "string" || !Number.isNaN(Date.parse(value));
}
