/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the byte-exact form the audit
 * chain hashes. No package for it is installed (node_modules has only
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
  return write(value, "$");
}

function write(value: unknown, path: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw notJson(path, String(value));
      // JSON.stringify is ES Number::toString, which is the RFC's number form; -0 becomes 0 as the RFC requires.
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        return `[${value.map((item, i) => write(item === undefined ? null : item, `${path}[${i}]`)).join(",")}]`;
      }
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      if (ArrayBuffer.isView(value)) throw notJson(path, "binary data");
      // Default sort compares UTF-16 code units, which is exactly the RFC's order (section 3.2.3).
      const keys = Object.keys(value).sort();
      const parts: string[] = [];
      for (const key of keys) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) continue; // as JSON.stringify: an absent optional field
        parts.push(`${JSON.stringify(key)}:${write(item, `${path}.${key}`)}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      throw notJson(path, typeof value);
  }
}

function notJson(path: string, what: string): ValidationError {
  return new ValidationError(`${path} is ${what}, which has no JSON form`, {
    field: path,
    fix: "record only JSON values (finite numbers, strings, booleans, null, arrays, objects)",
  });
}
