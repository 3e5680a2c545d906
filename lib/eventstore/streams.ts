/**
 * Stream layout and idempotent provisioning.
 *
 * - `<PREFIX>_EVENTS` on `<prefix>.evt.<aggregate_type>.<aggregate_id>`: the
 *   audit-critical log. One subject per aggregate instance, so an append can
 *   guard on the aggregate's last subject sequence. Atomic batch publish on.
 * - `<PREFIX>_OUTPUT` on `<prefix>.out.<aggregate_type>.<aggregate_id>`: tool
 *   output chunks (`tool_call.output`); the full output is evidence, so this
 *   stream may trade durability for speed.
 * - `<PREFIX>_DLQ` on `<prefix>.dlq.<consumer>`: dead letters (poison events),
 *   kept so that a failing event is visible without blocking its stream.
 *
 * Each stream has an identity, `wheelhouse_stream_id` in its metadata: a
 * random UUID given when the stream is created (a stream created before
 * identities existed gets one derived from its creation time). A stream
 * deleted and created again under the same name (`.data/` removed, a fresh
 * server) has a new identity, so whoever keeps positions in it (the
 * projector's checkpoints) can tell that its sequence numbers start over.
 * A backup restored with its configuration keeps it.
 */
import { randomUUID } from "node:crypto";
import type { JetStreamManager, StreamConfig, StreamInfo } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { ConfigError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";

/**
 * `safe`: `persist_mode: default`; with the server's `sync_interval: always`
 * every write is fsynced before the publish ack (no acknowledged write lost on
 * power loss). `fast`: `persist_mode: async` (NATS 2.12+, R1 only): the ack is
 * sent before the write reaches the disk; acknowledged writes can be lost on a
 * crash, and the server refuses atomic batches on such a stream.
 */
export type Durability = "safe" | "fast";

export interface StreamSettings {
  /** Durability of `<PREFIX>_EVENTS`; default `safe`. */
  readonly events?: Durability | undefined;
  /** Durability of `<PREFIX>_OUTPUT`; default `fast`. */
  readonly output?: Durability | undefined;
  /** Replicas (1 on one machine, 3 in a cluster). `fast` needs 1 and falls back to `safe` otherwise. */
  readonly replicas?: number | undefined;
  /** Window in which a repeated `Nats-Msg-Id` is recognised as a duplicate; default 24 h. */
  readonly duplicateWindowMs?: number | undefined;
  /** Age after which output chunks are dropped; default 7 days (events are kept forever). */
  readonly outputMaxAgeMs?: number | undefined;
  /** Age after which dead letters are dropped from NATS (they are also in Postgres); default 30 days. */
  readonly dlqMaxAgeMs?: number | undefined;
}

export interface StreamNames {
  readonly events: string;
  readonly output: string;
  readonly dlq: string;
}

export function streamNames(prefix: string): StreamNames {
  const p = prefix.toUpperCase();
  return { events: `${p}_EVENTS`, output: `${p}_OUTPUT`, dlq: `${p}_DLQ` };
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Builds the three stream configurations; pure, so tests and benchmarks can inspect them. */
export function streamConfigs(prefix: string, settings: StreamSettings = {}): StreamConfig[] {
  const names = streamNames(prefix);
  const replicas = settings.replicas ?? 1;
  const persist = (d: Durability) => (d === "fast" && replicas === 1 ? "async" : "default");
  const eventsPersist = persist(settings.events ?? "safe");
  const common = {
    storage: "file",
    retention: "limits",
    discard: "old",
    num_replicas: replicas,
    duplicate_window: nanos(settings.duplicateWindowMs ?? DAY_MS),
    allow_direct: true,
    max_msgs: -1,
    max_bytes: -1,
    max_msgs_per_subject: -1,
  } as const;
  return [
    {
      ...common,
      name: names.events,
      description: "Wheelhouse events: one subject per aggregate instance (audit-critical)",
      subjects: [`${prefix}.evt.>`],
      max_age: 0,
      deny_delete: true,
      deny_purge: true,
      // The server refuses atomic batches on async streams (ADR-50), so only a safe stream gets them.
      allow_atomic: eventsPersist === "default",
      persist_mode: eventsPersist,
    } as unknown as StreamConfig,
    {
      ...common,
      name: names.output,
      description: "Wheelhouse tool output chunks (full output is evidence)",
      subjects: [`${prefix}.out.>`],
      max_age: nanos(settings.outputMaxAgeMs ?? 7 * DAY_MS),
      persist_mode: persist(settings.output ?? "fast"),
    } as unknown as StreamConfig,
    {
      ...common,
      name: names.dlq,
      description: "Wheelhouse dead letters: events a consumer could not handle",
      subjects: [`${prefix}.dlq.>`],
      max_age: nanos(settings.dlqMaxAgeMs ?? 30 * DAY_MS),
      persist_mode: "default",
    } as unknown as StreamConfig,
  ];
}

/**
 * Creates the streams or brings them to the wanted configuration. Safe to call
 * from every process at start-up, concurrently. `persist_mode` cannot change
 * after creation: a safe stream wanted as fast is left safe (warning); a
 * stream wanted safe that exists as fast is refused, since it silently loses
 * the guarantee the audit trail relies on.
 */
export async function provisionStreams(
  jsm: JetStreamManager,
  prefix: string,
  settings: StreamSettings,
  logger?: Logger,
): Promise<StreamInfo[]> {
  const out: StreamInfo[] = [];
  for (const config of streamConfigs(prefix, settings)) {
    out.push(await ensureStream(jsm, config, logger));
  }
  return out;
}

/** Metadata key of a stream's identity. */
export const STREAM_ID_KEY = "wheelhouse_stream_id";

/** Which stream, among all that ever had this name, and how far it goes. */
export interface StreamIdentity {
  readonly stream: string;
  /** `wheelhouse_stream_id`; for a stream never provisioned with one, derived from its creation time. */
  readonly id: string;
  /** When the server created it (ISO 8601). */
  readonly created: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
}

/** The identity of a stream from its info. */
export function identityOf(info: StreamInfo): StreamIdentity {
  return {
    stream: info.config.name,
    id: info.config.metadata?.[STREAM_ID_KEY] ?? legacyStreamId(info),
    created: info.created,
    firstSeq: info.state.first_seq,
    lastSeq: info.state.last_seq,
  };
}

/** Deterministic, so that processes provisioning an older stream at the same time agree on it. */
function legacyStreamId(info: StreamInfo): string {
  return `created-${info.created}`;
}

async function ensureStream(jsm: JetStreamManager, wanted: StreamConfig, logger?: Logger): Promise<StreamInfo> {
  const existing = await jsm.streams.info(wanted.name).catch((e: unknown) => {
    if (isStreamNotFound(e)) return null;
    throw e;
  });
  if (existing === null) {
    try {
      return await jsm.streams.add({ ...wanted, metadata: { ...wanted.metadata, [STREAM_ID_KEY]: randomUUID() } });
    } catch (e) {
      // Another process created it between our info and add: fall through to the update path.
      if (!isAlreadyInUse(e)) throw e;
      return ensureStream(jsm, wanted, logger);
    }
  }
  const have = existing.config as StreamConfig & { persist_mode?: string };
  const wantPersist = (wanted as StreamConfig & { persist_mode?: string }).persist_mode ?? "default";
  const havePersist = have.persist_mode ?? "default";
  if (havePersist !== wantPersist) {
    const replicas = wanted.num_replicas ?? 1;
    if (wantPersist === "default" && replicas > 1) {
      // Fast persistence exists on one replica only, and a stream's persistence never changes.
      const fix = wanted.name.endsWith("_EVENTS")
        ? `copy ${wanted.name} into a stream created with num_replicas ${replicas} (nats stream backup, then restore with num_replicas ${replicas} in its configuration); it is the audit trail: never remove it without that copy`
        : `nats stream rm ${wanted.name} (it holds ${wanted.name.endsWith("_OUTPUT") ? "tool output chunks, whose full copies are evidence" : "dead letters, also kept in Postgres"}); it is created again with ${replicas} replicas`;
      throw new ConfigError(
        `stream ${wanted.name} was created with fast persistence (persist_mode async), which exists on one replica only, but nats.replicas is ${replicas}; fix: ${fix}`,
        [{ field: "nats.replicas", message: `${wanted.name} cannot be replicated as it is`, fix }],
      );
    }
    if (wantPersist === "default") {
      throw new ConfigError(
        `stream ${wanted.name} exists with persist_mode ${havePersist}, but safe durability is configured`,
        [
          {
            field: "nats.events_sync",
            message: `persist_mode cannot change after a stream is created (it is ${havePersist})`,
            fix: `migrate the data to a new stream, or configure fast durability for ${wanted.name}`,
          },
        ],
      );
    }
    logger?.warn({ stream: wanted.name, persist_mode: havePersist }, "stream kept at its existing persist_mode");
  }
  const { persist_mode: _p, ...updatable } = wanted as StreamConfig & { persist_mode?: string };
  const keep = { ...updatable, persist_mode: havePersist } as StreamConfig;
  // Atomic batches cannot be enabled on an async stream.
  if (havePersist === "async") (keep as { allow_atomic?: boolean }).allow_atomic = false;
  // The identity never changes once given; the server's own keys (`_nats.*`) are kept as they are.
  const id = have.metadata?.[STREAM_ID_KEY];
  keep.metadata = { ...have.metadata, ...wanted.metadata, [STREAM_ID_KEY]: id ?? legacyStreamId(existing) };
  if (!sameConfig(have, keep)) return jsm.streams.update(wanted.name, keep);
  if (id !== undefined) return existing;
  // Only the identity is missing (a stream created before identities). `identityOf` derives the same
  // value without it, so a user not allowed to update streams (a service on its own) just goes on.
  return jsm.streams.update(wanted.name, keep).catch((e: unknown) => {
    logger?.debug(
      { stream: wanted.name, err: (e as Error).message },
      "stream identity not written; derived from its creation time",
    );
    return existing;
  });
}

function sameConfig(have: StreamConfig, want: StreamConfig): boolean {
  for (const [k, v] of Object.entries(want)) {
    if (k === "metadata") continue; // compared through the identity above

    const h = (have as unknown as Record<string, unknown>)[k];
    if (JSON.stringify(h ?? null) !== JSON.stringify(v ?? null)) {
      // The server omits false booleans and default values.
      if ((v === false || v === 0 || v === "default") && h === undefined) continue;
      return false;
    }
  }
  return true;
}

export function isStreamNotFound(e: unknown): boolean {
  return (e as { code?: number })?.code === 10059 || (e as Error)?.name === "StreamNotFoundError";
}

function isAlreadyInUse(e: unknown): boolean {
  return (e as { code?: number })?.code === 10058;
}
