/** NATS for a test: a connection, an event store under the test's own stream prefix, and its teardown. */
import { jetstreamManager } from "@nats-io/jetstream";
import { type ConnectionOptions, connect, type NatsConnection } from "@nats-io/transport-node";
import { createEventStore, type EventStore, type EventStoreDeps, streamNames } from "../../lib/eventstore/index.ts";
import { natsOptions } from "./env.ts";
import { uniqueName } from "./names.ts";

/** A connection to the local stack's NATS as `user` (`admin` by default: tests create and delete their own streams). */
export function connectTestNats(user = "admin", extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  return connect(natsOptions(user, extra));
}

/**
 * Deletes what a test made under each of `prefixes`: the event store's streams and the KV buckets
 * and object stores named `<prefix>` or `<prefix>_…` (a process's idempotency bucket, for one).
 * Missing streams are fine, so this is safe in an `after` that runs whatever the test reached.
 */
export async function deleteStreams(nc: NatsConnection, ...prefixes: string[]): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const owned = new Set(prefixes.flatMap((p) => Object.values(streamNames(p))));
  const buckets = prefixes.flatMap((p) => [`KV_${p}`, `OBJ_${p}`]);
  const names: string[] = [];
  for await (const name of jsm.streams.names()) {
    if (owned.has(name) || buckets.some((b) => name === b || name.startsWith(`${b}_`))) names.push(name);
  }
  for (const name of names) await jsm.streams.delete(name).catch(() => false);
}

/** An event store of the test's own and how to remove it. */
export interface TestEventStore {
  readonly nc: NatsConnection;
  readonly store: EventStore;
  readonly prefix: string;
  /** Deletes the streams and buckets under `prefix` and closes the connection when this opened it. */
  teardown(): Promise<void>;
}

export interface TestEventStoreOptions extends Omit<EventStoreDeps, "nc" | "prefix"> {
  /** A connection to use (and leave open); by default one is opened as `admin` and closed on teardown. */
  readonly nc?: NatsConnection;
  /** Create the streams now (default true). */
  readonly provision?: boolean;
}

/** An event store under a fresh prefix `<label>_<random>`, its streams provisioned. */
export async function createTestEventStore(label: string, opts: TestEventStoreOptions = {}): Promise<TestEventStore> {
  const { nc: given, provision = true, ...deps } = opts;
  const nc = given ?? (await connectTestNats());
  const prefix = uniqueName(label);
  const store = createEventStore({ ...deps, nc, prefix });
  if (provision) await store.provision();
  return {
    nc,
    store,
    prefix,
    async teardown() {
      await deleteStreams(nc, prefix);
      if (given === undefined) await nc.close();
    },
  };
}
