/**
 * What a read model is to the projector. Each `projections/<readModel>/`
 * exports one: a pure fold (`evolve`) from events to rows, the event types it
 * handles, the SQL that loads and saves its rows, and its queries.
 */
import type { DatabaseTransactionConnection } from "slonik";
import type { AnyRecordedEvent, EventType } from "../events/index.ts";

export type Tx = DatabaseTransactionConnection;

export interface Projection {
  /** Checkpoint name; stable across releases (renaming it rebuilds the model). */
  readonly name: string;
  /** Tables it owns, emptied by a rebuild. */
  readonly tables: readonly string[];
  /** Event types it folds; the projector passes it only these. */
  readonly handles: ReadonlySet<EventType>;
  /**
   * Folds a batch of events (stream order, all newer than its checkpoint)
   * into its rows, inside the projector's transaction. Must be deterministic:
   * rebuilding from the streams has to give the same rows.
   */
  applyBatch(tx: Tx, events: readonly AnyRecordedEvent[]): Promise<void>;
}
