/**
 * Evidence: the blobs behind the audit trail (redacted prompts, model
 * answers, tool output, diffs, verification results), stored once, never
 * overwritten, and recorded by digest in an `evidence.stored` event so that
 * anyone can later prove a blob is the one that was recorded.
 *
 * Two backends with one interface: S3/MinIO (`kind: "s3"`, objects under a
 * GOVERNANCE-mode object lock) and a local folder (`kind: "local"`, the
 * embedded default). Layout: `evidence/{owner_id}/{evidence_id}.json` (for
 * the local folder, `storage.evidence.path` is that `evidence/` folder).
 * The blob is stored byte for byte; `sha256` is over exactly those bytes,
 * so `sha256sum` on the object checks it without Wheelhouse.
 */
import { createHash } from "node:crypto";
import { v7 as uuidv7 } from "uuid";
import * as v from "valibot";
import type { AnyEvent, EventMeta } from "../../events/index.ts";
import { IdSchema, newEvent } from "../../events/index.ts";
import type { StorageConfig } from "../config/index.ts";
import { ValidationError, WheelhouseError } from "../errors/index.ts";
import { createLocalBackend } from "./local.ts";
import { createS3Backend } from "./s3.ts";

export type EvidenceConfig = StorageConfig["evidence"];
export type EvidenceKind =
  | "prompt"
  | "model_response"
  | "tool_output"
  | "diff"
  | "verification"
  | "signal"
  | "context_snapshot";

/** What a caller says about a blob it stores. */
export interface EvidenceMeta {
  readonly owner_type: "plan" | "execution";
  /** The plan or execution id (the `{execution_id}` of the layout for execution evidence). */
  readonly owner_id: string;
  readonly kind: EvidenceKind;
  readonly content_type: string;
  /** Whether secrets were redacted before storing (the planner redacts prompts and answers). */
  readonly redacted: boolean;
  /** Normally generated; pass one to make a retried store land on the same id. */
  readonly evidence_id?: string | undefined;
}

/** Where a stored blob is and what it hashes to. */
export interface StoredEvidence {
  readonly evidence_id: string;
  readonly sha256: string;
  /** `s3://bucket/key?versionId=...` (the locked version) or `file:///absolute/path`. */
  readonly uri: string;
  readonly size_bytes: number;
}

/** Enough to find and check a blob: what `evidence.stored` and the evidence read model hold. */
export interface EvidenceRef {
  readonly evidence_id?: string | undefined;
  readonly uri: string;
  readonly sha256: string;
}

export type EvidenceCheck =
  | { readonly ok: true; readonly evidence_id: string | null; readonly uri: string; readonly sha256: string }
  | {
      readonly ok: false;
      readonly evidence_id: string | null;
      readonly uri: string;
      readonly reason: "mismatch" | "missing";
      readonly expected_sha256: string;
      readonly actual_sha256: string | null;
      readonly message: string;
    };

export interface EvidenceStore {
  readonly kind: "local" | "s3";
  /** Stores a blob (once: never overwrites) and returns its id, digest, location and size. */
  storeEvidence(meta: EvidenceMeta, blob: Uint8Array | string): Promise<StoredEvidence>;
  /** Reads a blob and checks it against its recorded sha256; throws `EvidenceIntegrityError` when it does not match or is gone. */
  readEvidence(ref: EvidenceRef): Promise<Buffer>;
  /** Like `readEvidence` without throwing: the blob's state. */
  verifyEvidence(ref: EvidenceRef): Promise<EvidenceCheck>;
  /** Creates the bucket or folder if needed (called lazily by the first store). */
  ensureReady(): Promise<void>;
}

/** A stored evidence blob no longer matches the digest recorded for it, or is gone. */
export class EvidenceIntegrityError extends WheelhouseError {
  readonly reason: "mismatch" | "missing";
  constructor(check: Extract<EvidenceCheck, { ok: false }>) {
    super("evidence_integrity_failed", check.message, {
      field: "sha256",
      fix: "treat the blob as tampered with: compare it with the locked version or a backup, and investigate who wrote it",
      extra: {
        evidence_id: check.evidence_id,
        uri: check.uri,
        reason: check.reason,
        expected_sha256: check.expected_sha256,
        actual_sha256: check.actual_sha256,
      },
    });
    this.name = "EvidenceIntegrityError";
    this.reason = check.reason;
  }
}

