-- Audit trail: one hash-chained record per event, written only by the audit
-- projection (lib/audit appendAuditEvents) inside the projector's transaction.
-- See lib/audit/record.ts for the exact hash definition.
--
-- Idempotent on top of 0001: creates the table when 0001 did not, and adds
-- the columns the chain needs when 0001 declared a smaller table.
CREATE TABLE IF NOT EXISTS audit_events (
  seq bigint PRIMARY KEY
);

ALTER TABLE audit_events
  ADD COLUMN IF NOT EXISTS event_id text,
  ADD COLUMN IF NOT EXISTS event_seq bigint,
  ADD COLUMN IF NOT EXISTS action text,
  ADD COLUMN IF NOT EXISTS schema_version int,
  ADD COLUMN IF NOT EXISTS aggregate_type text,
  ADD COLUMN IF NOT EXISTS aggregate_id text,
  ADD COLUMN IF NOT EXISTS occurred_at timestamptz,
  ADD COLUMN IF NOT EXISTS actor jsonb,
  ADD COLUMN IF NOT EXISTS actor_kind text,
  ADD COLUMN IF NOT EXISTS actor_id text,
  ADD COLUMN IF NOT EXISTS outcome text,
  ADD COLUMN IF NOT EXISTS service text,
  ADD COLUMN IF NOT EXISTS correlation_id text,
  ADD COLUMN IF NOT EXISTS causation_id text,
  ADD COLUMN IF NOT EXISTS payload jsonb,
  ADD COLUMN IF NOT EXISTS prev_hash text,
  ADD COLUMN IF NOT EXISTS hash text,
  ADD COLUMN IF NOT EXISTS recorded_at timestamptz NOT NULL DEFAULT now();

CREATE UNIQUE INDEX IF NOT EXISTS audit_events_event_id ON audit_events (event_id);
CREATE INDEX IF NOT EXISTS audit_events_occurred_at ON audit_events (occurred_at, seq);
CREATE INDEX IF NOT EXISTS audit_events_aggregate ON audit_events (aggregate_type, aggregate_id, seq);
CREATE INDEX IF NOT EXISTS audit_events_correlation ON audit_events (correlation_id, seq);
CREATE INDEX IF NOT EXISTS audit_events_actor ON audit_events (actor_id, seq);
CREATE INDEX IF NOT EXISTS audit_events_action ON audit_events (action, seq);
CREATE INDEX IF NOT EXISTS audit_events_service ON audit_events (service) WHERE service IS NOT NULL;

-- Append-only for everyone who goes through the application: no API updates
-- or deletes audit rows, and this makes a bug that tried fail loudly. A
-- superuser can still disable the trigger; that is what the hash chain is
-- for (the verifier names the first altered, deleted or moved record).
-- TRUNCATE stays possible so that a read-model rebuild can start from empty:
-- the chain is a pure function of the event stream, so a rebuild reproduces
-- the same hashes.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'audit records are never changed; rebuild the read model from the events stream instead';
END;
$$;

DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events;
CREATE TRIGGER audit_events_append_only
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
