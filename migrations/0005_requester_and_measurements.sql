-- The console's lists filter on who asked (`?requester=`, the actor id) and
-- when (`?from=`/`?to=` on created_at), served by the API: one index per
-- read model in the order the lists page (newest first).
CREATE INDEX IF NOT EXISTS plans_actor_created_idx ON plans (actor_id, created_at DESC, plan_id DESC);
CREATE INDEX IF NOT EXISTS executions_actor_created_idx ON executions (actor_id, created_at DESC, execution_id DESC);

-- Verification measurements (`execution.measured`): one row per analysis
-- attempt of one query of one step, what the console charts against the
-- step's thresholds. Part of the executions read model; insert-only (a
-- measurement recorded twice keeps its first record). measurement_id is
-- derived from (execution, step, provider, query, attempt), so a query of
-- any length never makes the key too long for its index.
CREATE TABLE IF NOT EXISTS execution_measurements (
  measurement_id text PRIMARY KEY,
  execution_id   text NOT NULL,
  step_id        text NOT NULL,
  provider       text NOT NULL,
  query          text NOT NULL,
  attempt        int4 NOT NULL,
  value          float8,
  outcome        text NOT NULL,
  reason         text NOT NULL,
  measured_at    timestamptz NOT NULL,
  evidence_id    text,
  last_seq       int8 NOT NULL
);
CREATE INDEX IF NOT EXISTS execution_measurements_execution_idx
  ON execution_measurements (execution_id, step_id, measured_at, attempt);
