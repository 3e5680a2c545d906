-- Audit trail: one hash-chained record per event, written only by the audit
-- projection (lib/audit appendAuditEvents) inside the projector's transaction.
-- See lib/audit/record.ts for the exact hash definition.
--
-- 0001 declares the table; this adds what the chain also hashes (the stream
-- sequence, the schema version, the actor kind, the service the change is
-- about) and the hashed text itself. Written to be idempotent so that it also works on a database where
-- 0001 declared a smaller table.
CREATE TABLE IF NOT EXISTS audit_events (
  seq bigint PRIMARY KEY
);

ALTER TABLE audit_events
  ADD COLUMN IF NOT EXISTS event_id text,
  ADD COLUMN IF NOT EXISTS event_seq bigint,
  ADD COLUMN IF NOT EXISTS type text,
  ADD COLUMN IF NOT EXISTS action text,
  ADD COLUMN IF NOT EXISTS schema_version int,
  ADD COLUMN IF NOT EXISTS aggregate_type text,
  ADD COLUMN IF NOT EXISTS aggregate_id text,
  ADD COLUMN IF NOT EXISTS subject text,
  ADD COLUMN IF NOT EXISTS occurred_at timestamptz,
  ADD COLUMN IF NOT EXISTS actor jsonb,
  ADD COLUMN IF NOT EXISTS actor_id text,
  ADD COLUMN IF NOT EXISTS actor_kind text,
  ADD COLUMN IF NOT EXISTS outcome text,
  ADD COLUMN IF NOT EXISTS service text,
  ADD COLUMN IF NOT EXISTS correlation_id text,
  ADD COLUMN IF NOT EXISTS causation_id text,
  ADD COLUMN IF NOT EXISTS payload jsonb,
  ADD COLUMN IF NOT EXISTS prev_hash text,
  ADD COLUMN IF NOT EXISTS hash text,
  -- The RFC 8785 text the hash covers. The verifier hashes it and has
  -- Postgres check that every column still equals it (record::jsonb against
  -- the columns), so nothing is re-canonicalized on a walk.
  ADD COLUMN IF NOT EXISTS record text;

CREATE UNIQUE INDEX IF NOT EXISTS audit_events_event_id_key ON audit_events (event_id);
CREATE INDEX IF NOT EXISTS audit_events_service_idx ON audit_events (service) WHERE service IS NOT NULL;
-- explain and the evidence check look up evidence and executions by payload fields.
CREATE INDEX IF NOT EXISTS audit_events_plan_ref_idx ON audit_events ((payload ->> 'plan_id'))
  WHERE aggregate_type = 'execution' AND action = 'execution.requested';

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
