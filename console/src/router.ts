/**
 * Hash routes (`#/changes/plan_1?at=…`): a shared URL opens the same view, filters included, and the
 * gateway only ever serves one page.
 */
export type RouteName = "changes" | "change" | "approvals" | "audit" | "services" | "not-found";

export interface Route {
  readonly name: RouteName;
  readonly id: string | null;
  readonly query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const [path = "", search = ""] = hash.replace(/^#/, "").split("?", 2);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(search);
  const [first, second] = parts;
  if (first === undefined) return { name: "changes", id: null, query };
  if (first === "changes" && second !== undefined) return { name: "change", id: second, query };
  if (first === "changes" || first === "approvals" || first === "audit" || first === "services") {
    return { name: first, id: null, query };
  }
  return { name: "not-found", id: null, query };
}

/** `#/path?query`, leaving out empty values. */
export function href(path: string, query: Record<string, string | null | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value);
  const search = params.toString();
  return `#${path}${search ? `?${search}` : ""}`;
}

export function navigate(path: string, query: Record<string, string | null | undefined> = {}, replace = false) {
  const target = href(path, query);
  if (replace) window.history.replaceState(null, "", target);
  else window.history.pushState(null, "", target);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}
