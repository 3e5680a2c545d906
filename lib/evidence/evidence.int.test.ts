/**
 * Evidence round trip and tamper detection, the same table of cases against
 * the local folder and real MinIO (a bucket with object locking, and one
 * without, which is how a blob can be altered in place at all).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { decodeEvent } from "../../events/index.ts";
import { minioClient, removeBuckets, testEnv, uniqueBucketName } from "../../test/support/index.ts";
import { ConfigError } from "../errors/index.ts";
import {
  createEvidenceStore,
  type EvidenceConfig,
  EvidenceIntegrityError,
  type EvidenceMeta,
  type EvidenceStore,
  evidenceStoredEvent,
  type StoredEvidence,
} from "./index.ts";

const endpoint = testEnv.minioUrl;
const env = { S3_KEY: testEnv.minio.accessKey, S3_SECRET: testEnv.minio.secretKey };
const minio = minioClient();

function s3Config(bucket: string, retention_days: number): EvidenceConfig {
  return {
    kind: "s3",
    path: ".data/evidence",
    endpoint,
    bucket,
    region: "us-east-1",
    access_key: "env:S3_KEY",
    secret_key: "env:S3_SECRET",
    retention_days,
  };
}

function objectOf(uri: string): { bucket: string; key: string; versionId: string | undefined } {
  const u = new URL(uri);
  return { bucket: u.hostname, key: u.pathname.slice(1), versionId: u.searchParams.get("versionId") ?? undefined };
}

const buckets: string[] = [];
const folders: string[] = [];
after(async () => {
  await removeBuckets(minio, ...buckets);
  for (const f of folders) await rm(f, { recursive: true, force: true });
});

interface Backend {
  readonly name: string;
  make(): Promise<EvidenceStore>;
  /** Replaces the stored bytes in place, as someone with write access to the store would. */
  alter?(stored: StoredEvidence, bytes: Buffer): Promise<void>;
  /** Removes the blob, as someone with delete access (and, for a lock, the bypass) would. */
  remove(stored: StoredEvidence): Promise<void>;
}

const backends: Backend[] = [
  {
    name: "local folder",
    async make() {
      const dir = await mkdtemp(join(tmpdir(), "wh-evidence-"));
      folders.push(dir);
      return createEvidenceStore({ ...s3Config("unused", 0), kind: "local", path: join(dir, "evidence") });
    },
    async alter(stored, bytes) {
      const path = fileURLToPath(stored.uri);
      await chmod(path, 0o644);
      await writeFile(path, bytes);
    },
    async remove(stored) {
      await rm(fileURLToPath(stored.uri));
    },
  },
  {
    // No lock: objects are not versioned, so a PUT replaces the bytes the URI names.
    name: "MinIO bucket without lock",
    async make() {
      const bucket = uniqueBucketName("ev-plain");
      buckets.push(bucket);
      return createEvidenceStore(s3Config(bucket, 0), { env });
    },
    async alter(stored, bytes) {
      const o = objectOf(stored.uri);
      await minio.putObject(o.bucket, o.key, bytes, bytes.length);
    },
    async remove(stored) {
      const o = objectOf(stored.uri);
      await minio.removeObject(o.bucket, o.key);
    },
  },
  {
    // Locked: a version cannot be changed at all; it can only be removed with the governance bypass.
    name: "MinIO bucket with GOVERNANCE lock",
    async make() {
      const bucket = uniqueBucketName("ev-locked");
      buckets.push(bucket);
      return createEvidenceStore(s3Config(bucket, 1), { env });
    },
    async remove(stored) {
      const o = objectOf(stored.uri);
      await minio.removeObject(o.bucket, o.key, { versionId: o.versionId ?? "", governanceBypass: true });
    },
  },
];

const meta: EvidenceMeta = {
  owner_type: "execution",
  owner_id: "exec-1",
  kind: "tool_output",
  content_type: "application/json",
  redacted: false,
};
const blob = JSON.stringify({ stdout: "deployment.apps/checkout scaled\n", stderr: "", exit_code: 0 });

