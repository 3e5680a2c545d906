/**
 * S3/MinIO evidence backend. The bucket is created with object locking and
 * a default GOVERNANCE retention of `retention_days`, so every object
 * version is locked the moment it is written (no window between write and
 * lock). The URI names the locked version (`?versionId=`): writing the same
 * key again makes a new version and does not change what the URI reads.
 * Removing a locked version needs the governance-bypass permission; an
 * operator who holds it can, and the evidence check then reports the blob
 * missing. With `retention_days: 0` the bucket is made without a lock.
 */
import * as Minio from "minio";
import { requireSecret } from "../config/index.ts";
import { ConfigError, UnavailableError, ValidationError } from "../errors/index.ts";
import type { EvidenceBackend, EvidenceConfig, EvidenceStoreDeps } from "./index.ts";

export function createS3Backend(config: EvidenceConfig, deps: EvidenceStoreDeps): EvidenceBackend {
  const env = deps.env ?? process.env;
  const endpoint = new URL(config.endpoint);
  const useSSL = endpoint.protocol === "https:";
  const client = new Minio.Client({
    endPoint: endpoint.hostname,
    port: endpoint.port ? Number(endpoint.port) : useSSL ? 443 : 80,
    useSSL,
    region: config.region,
    accessKey: requireSecret(config.access_key, "storage.evidence.access_key", env),
    secretKey: requireSecret(config.secret_key, "storage.evidence.secret_key", env),
  });
  const bucket = config.bucket;

  function parse(uri: string): { bucket: string; key: string; versionId: string | undefined } {
    let url: URL;
    try {
      url = new URL(uri);
    } catch (cause) {
      throw new ValidationError(`evidence URI ${uri} is not a URI`, { field: "uri", cause });
    }
    if (url.protocol !== "s3:") {
      throw new ValidationError(`evidence URI ${uri} is not an s3:// URI`, {
        field: "uri",
        fix: "read it with the evidence store that wrote it (storage.evidence.kind)",
      });
    }
    return {
      bucket: url.hostname,
      key: decodeURIComponent(url.pathname.replace(/^\//, "")),
      versionId: url.searchParams.get("versionId") ?? undefined,
    };
  }

  return {
    kind: "s3",
    async ensureReady() {
      try {
        if (!(await client.bucketExists(bucket))) {
          const locked = config.retention_days > 0;
          await client.makeBucket(bucket, config.region, { ObjectLocking: locked });
          if (locked) {
            await client.setObjectLockConfig(bucket, {
              mode: "GOVERNANCE",
              unit: "Days",
              validity: config.retention_days,
            });
          }
          return;
        }
      } catch (cause) {
        throw new UnavailableError(`cannot reach or create evidence bucket ${bucket} at ${config.endpoint}`, {
          field: "storage.evidence.endpoint",
          fix: "start the object store (bash scripts/infra up) and check the access key",
          cause,
        });
      }
      if (config.retention_days > 0) {
        const lock = await readLockConfig(client, bucket);
        if (!lock || !("objectLockEnabled" in lock) || lock.objectLockEnabled !== "Enabled") {
          throw new ConfigError(`evidence bucket ${bucket} exists without object locking`, [
            {
              field: "storage.evidence.bucket",
              message: "object locking can only be turned on when a bucket is created",
              fix: "name a new bucket (Wheelhouse creates it locked), or set storage.evidence.retention_days to 0 to accept unlocked evidence",
            },
          ]);
        }
      }
    },
    async put(key, body, meta) {
      const info = await client.putObject(bucket, key, body, body.length, {
        "Content-Type": meta.content_type,
        // Kept with the object, so the store itself says what a blob is and what it should hash to.
        "x-amz-meta-wheelhouse-sha256": meta.sha256,
        "x-amz-meta-wheelhouse-kind": meta.kind,
        "x-amz-meta-wheelhouse-owner": `${meta.owner_type}/${meta.owner_id}`,
        "x-amz-meta-wheelhouse-redacted": String(meta.redacted),
      });
      const version =
        info.versionId && info.versionId !== "null" ? `?versionId=${encodeURIComponent(info.versionId)}` : "";
      return `s3://${bucket}/${key}${version}`;
    },
    async get(uri) {
      const where = parse(uri);
      try {
        const stream = await client.getObject(
          where.bucket,
          where.key,
          where.versionId === undefined ? {} : { versionId: where.versionId },
        );
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === "NoSuchKey" || code === "NoSuchVersion" || code === "NotFound") return null;
        throw error;
      }
    },
  };
}

// The client's overloads put a `void` form first; this picks the promise one.
async function readLockConfig(client: Minio.Client, bucket: string): Promise<Minio.ObjectLockInfo | null> {
  try {
    return await (client.getObjectLockConfig as (b: string) => Promise<Minio.ObjectLockInfo>)(bucket);
  } catch {
    return null;
  }
}
