/**
 * Node ids: readable, stable across restarts, and valid aggregate ids (1-128 of `[A-Za-z0-9_-]`,
 * since an id becomes a subject token). Kubernetes names are lowercase letters, digits, `-` and
 * `.`; parts are joined with `_`, which no Kubernetes name holds. A name with a `.` or an id over
 * the length limit gets a digest of the whole key, so two names never share an id.
 */
import { createHash } from "node:crypto";

const digest = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 16);

export function nodeId(prefix: string, ...parts: string[]): string {
  const key = [prefix, ...parts].join("_");
  const clean = key.replace(/[^A-Za-z0-9_-]/g, "-");
  if (clean === key && key.length <= 128) return key;
  return `${clean.slice(0, 128 - 17)}_${digest(key)}`;
}

export const serviceId = (namespace: string, name: string) => nodeId("svc", namespace, name);
export const workloadId = (namespace: string, kind: string, name: string) =>
  nodeId("wl", namespace, kind.toLowerCase(), name);
export const namespaceId = (name: string) => nodeId("ns", name);
export const releaseId = (namespace: string, name: string) => nodeId("rel", namespace, name);
export const applicationId = (namespace: string, name: string) => nodeId("app", namespace, name);
/** An ARN holds `:` and `/`, so a cloud resource's id is always a digest of it. */
export const cloudResourceId = (arn: string) => `aws_${digest(arn)}`;
export const datasourceId = (uid: string) => nodeId("ds", uid);