for (const backend of backends) {
  describe(`evidence store: ${backend.name}`, () => {
    it("stores a blob under evidence/{owner_id}/{evidence_id}.json and reads it back verified", async () => {
      const store = await backend.make();
      const stored = await store.storeEvidence(meta, blob);
      assert.equal(stored.sha256, createHash("sha256").update(blob).digest("hex"));
      assert.equal(stored.size_bytes, Buffer.byteLength(blob));
      assert.match(stored.uri, new RegExp(`/exec-1/${stored.evidence_id}\\.json(\\?versionId=.+)?$`));
      if (store.kind === "s3") assert.match(stored.uri, /^s3:\/\/[^/]+\/evidence\/exec-1\//);
      assert.equal((await store.readEvidence(stored)).toString("utf8"), blob);
      assert.deepEqual(await store.verifyEvidence(stored), {
        ok: true,
        evidence_id: stored.evidence_id,
        uri: stored.uri,
        sha256: stored.sha256,
      });
      const binary = randomBytes(70_000);
      const second = await store.storeEvidence({ ...meta, content_type: "application/octet-stream" }, binary);
      assert.notEqual(second.evidence_id, stored.evidence_id);
      assert.deepEqual(await store.readEvidence(second), binary);
    });

    it("gives an evidence.stored event that records the digest", async () => {
      const store = await backend.make();
      const stored = await store.storeEvidence(meta, blob);
      const event = evidenceStoredEvent(meta, stored, {
        actor: { kind: "service", id: "tool-router", roles: [] },
        correlation_id: "corr-1",
      });
      assert.equal(event.aggregate_type, "execution");
      assert.equal(event.aggregate_id, "exec-1");
      assert.equal(event.payload.sha256, stored.sha256);
      assert.deepEqual(decodeEvent(JSON.parse(JSON.stringify(event))), event);
    });

    if (backend.alter) {
      const alter = backend.alter;
      it("reports a blob altered in the store", async () => {
        const store = await backend.make();
        const stored = await store.storeEvidence(meta, blob);
        await alter(stored, Buffer.from(blob.replace("scaled", "deleted")));
        const check = await store.verifyEvidence(stored);
        assert.equal(check.ok, false);
        assert.equal(!check.ok && check.reason, "mismatch");
        await assert.rejects(store.readEvidence(stored), (error: unknown) => {
          assert.ok(error instanceof EvidenceIntegrityError);
          assert.equal(error.reason, "mismatch");
          assert.equal(error.extra?.evidence_id, stored.evidence_id);
          return true;
        });
      });
    }

    it("reports a blob removed from the store", async () => {
      const store = await backend.make();
      const stored = await store.storeEvidence(meta, blob);
      await backend.remove(stored);
      const check = await store.verifyEvidence(stored);
      assert.equal(!check.ok && check.reason, "missing");
      await assert.rejects(store.readEvidence(stored), EvidenceIntegrityError);
    });

    it("refuses an owner id that could escape its folder", async () => {
      const store = await backend.make();
      await assert.rejects(store.storeEvidence({ ...meta, owner_id: "../x" }, blob), /owner_id/);
    });
  });
}

describe("evidence store: MinIO object lock", () => {
  it("writes every object under a GOVERNANCE retention that a plain delete or overwrite cannot break", async () => {
    const bucket = uniqueBucketName("ev-lock");
    buckets.push(bucket);
    const store = createEvidenceStore(s3Config(bucket, 3), { env });
    const stored = await store.storeEvidence(meta, blob);
    const o = objectOf(stored.uri);
    assert.ok(o.versionId, "the URI pins the locked version");
    const retention = await minio.getObjectRetention(o.bucket, o.key, { versionId: o.versionId });
    assert.equal(retention?.mode, "GOVERNANCE");
    const days = (Date.parse(retention?.retainUntilDate ?? "") - Date.now()) / 86_400_000;
    assert.ok(days > 2.9 && days <= 3, `retained for ${days} days`);
    await assert.rejects(minio.removeObject(o.bucket, o.key, { versionId: o.versionId }), /WORM|retention|lock/i);
    // Writing the key again makes a new version; the recorded one is what the URI still reads.
    await minio.putObject(o.bucket, o.key, Buffer.from("forged"), 6);
    assert.equal((await store.readEvidence(stored)).toString("utf8"), blob);
  });

  it("refuses to use an existing bucket without a lock when retention is configured", async () => {
    const bucket = uniqueBucketName("ev-nolock");
    buckets.push(bucket);
    await minio.makeBucket(bucket, "us-east-1");
    const store = createEvidenceStore(s3Config(bucket, 1), { env });
    await assert.rejects(store.storeEvidence(meta, blob), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.issues[0]?.field, "storage.evidence.bucket");
      return true;
    });
  });
});
