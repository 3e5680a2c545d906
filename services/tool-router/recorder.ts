/**
 * Turns what the tool router reports into the record: `tool_call.started` and
 * `tool_call.completed` on the execution's subject (audit-critical stream),
 * output chunks on the output stream, and the full redacted output (or the
 * dry-run diff) as evidence with its `evidence.stored` event. Tool inputs
 * (argv) and outputs (lines, errors, evidence) are untrusted text: every string
 * is redacted (lib/redact) before it is recorded, whatever the sandbox did.
 */
import { type Actor, type AnyEvent, type EventMeta, newEvent } from "../../events/index.ts";
import type { EventStore } from "../../lib/eventstore/index.ts";
import { type EvidenceMeta, type EvidenceStore, evidenceStoredEvent } from "../../lib/evidence/index.ts";
import type { Logger } from "../../lib/log/index.ts";
import { createLineScrubber, createRedactor, type Scrub } from "../../lib/redact/index.ts";
import type { ToolRouterDeps, ToolRouterEvent } from "./router.ts";

export const TOOL_ROUTER_ACTOR: Actor = { kind: "service", id: "tool-router", roles: [] };

export interface ToolCallRecorderDeps {
  readonly store: EventStore;
  readonly evidence: EvidenceStore;
  readonly logger: Logger;
}

export type ToolCallRecorder = Required<Pick<ToolRouterDeps, "onEvent" | "storeEvidence">>;

/** Memoryless (`[REDACTED:kind]`): the same redaction as the sandbox's, for every recorded string. */
const redactor = createRedactor([], { stable: false });

function redactBlob(blob: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(blob);
  let redacted: string;
  try {
    redacted = JSON.stringify(redactor.redactValue(JSON.parse(text) as unknown));
  } catch {
    redacted = redactor.redact(text);
  }
  return redacted === text ? blob : new TextEncoder().encode(redacted);
}

export function createToolCallRecorder(deps: ToolCallRecorderDeps): ToolCallRecorder {
  const { store, evidence, logger } = deps;
  // Output arrives a line per event: a private key spread over lines is redacted from BEGIN to END.
  const lineScrubbers = new Map<string, Scrub>();
  const redactLine = (callId: string, stream: string, line: string) => {
    const key = `${callId}:${stream}`;
    let scrub = lineScrubbers.get(key);
    if (scrub === undefined) {
      scrub = createLineScrubber((text) => redactor.redact(text));
      lineScrubbers.set(key, scrub);
    }
    return scrub(line);
  };
  return {
    async onEvent(reported: ToolRouterEvent) {
      if (reported.type === "tool_call.completed") {
        lineScrubbers.delete(`${reported.payload.tool_call_id}:stdout`);
        lineScrubbers.delete(`${reported.payload.tool_call_id}:stderr`);
      }
      const payload =
        reported.type === "tool_call.output"
          ? {
              ...reported.payload,
              text: redactLine(reported.payload.tool_call_id, reported.payload.stream, reported.payload.text),
            }
          : reported.payload;
      const event = { ...reported, payload: redactor.redactValue(payload) } as ToolRouterEvent;
      const p = event.payload;
      const meta = { actor: TOOL_ROUTER_ACTOR, correlation_id: p.execution_id, aggregate_type: "execution" as const };
      // Keys make a retried report land once: per call for started/completed, per chunk for output.
      const key =
        event.type === "tool_call.output"
          ? `${p.tool_call_id}:output:${event.payload.seq}`
          : `${event.type}:${p.tool_call_id}`;
      try {
        await store.append([toEvent(event, meta)], { idempotencyKey: key });
      } catch (error) {
        // An output chunk that cannot be recorded must not fail the call (the evidence holds it all);
        // the started/completed facts must.
        if (event.type !== "tool_call.output") throw error;
        logger.warn({ err: error, tool_call_id: p.tool_call_id }, "output chunk not recorded");
      }
    },
    async storeEvidence(kind, blob, owner) {
      const meta: EvidenceMeta = {
        owner_type: "execution",
        owner_id: owner.execution_id,
        kind,
        content_type: "application/json",
        redacted: true,
      };
      const stored = await evidence.storeEvidence(meta, redactBlob(blob));
      await store.append(
        [evidenceStoredEvent(meta, stored, { actor: TOOL_ROUTER_ACTOR, correlation_id: owner.execution_id })],
        { idempotencyKey: `evidence.stored:${stored.evidence_id}` },
      );
      return stored;
    },
  };
}

function toEvent(event: ToolRouterEvent, meta: EventMeta): AnyEvent {
  const id = event.payload.execution_id;
  switch (event.type) {
    case "tool_call.started":
      return newEvent(event.type, id, event.payload, meta);
    case "tool_call.output":
      return newEvent(event.type, id, event.payload, meta);
    case "tool_call.completed":
      return newEvent(event.type, id, event.payload, meta);
    default: {
      const unknownEvent: never = event;
      throw new Error(`unknown tool router event ${JSON.stringify(unknownEvent)}`);
    }
  }
}
