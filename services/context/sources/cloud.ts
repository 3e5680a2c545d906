/** What the pollers keep of an AWS resource and a Grafana datasource. */

export interface CloudResourceFact {
  readonly arn: string;
  /** From the ARN: `rds`, `s3`, `elasticache`, ... */
  readonly service: string;
  /** From the ARN's resource part: `db`, `cluster`, `bucket` (S3 has none), ... */
  readonly resourceType: string | null;
  readonly region: string | null;
  readonly account: string | null;
  /** The `Name` tag, else the resource id from the ARN. */
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface DatasourceFact {
  readonly uid: string;
  readonly name: string;
  readonly type: string;
  /** Without user info: a URL with a password in it keeps only scheme, host and path. */
  readonly url: string | null;
  readonly isDefault: boolean;
}

/** Tags that join a cloud resource to a service: the service's name, and optionally its environment or namespace. */
export const SERVICE_TAG = "wheelhouse:service";
export const ENVIRONMENT_TAG = "wheelhouse:environment";
export const NAMESPACE_TAG = "wheelhouse:namespace";
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
