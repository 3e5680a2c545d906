/**
 * Helm releases as Helm itself stores them: one Secret of type `helm.sh/release.v1` per revision
 * (`sh.helm.release.v1.<release>.v<revision>`, labels `owner=helm`, `name`, `version`, `status`),
 * whose `release` field is the release JSON, gzipped and base64-encoded by Helm, then base64-encoded
 * again as Secret data. Only the chart's name and versions, the revision, the status and a digest of
 * the user-supplied values are kept; the values themselves (which may hold secrets) never leave here.
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { canonicalize } from "../../../lib/json/index.ts";
import type { HelmReleaseFact } from "../facts.ts";
import { type KubeObject, MalformedObjectError, metaOf } from "./facts.ts";

export const HELM_SECRET_TYPE = "helm.sh/release.v1";
/** The label selector of Helm's release secrets. */
export const HELM_SECRET_SELECTOR = "owner=helm";

const GZIP_MAGIC = [0x1f, 0x8b];

/** Decodes Helm's `release` field: base64 (Secret data) → base64 (Helm) → gzip → JSON. */
export function decodeHelmRelease(secret: KubeObject): HelmReleaseFact {
  const { namespace, name: secretName } = metaOf("Secret", secret);
  const what = `Secret ${namespace}/${secretName}`;
  const data = secret.data as Record<string, unknown> | undefined;
  const encoded = data?.release;
  if (typeof encoded !== "string") throw new MalformedObjectError(what, "data.release", "is missing");
  let release: Record<string, unknown>;
  try {
    const helmText = Buffer.from(encoded, "base64").toString("utf8");
    let bytes = Buffer.from(helmText, "base64");
    if (bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1]) bytes = gunzipSync(bytes);
    release = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
  } catch (cause) {
    throw new MalformedObjectError(what, "data.release", `is not a Helm release (${(cause as Error).message})`);
  }
  if (typeof release !== "object" || release === null) {
    throw new MalformedObjectError(what, "data.release", "is not a JSON object");
  }
  const chart = (release.chart as { metadata?: Record<string, unknown> } | undefined)?.metadata;
  const info = release.info as Record<string, unknown> | undefined;
  if (typeof release.name !== "string" || typeof release.version !== "number") {
    throw new MalformedObjectError(what, "data.release", "has no release name or revision");
  }
  if (typeof chart?.name !== "string" || typeof chart.version !== "string") {
    throw new MalformedObjectError(what, "data.release.chart.metadata", "has no chart name or version");
  }
  return {
    namespace: typeof release.namespace === "string" && release.namespace ? release.namespace : namespace,
    name: release.name,
    revision: release.version,
    status: typeof info?.status === "string" ? info.status : "unknown",
    chart: chart.name,
    chartVersion: chart.version,
    appVersion: typeof chart.appVersion === "string" ? chart.appVersion : null,
    valuesDigest: `sha256:${createHash("sha256")
      .update(canonicalize(release.config ?? {}))
      .digest("hex")}`,
  };
}

/** A release's current state: the revision with the highest number among its secrets. */
export function currentReleases(revisions: Iterable<HelmReleaseFact>): HelmReleaseFact[] {
  const latest = new Map<string, HelmReleaseFact>();
  for (const r of revisions) {
    const key = `${r.namespace}/${r.name}`;
    const seen = latest.get(key);
    if (!seen || r.revision > seen.revision) latest.set(key, r);
  }
  return [...latest.values()];
}
