/**
 * Replication: every stream, KV bucket and durable consumer a Wheelhouse process creates has
 * `nats.replicas` replicas, so that on a cluster (3) any one node can go down. What an older
 * version (or an operator) left with fewer is brought up at start-up where this process's NATS
 * user may do it, and named otherwise, with the command that fixes it. A stream that does not
 * answer at all (its only nodes are down) is named too, instead of a bare `TimeoutError`.
 */
import { type JetStreamManager, jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConfigError, type FieldIssue, UnavailableError } from "../errors/index.ts";
import { isNoAnswer, streamNames } from "../eventstore/index.ts";
import type { Logger } from "../log/index.ts";
import { refusedByNats } from "./nats.ts";

/** The `nats` CLI command that gives a stream `replicas` replicas. */
export const streamReplicasFix = (stream: string, replicas: number) =>
  `nats stream edit ${stream} --replicas ${replicas}`;

/** The `nats` CLI command that gives a durable consumer `replicas` replicas. */
export const consumerReplicasFix = (stream: string, consumer: string, replicas: number) =>
  `nats consumer edit ${stream} ${consumer} --replicas ${replicas}`;

/**
 * The fix for a stream with fast (async) persistence, which exists on one replica only and never
 * changes: output chunks and dead letters can go (Wheelhouse creates the stream again, replicated);
 * the events are the audit trail and move to a replicated copy instead.
 */
const recreateFix = (stream: string, isEvents: boolean, replicas: number) =>
  isEvents
    ? `copy ${stream} into a stream created with num_replicas ${replicas} (\`nats stream backup ${stream} <dir>\`, then restore it with num_replicas ${replicas} in its configuration); it is the audit trail: never remove it without that copy`
    : `nats stream rm ${stream} (fast persistence exists on one replica only; Wheelhouse creates it again with ${replicas})`;

/**
 * What a JetStream request about `stream` failed with, as one line an operator can act on:
 * replicas the server cannot place (`nats.replicas` above the cluster's size, or a single server),
 * or a stream whose nodes are all down. `null` for anything else.
 */
export function replicationError(
  error: unknown,
  what: string,
  stream: string,
  replicas: number,
): ConfigError | UnavailableError | null {
  const code = (error as { api_error?: { err_code?: number }; code?: number })?.api_error?.err_code;
  const message = (error as Error)?.message ?? "";
  if (code === 10074 || /replicas > 1 not supported/i.test(message)) {
    return new ConfigError(
      `nats.replicas is ${replicas}, but the NATS server is not a cluster: set nats.replicas: 1 for one server, or list a cluster's nodes in nats.url`,
      [
        {
          field: "nats.replicas",
          message: `a single server cannot hold ${replicas} replicas of ${stream}`,
          fix: "set nats.replicas: 1 for one server, or connect to a cluster (list its nodes in nats.url)",
        },
      ],
    );
  }
  if (code === 10005 || /insufficient resources|no suitable peers/i.test(message)) {
    return new ConfigError(
      `NATS cannot place ${replicas} replicas of ${stream}: too few nodes are up; start the missing nodes, or set nats.replicas to at most the cluster's size`,
      [
        {
          field: "nats.replicas",
          message: `fewer than ${replicas} JetStream nodes are available`,
          fix: "start the missing nodes, or set nats.replicas to at most the cluster's size",
        },
      ],
    );
  }
  if (!isNoAnswer(error)) return null;
  return new UnavailableError(
    `NATS did not answer for ${stream} (${what}): the nodes holding it are down or it has no leader`,
    {
      cause: error,
      field: "nats.replicas",
      fix: `start the NATS nodes that hold ${stream}; a stream with fewer replicas than nats.replicas (${replicas}) stops with its node, so once it answers run \`${streamReplicasFix(stream, replicas)}\` (starting once with the embedded user does it too)`,
    },
  );
}

export interface BucketSpec {
  /** The bucket's name (its stream is `KV_<bucket>`). */
  readonly bucket: string;
  /** What it holds, for messages: "idempotency keys". */
  readonly purpose: string;
  /** `nats.replicas`. */
  readonly replicas: number;
  /** Age after which an entry expires; none by default. */
  readonly ttlMs?: number | undefined;
  /** Values kept per key; default 1. */
  readonly history?: number | undefined;
}

/**
 * Opens a KV bucket, creating it with `replicas` replicas. An existing bucket with fewer is brought
 * up to `replicas` (or, when this process's user may not change streams, refused with the fix).
 */
