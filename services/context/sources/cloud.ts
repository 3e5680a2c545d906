/** How the pollers read an AWS resource and a Grafana datasource into facts (their shapes: ../facts.ts). */
import { type CloudResourceFact, ENVIRONMENT_TAG, NAMESPACE_TAG, SERVICE_TAG } from "../facts.ts";

/** Tags kept on the node; others (which may hold anything) are not recorded. */
const KEPT_TAGS = new Set(["Name", SERVICE_TAG, ENVIRONMENT_TAG, NAMESPACE_TAG, "app.kubernetes.io/name"]);

/** Splits `arn:partition:service:region:account:resource`; null when it is not an ARN. */
export function cloudResourceFact(
  arn: string,
  tags: readonly { Key?: string; Value?: string }[],
): CloudResourceFact | null {
  const parts = arn.split(":");
  if (parts.length < 6 || parts[0] !== "arn" || !parts[2]) return null;
  const resource = parts.slice(5).join(":");
  const split = /^([^/:]+)[/:](.+)$/.exec(resource);
  const kept: Record<string, string> = {};
  for (const t of tags) if (t.Key && KEPT_TAGS.has(t.Key) && t.Value !== undefined) kept[t.Key] = t.Value;
  return {
    arn,
    service: parts[2],
    resourceType: split?.[1] ?? null,
    region: parts[3] || null,
    account: parts[4] || null,
    name: kept.Name ?? split?.[2] ?? resource,
    tags: kept,
  };
}

/** A URL fit to record: user info stripped, unparseable ones dropped. */
export function publicUrl(url: unknown): string | null {
  if (typeof url !== "string" || url === "") return null;
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    u.search = "";
    return u.toString();
  } catch {
    return null;
  }
}
