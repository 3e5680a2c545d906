/**
 * Writing artifacts: content the tool router makes for a later call (the live objects a
 * `kubectl.apply` would change, so that its rollback can apply them again) is stored in the object
 * store under its own sha256, and named by an `object_store` ArtifactRef that the sandbox reads
 * and checks like any other.
 */
import { createHash } from "node:crypto";
import { Client } from "minio";
import type { SecretRef } from "../config/index.ts";
import { UnavailableError } from "../errors/index.ts";
import type { ArtifactRef } from "./artifacts.ts";
import type { ObjectStoreRef } from "./sandbox-protocol.ts";

export type ObjectStoreArtifactRef = Extract<ArtifactRef, { kind: "object_store" }>;

/** The part of the MinIO client the store uses (a `minio.Client` fits). */
export interface ObjectStoreWriter {
  bucketExists(bucket: string): Promise<boolean>;
  makeBucket(bucket: string, region?: string): Promise<void>;
  putObject(bucket: string, key: string, body: Buffer, size: number, meta: Record<string, string>): Promise<unknown>;
}

export interface ArtifactStore {
  /** Stores `content` at `<prefix>/<sha256>/<name>` (once: the same content is the same key) and names it. */
  store(content: Uint8Array, name: string): Promise<ObjectStoreArtifactRef>;
}

export interface ArtifactStoreDeps {
  readonly client: ObjectStoreWriter;
  /** Created (unlocked) when missing; config `tools.artifact_bucket`. */
  readonly bucket: string;
  readonly region?: string | undefined;
  readonly prefix?: string | undefined;
}

export function createArtifactStore(deps: ArtifactStoreDeps): ArtifactStore {
  const prefix = deps.prefix ?? "artifacts";
  let ready: Promise<void> | undefined;
  const ensureBucket = async () => {
    if (!(await deps.client.bucketExists(deps.bucket))) await deps.client.makeBucket(deps.bucket, deps.region);
  };
  return {
    async store(content, name) {
      const body = Buffer.from(content);
      const sha256 = createHash("sha256").update(body).digest("hex");
      const key = `${prefix}/${sha256}/${name}`;
      try {
        ready ??= ensureBucket().catch((error: unknown) => {
          ready = undefined;
          throw error;
        });
        await ready;
        await deps.client.putObject(deps.bucket, key, body, body.length, { "content-type": "application/json" });
      } catch (cause) {
        throw new UnavailableError(`cannot store artifact s3://${deps.bucket}/${key}: ${(cause as Error).message}`, {
          field: "tools.artifact_bucket",
          fix: "check the object store (storage.evidence endpoint and keys) and that the tool router may write the bucket",
          cause,
        });
      }
      return { kind: "object_store", bucket: deps.bucket, key, sha256 };
    },
  };
}

/** A MinIO/S3 client for the object store an `ObjectStoreRef` names, its keys resolved from their references. */
export function objectStoreClient(ref: ObjectStoreRef, resolveSecret: (ref: SecretRef) => string | null): Client {
  const url = new URL(ref.endpoint);
  return new Client({
    endPoint: url.hostname,
    port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
    useSSL: url.protocol === "https:",
    region: ref.region ?? "us-east-1",
    accessKey: resolveSecret(ref.access_key) ?? "",
    secretKey: resolveSecret(ref.secret_key) ?? "",
  });
}