export async function openBucket(nc: NatsConnection, spec: BucketSpec, logger?: Logger): Promise<KV> {
  const stream = `KV_${spec.bucket}`;
  const explain = (error: unknown, what: string) =>
    replicationError(error, what, stream, spec.replicas) ??
    refusedByNats(error, `${what} (the ${spec.purpose})`) ??
    error;
  let kv: KV;
  try {
    kv = await new Kvm(nc).create(spec.bucket, {
      history: spec.history ?? 1,
      replicas: spec.replicas,
      ...(spec.ttlMs === undefined ? {} : { ttl: spec.ttlMs }),
    });
  } catch (error) {
    throw explain(error, `opening the KV bucket ${spec.bucket}`);
  }
  if (spec.replicas > 1) {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream).catch((error: unknown) => {
      throw explain(error, `reading the KV bucket ${spec.bucket}`);
    });
    await raiseStreamReplicas(jsm, info, spec.replicas, logger).catch((error: unknown) => {
      throw explain(error, `raising the replicas of the KV bucket ${spec.bucket}`);
    });
  }
  return kv;
}

/** A stream or durable consumer with fewer replicas than configured, and how to fix it. */
export interface UnderReplicated {
  readonly name: string;
  /** The consumer's stream; absent for a stream. */
  readonly stream?: string | undefined;
  readonly replicas: number;
  readonly fix: string;
}

/**
 * Brings this prefix's streams, KV buckets (`KV_<prefix>_…`) and their durable consumers to
 * `replicas` where they have fewer, and throws a `ConfigError` naming each one it could not (this
 * process's NATS user may not change streams or consumers) with its fix. Nothing to do for 1.
 */
export async function ensureReplication(
  jsm: JetStreamManager,
  prefix: string,
  replicas: number,
  logger?: Logger,
): Promise<void> {
  if (replicas <= 1) return;
  const owned = new Set(Object.values(streamNames(prefix)));
  const names: string[] = [];
  try {
    for await (const name of jsm.streams.names()) {
      if (owned.has(name) || name.startsWith(`KV_${prefix}_`)) names.push(name);
    }
  } catch (error) {
    throw replicationError(error, "listing the streams", `the ${prefix} streams`, replicas) ?? error;
  }
  const left: UnderReplicated[] = [];
  for (const name of names.sort()) {
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(name);
    } catch (error) {
      throw replicationError(error, "checking its replicas", name, replicas) ?? error;
    }
    if (info.config.num_replicas < replicas && (info.config as { persist_mode?: string }).persist_mode === "async") {
      // Fast (async) persistence exists on one replica only, and a stream's persistence never changes.
      left.push({
        name,
        replicas: info.config.num_replicas,
        fix: recreateFix(name, name === streamNames(prefix).events, replicas),
      });
      continue;
    }
    try {
      info = await raiseStreamReplicas(jsm, info, replicas, logger);
    } catch (error) {
      if (refusedByNats(error, "") === null)
        throw replicationError(error, "raising its replicas", name, replicas) ?? error;
      left.push({ name, replicas: info.config.num_replicas, fix: streamReplicasFix(name, replicas) });
      continue;
    }
    for await (const consumer of jsm.consumers.list(name)) {
      const config = consumer.config;
      if (config.durable_name === undefined) continue; // an ordered or ephemeral reader, recreated when lost
      const have = config.num_replicas || info.config.num_replicas;
      if (have >= replicas) continue;
      try {
        await jsm.consumers.update(name, consumer.name, { num_replicas: replicas });
        logger?.info({ stream: name, consumer: consumer.name, from: have, to: replicas }, "consumer replicas raised");
      } catch (error) {
        if (refusedByNats(error, "") === null) throw error;
        left.push({
          name: consumer.name,
          stream: name,
          replicas: have,
          fix: consumerReplicasFix(name, consumer.name, replicas),
        });
      }
    }
  }
  if (left.length === 0) return;
  const issues: FieldIssue[] = left.map((u) => ({
    field: "nats.replicas",
    message: `${u.stream === undefined ? "stream" : `consumer of ${u.stream}`} ${u.name} has ${u.replicas} replica(s)`,
    fix: u.fix,
  }));
  throw new ConfigError(
    `nats.replicas is ${replicas}, but ${left.map((u) => `${u.name} has ${u.replicas}`).join(", ")}: fix with ${left.map((u) => `\`${u.fix}\``).join("; ")} (or start once with the embedded user, which may do it)`,
    issues,
  );
}

/** `info`'s stream with at least `replicas` replicas: updated (and logged) when it had fewer. */
async function raiseStreamReplicas(
  jsm: JetStreamManager,
  info: StreamInfo,
  replicas: number,
  logger?: Logger,
): Promise<StreamInfo> {
  if (info.config.num_replicas >= replicas) return info;
  const updated = await jsm.streams.update(info.config.name, { ...info.config, num_replicas: replicas });
  logger?.info({ stream: info.config.name, from: info.config.num_replicas, to: replicas }, "stream replicas raised");
  return updated;
}
