/**
 * The graph as recorded: every context node aggregate folded from its events, read once at start
 * with one ordered consumer filtered to the context subjects (not one read per node), so that the
 * first pass after a restart records only what changed while the service was down.
 */
import { type ConsumerConfig, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type AnyEvent, decodeEvent } from "../../../events/index.ts";
import type { EventStore } from "../../../lib/eventstore/index.ts";
import type { Logger } from "../../../lib/log/index.ts";
import { evolveNode, initialNodeState, type NodeState } from "./node.ts";

/** A node aggregate as last recorded, and its version (last subject sequence) for the next append's guard. */
export interface KnownNode {
  readonly state: NodeState;
  readonly version: number;
}

export async function loadKnownGraph(
  nc: NatsConnection,
  store: Pick<EventStore, "prefix" | "streams">,
  logger: Logger,
): Promise<Map<string, KnownNode>> {
  const known = new Map<string, KnownNode>();
  const stream = store.streams.events;
  const subjects = `${store.prefix}.evt.context.>`;
  const jsm = await jetstreamManager(nc);
  const last = await jsm.direct.getMessage(stream, { last_by_subj: subjects });
  if (!last) return known;
  const consumer = await jetstream(nc).consumers.get(stream, {
    filter_subjects: [subjects],
    deliver_policy: "all" as ConsumerConfig["deliver_policy"],
  });
  const messages = await consumer.consume({ max_messages: 1000 });
  let skipped = 0;
  for await (const m of messages) {
    const id = m.subject.slice(m.subject.lastIndexOf(".") + 1);
    const node = known.get(id) ?? { state: initialNodeState, version: 0 };
    let event: AnyEvent | null = null;
    try {
      event = decodeEvent(JSON.parse(new TextDecoder().decode(m.data)));
    } catch {
      skipped++;
    }
    known.set(id, { state: event ? evolveNode(node.state, event) : node.state, version: m.seq });
    if (m.seq >= last.seq) break;
  }
  await messages.close();
  if (skipped > 0) logger.warn({ skipped }, "context events that do not decode were skipped while reading the graph");
  return known;
}