/** What a backend does; the store adds ids, digests and checks around it. */
export interface EvidenceBackend {
  readonly kind: "local" | "s3";
  ensureReady(): Promise<void>;
  /** Writes a new object at `key`; returns its URI. */
  put(key: string, body: Buffer, meta: EvidenceMeta & { sha256: string; evidence_id: string }): Promise<string>;
  /** Reads the object behind a URI this backend produced, or null when it is gone. */
  get(uri: string): Promise<Buffer | null>;
}

export interface EvidenceStoreDeps {
  /** Where secret references are resolved; defaults to the process environment. */
  readonly env?: Record<string, string | undefined> | undefined;
  /** Base for a relative local path; defaults to the working directory. */
  readonly cwd?: string | undefined;
}

/** Builds the evidence store configured in `storage.evidence`. */
export function createEvidenceStore(config: EvidenceConfig, deps: EvidenceStoreDeps = {}): EvidenceStore {
  const backend = config.kind === "s3" ? createS3Backend(config, deps) : createLocalBackend(config, deps);
  let ready: Promise<void> | null = null;
  const ensureReady = () => {
    ready ??= backend.ensureReady().catch((error: unknown) => {
      ready = null;
      throw error;
    });
    return ready;
  };

  async function verifyEvidence(ref: EvidenceRef): Promise<EvidenceCheck> {
    return judge(ref, await backend.get(ref.uri));
  }

  return {
    kind: backend.kind,
    ensureReady,
    async storeEvidence(meta, blob) {
      const id = meta.evidence_id ?? uuidv7();
      checkId(id, "evidence_id");
      checkId(meta.owner_id, "owner_id");
      await ensureReady();
      const body = typeof blob === "string" ? Buffer.from(blob, "utf8") : Buffer.from(blob);
      const digest = sha256(body);
      const uri = await backend.put(`evidence/${meta.owner_id}/${id}.json`, body, {
        ...meta,
        sha256: digest,
        evidence_id: id,
      });
      return { evidence_id: id, sha256: digest, uri, size_bytes: body.length };
    },
    async readEvidence(ref) {
      const blob = await backend.get(ref.uri);
      const check = judge(ref, blob);
      if (!check.ok) throw new EvidenceIntegrityError(check);
      return blob as Buffer;
    },
    verifyEvidence,
  };
}

/**
 * The `evidence.stored` event for a blob just stored, on the plan or
 * execution that owns it. The caller appends it (in the same batch as the
 * event that refers to the evidence, where there is one).
 */
export function evidenceStoredEvent(
  meta: EvidenceMeta,
  stored: StoredEvidence,
  eventMeta: Omit<EventMeta, "aggregate_type">,
): Extract<AnyEvent, { type: "evidence.stored" }> {
  return newEvent(
    "evidence.stored",
    meta.owner_id,
    {
      evidence_id: stored.evidence_id,
      owner_type: meta.owner_type,
      owner_id: meta.owner_id,
      kind: meta.kind,
      uri: stored.uri,
      sha256: stored.sha256,
      size_bytes: stored.size_bytes,
      content_type: meta.content_type,
      redacted: meta.redacted,
    },
    { ...eventMeta, aggregate_type: meta.owner_type },
  );
}

function judge(ref: EvidenceRef, blob: Buffer | null): EvidenceCheck {
  const evidence_id = ref.evidence_id ?? null;
  if (blob === null) {
    return {
      ok: false,
      evidence_id,
      uri: ref.uri,
      reason: "missing",
      expected_sha256: ref.sha256,
      actual_sha256: null,
      message: `evidence ${evidence_id ?? ref.uri} is missing from ${ref.uri}`,
    };
  }
  const actual = sha256(blob);
  if (actual !== ref.sha256) {
    return {
      ok: false,
      evidence_id,
      uri: ref.uri,
      reason: "mismatch",
      expected_sha256: ref.sha256,
      actual_sha256: actual,
      message: `evidence ${evidence_id ?? ref.uri} was altered: its sha256 is ${actual}, the recorded one ${ref.sha256}`,
    };
  }
  return { ok: true, evidence_id, uri: ref.uri, sha256: actual };
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

// Ids become path segments and object keys: the event id rules keep them from escaping their folder.
function checkId(id: string, field: string): void {
  if (!v.is(IdSchema, id)) {
    throw new ValidationError(`${field} ${JSON.stringify(id)} cannot name an evidence object`, {
      field,
      fix: "use 1-128 letters, digits, '-' or '_'",
    });
  }
}
