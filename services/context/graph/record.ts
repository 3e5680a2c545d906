/**
 * Records a graph: for each node whose recorded state differs from what the sources see, the events
 * that close the gap, appended on that node's aggregate guarded by the version last recorded. The
 * recorded states are kept here (loaded once at start), so an unchanged node costs a comparison,
 * not a read. When another writer moved an aggregate on (a second instance), the append is refused
 * and the node goes through the event store's command path instead: read, fold, decide, append.
 */
import { v7 as uuidv7 } from "uuid";
import type { AnyEvent } from "../../../events/index.ts";
import { ConflictError } from "../../../lib/errors/index.ts";
import { type EventStore, handleCommand } from "../../../lib/eventstore/index.ts";
import type { Logger } from "../../../lib/log/index.ts";
import type { Graph } from "./build.ts";
import type { KnownNode } from "./known.ts";
import {
  contextNodeAggregate,
  type DecideMeta,
  type DesiredNode,
  decideNode,
  evolveNode,
  initialNodeState,
  withJson,
} from "./node.ts";

export interface RecorderDeps {
  readonly store: Pick<EventStore, "append" | "readAggregate">;
  readonly logger: Logger;
  /** Appends in flight at once (different aggregates); default 256. */
  readonly concurrency?: number;
  readonly now?: () => Date;
}

export interface RecordOutcome {
  readonly correlationId: string;
  /** Nodes whose aggregate got events. */
  readonly nodes: number;
  readonly events: number;
  /** Nodes whose append failed; they are tried again on the next pass. */
  readonly failed: number;
}

export interface Recorder {
  /** Brings the recorded graph to `graph`. Nodes in `carried` (from a source not read yet) are left as recorded. */
  record(graph: Graph, carried?: ReadonlySet<string>): Promise<RecordOutcome>;
  /** The recorded state of every node aggregate seen. */
  known(): ReadonlyMap<string, KnownNode>;
}

export function createRecorder(deps: RecorderDeps, known: Map<string, KnownNode>): Recorder {
  const { store, logger } = deps;
  const now = deps.now ?? (() => new Date());

  async function appendNode(id: string, at: KnownNode, desired: DesiredNode, events: AnyEvent[], meta: DecideMeta) {
    let { state, version } = at;
    try {
      // One event per append, each guarded by the version the one before returned: on this server a
      // single append is several times cheaper than an atomic batch, and a pass cut short is completed
      // by the next one, which decides on what was recorded.
      for (const event of events) {
        const outcome = await store.append([event], { expectedVersion: version });
        state = evolveNode(state, event);
        version = outcome.version;
      }
      known.set(id, { state, version });
    } catch (error) {
      if (!(error instanceof ConflictError)) {
        known.set(id, { state, version });
        throw error;
      }
      const result = await handleCommand(store, contextNodeAggregate, id, (read) => decideNode(read, desired, meta));
      known.set(id, {
        state: result.events.reduce(evolveNode, result.read.state),
        version: result.appended?.version ?? result.read.version,
      });
    }
  }

  return {
    known: () => known,
    async record(graph, carried = new Set()) {
      const meta: DecideMeta = { correlationId: uuidv7(), now: now().toISOString() };
      const work: { id: string; at: KnownNode; desired: DesiredNode; events: AnyEvent[] }[] = [];
      for (const id of new Set([...graph.nodes.keys(), ...known.keys()])) {
        if (carried.has(id)) continue;
        const at = known.get(id) ?? { state: initialNodeState, version: 0 };
        const desired: DesiredNode = { node: graph.nodes.get(id) ?? null, edges: graph.edges.get(id) ?? [] };
        const events = decideNode(at.state, desired, meta);
        if (events.length > 0) work.push({ id, at, desired, events });
        else if (desired.node !== null) known.set(id, { ...at, state: withJson(at.state, desired.node) });
      }
      let failed = 0;
      let next = 0;
      const worker = async () => {
        while (next < work.length) {
          const item = work[next++] as (typeof work)[number];
          try {
            await appendNode(item.id, item.at, item.desired, item.events, meta);
          } catch (error) {
            failed++;
            logger.error(
              { err: error, node_id: item.id, events: item.events.length },
              `could not record the change to context node ${item.id}: ${(error as Error).message}; it is tried again on the next pass`,
            );
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(deps.concurrency ?? 256, work.length) }, worker));
      return {
        correlationId: meta.correlationId,
        nodes: work.length - failed,
        events: work.reduce((n, w) => n + w.events.length, 0),
        failed,
      };
    },
  };
}
