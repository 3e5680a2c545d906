/**
 * RFC 8785 for the JSON an export holds (strings, integers, booleans, null, arrays, objects),
 * written here so that a check of Wheelhouse's canonical form owes nothing to Wheelhouse.
 */
export function jcs(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jcs).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${jcs(x)}`).join(",")}}`;
}
