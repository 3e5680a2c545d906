/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the byte-exact form the audit
 * chain hashes and tool capabilities bind (input and plan digests). No
 * package for it is installed (node_modules has only
 * `safe-stable-stringify`, a transitive dependency whose key order and error
 * handling are not specified against the RFC), and JCS is small enough to
 * write here: ECMAScript `JSON.stringify` already serializes strings and
 * numbers exactly as the RFC requires (sections 3.2.2.2 and 3.2.2.3); what
 * it adds is object keys sorted by UTF-16 code units, no whitespace, and a
 * refusal of values JSON cannot represent.
 */
import { ValidationError } from "../errors/index.ts";

/** Returns the RFC 8785 canonical JSON text of `value`. Throws on NaN, Infinity, bigint, functions, symbols. */
export function canonicalize(value: unknown): string {
  try {
    return write(value);
  } catch (error) {
    // The fast path carries no path; find where the offending value sits only when there is one.
    if (error instanceof NotJson) throw notJson(locate(value, "$") ?? "$", error.what);
    throw error;
  }
}

/**
 * `canonicalize` for an object whose key set is known in advance (an audit
 * record body): `keys` must be every key the object may have, already in
 * RFC 8785 order. Saves the per-record key sort on the projector's hot path;
 * the result is byte-identical to `canonicalize(value)` (unit-tested).
 */
export function canonicalizeKnownKeys(value: Readonly<Record<string, unknown>>, keys: readonly string[]): string {
  try {
    let out = "{";
    let first = true;
    for (const key of keys) {
      const item = value[key];
      if (item === undefined) continue;
      out += `${first ? "" : ","}"${key}":${write(item)}`;
      first = false;
    }
    return `${out}}`;
  } catch (error) {
    if (error instanceof NotJson) throw notJson(locate(value, "$") ?? "$", error.what);
    throw error;
  }
}

class NotJson extends Error {
  readonly what: string;
  constructor(what: string) {
    super(what);
    this.what = what;
  }
}

// Hot path of the audit chain (every record is canonicalized on write, verify and export): no path strings, no arrays.
function write(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new NotJson(String(value));
      // JSON.stringify is ES Number::toString, which is the RFC's number form; -0 becomes 0 as the RFC requires.
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ",";
          const item: unknown = value[i];
          out += item === undefined ? "null" : write(item);
        }
        return `${out}]`;
      }
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      if (ArrayBuffer.isView(value)) throw new NotJson("binary data");
      // Default sort compares UTF-16 code units, which is exactly the RFC's order (section 3.2.3).
      const keys = Object.keys(value).sort();
      let out = "{";
      let first = true;
      for (const key of keys) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) continue; // as JSON.stringify: an absent optional field
        out += `${first ? "" : ","}${JSON.stringify(key)}:${write(item)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw new NotJson(typeof value);
  }
}

function locate(value: unknown, path: string): string | null {
  if (typeof value === "number") return Number.isFinite(value) ? null : path;
  if (typeof value === "bigint" || typeof value === "function" || typeof value === "symbol") return path;
  if (value === null || typeof value !== "object" || value instanceof Date) return null;
  if (ArrayBuffer.isView(value)) return path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = locate(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    const found = locate(item, `${path}.${key}`);
    if (found) return found;
  }
  return null;
}

function notJson(path: string, what: string): ValidationError {
  return new ValidationError(`${path} is ${what}, which has no JSON form`, {
    field: path,
    fix: "record only JSON values (finite numbers, strings, booleans, null, arrays, objects)",
  });
}
