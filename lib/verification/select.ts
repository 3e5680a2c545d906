/**
 * The value a `kubectl` analysis measures: a field of the verification
 * read's JSON output, named by a path such as `.status.readyReplicas` or
 * `.items[0].status.phase`, with an optional default for a field the API
 * leaves out when it is zero (`.status.readyReplicas ?? 0`; Kubernetes omits
 * zero counts). An empty path measures the read itself: 1 when it
 * succeeded, 0 when it did not (the verification of plans made before
 * analyses existed). Pure and import-free.
 */
import type { Scalar } from "./condition.ts";

export interface Selector {
  /** Field names and array indexes, outermost first; empty: the read's success. */
  readonly path: readonly (string | number)[];
  /** The value when the path leads nowhere. */
  readonly fallback?: Scalar | undefined;
}

export type ParsedSelector =
  | { readonly ok: true; readonly selector: Selector }
  | { readonly ok: false; readonly message: string; readonly fix: string };

/** A measured value, or null with the reason there is none. */
export type Selected =
  | { readonly value: Scalar; readonly reason: string }
  | { readonly value: null; readonly reason: string };

const FIX = 'name a field of the read\'s JSON output, e.g. ".status.readyReplicas ?? 0" or ".items[0].status.phase"';

export function parseSelector(text: string): ParsedSelector {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: true, selector: { path: [] } };
  const [pathText = "", fallbackText, extra] = trimmed.split("??").map((s) => s.trim());
  if (extra !== undefined) return { ok: false, message: `"${text}" has more than one ??`, fix: FIX };
  if (!/^(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])+$/.test(pathText)) {
    return { ok: false, message: `cannot read path "${pathText}"`, fix: FIX };
  }
  const path: (string | number)[] = [];
  for (const m of pathText.matchAll(/\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]/g)) {
    path.push(m[1] !== undefined ? m[1] : Number(m[2]));
  }
  if (fallbackText === undefined) return { ok: true, selector: { path } };
  const fallback = literal(fallbackText);
  if (fallback === undefined) {
    return { ok: false, message: `the default "${fallbackText}" is not a number, "string", true or false`, fix: FIX };
  }
  return { ok: true, selector: { path, fallback } };
}

function literal(text: string): Scalar | undefined {
  if (text === "true" || text === "false") return text === "true";
  if (/^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  const s = /^"([^"\\]*)"$/.exec(text);
  return s ? s[1] : undefined;
}

/** The selected value of a read that succeeded, from its standard output. */
export function selectValue(output: string, selector: Selector): Selected {
  if (selector.path.length === 0) return { value: 1, reason: "the read succeeded" };
  let document: unknown;
  try {
    document = JSON.parse(output);
  } catch {
    return { value: null, reason: "the read's output is not JSON (ask for output json)" };
  }
  let value: unknown = document;
  for (const key of selector.path) {
    if (typeof key === "number") value = Array.isArray(value) ? value[key] : undefined;
    else
      value =
        value !== null && typeof value === "object" && !Array.isArray(value)
          ? (value as Record<string, unknown>)[key]
          : undefined;
  }
  const shown = pathText(selector.path);
  if (value === undefined || value === null) {
    if (selector.fallback !== undefined)
      return { value: selector.fallback, reason: `${shown} is absent; default ${JSON.stringify(selector.fallback)}` };
    return { value: null, reason: `the read's output has no ${shown}` };
  }
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") {
    return { value, reason: `${shown} is ${JSON.stringify(value)}` };
  }
  return {
    value: null,
    reason: `${shown} is ${Array.isArray(value) ? "a list" : "an object"}, not a value: name a field inside it`,
  };
}

export function pathText(path: readonly (string | number)[]): string {
  return path.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("") || "(the read's success)";
}
