/** Recorded events for unit tests of folds and audit records: as the projector hands them over. */
import type { AnyEvent, AnyRecordedEvent } from "../../events/index.ts";
import { changeHistory } from "../../projections/fixtures.ts";

/** `events` as recorded in a stream, numbered from `firstSeq`. */
export function recorded(events: readonly AnyEvent[], firstSeq = 1): AnyRecordedEvent[] {
  return events.map(
    (e, i) =>
      ({
        ...e,
        seq: firstSeq + i,
        stream: "T_EVENTS",
        subject: `t.evt.${e.aggregate_type}.${e.aggregate_id}`,
      }) as AnyRecordedEvent,
  );
}

/** The 13 events of fixture change `n`, recorded. */
export function recordedChange(n: number, tag = "u"): AnyRecordedEvent[] {
  return recorded(changeHistory(n, Date.UTC(2026, 0, 1), tag).flat());
}
