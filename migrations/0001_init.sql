-- Read models. Only projectors write these tables; every row can be rebuilt
-- from the event streams. `last_seq` is the stream sequence of the last event
-- folded into a row. Timestamps are event times (occurred_at), never now(),
-- so a rebuild reproduces them exactly.

CREATE TABLE plans (
  plan_id            text PRIMARY KEY,
  revision           integer,
  status             text NOT NULL,
  intent             text,
  source             text,
  environment        text,
  service            text,
  signal_id          text,
  summary            text,
  planner            jsonb,
  failure_reasons    jsonb,
  decision           text,
  tier               text,
  policy             jsonb,
  approvals_required integer NOT NULL DEFAULT 0,
  approvals_granted  integer NOT NULL DEFAULT 0,
  actor_id           text,
  correlation_id     text,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  last_seq           bigint NOT NULL
);
CREATE INDEX plans_created_at_idx ON plans (created_at DESC, plan_id DESC);
CREATE INDEX plans_status_created_idx ON plans (status, created_at DESC, plan_id DESC);
CREATE INDEX plans_service_created_idx ON plans (service, created_at DESC, plan_id DESC);
CREATE INDEX plans_environment_created_idx ON plans (environment, created_at DESC, plan_id DESC);

CREATE TABLE plan_steps (
  plan_id            text NOT NULL,
  revision           integer NOT NULL,
  step_id            text NOT NULL,
  position           integer NOT NULL,
  action_id          text NOT NULL,
  input              jsonb NOT NULL,
  target             jsonb NOT NULL,
  environment        text,
  service            text,
  rationale          text NOT NULL,
  expected_effect    text,
  verification       jsonb,
  rollback           jsonb,
  decision           text,
  tier               text,
  reasons            jsonb,
  approvers_required integer,
  constraints        jsonb,
  PRIMARY KEY (plan_id, revision, step_id)
);

CREATE TABLE approvals (
  approval_id        text PRIMARY KEY,
  plan_id            text NOT NULL,
  revision           integer NOT NULL,
  status             text NOT NULL,
  approvers_required integer NOT NULL,
  approvers          jsonb NOT NULL DEFAULT '[]',
  channels           jsonb NOT NULL DEFAULT '[]',
  links              jsonb NOT NULL DEFAULT '{}',
  expires_at         timestamptz,
  reason             text,
  requested_at       timestamptz NOT NULL,
  decided_at         timestamptz,
  last_seq           bigint NOT NULL
);
CREATE INDEX approvals_plan_idx ON approvals (plan_id, revision);
CREATE INDEX approvals_pending_idx ON approvals (expires_at) WHERE status = 'pending';

CREATE TABLE executions (
  execution_id   text PRIMARY KEY,
  plan_id        text,
  revision       integer,
  status         text NOT NULL,
  dry_run        boolean NOT NULL DEFAULT false,
  workflow_id    text,
  run_id         text,
  reason         text,
  steps          jsonb NOT NULL DEFAULT '{}',
  verification   jsonb NOT NULL DEFAULT '[]',
  actor_id       text,
  correlation_id text,
  created_at     timestamptz NOT NULL,
  started_at     timestamptz,
  finished_at    timestamptz,
  updated_at     timestamptz NOT NULL,
  last_seq       bigint NOT NULL
);
CREATE INDEX executions_plan_id_idx ON executions (plan_id);
CREATE INDEX executions_created_idx ON executions (created_at DESC, execution_id DESC);
CREATE INDEX executions_status_created_idx ON executions (status, created_at DESC, execution_id DESC);

CREATE TABLE tool_calls (
  tool_call_id  text PRIMARY KEY,
  execution_id  text NOT NULL,
  step_id       text,
  action_id     text,
  binary_name   text,
  argv          jsonb,
  via           text,
  dry_run       boolean,
  status        text NOT NULL,
  exit_code     integer,
  duration_ms   double precision,
  truncated     boolean,
  stdout_sha256 text,
  stderr_sha256 text,
  evidence_id   text,
  error         text,
  started_at    timestamptz,
  completed_at  timestamptz,
  last_seq      bigint NOT NULL
);
CREATE INDEX tool_calls_execution_id_idx ON tool_calls (execution_id, started_at);

CREATE TABLE evidence (
  evidence_id  text PRIMARY KEY,
  owner_type   text NOT NULL,
  owner_id     text NOT NULL,
  kind         text NOT NULL,
  uri          text NOT NULL,
  sha256       text NOT NULL,
  size_bytes   bigint NOT NULL,
  content_type text NOT NULL,
  redacted     boolean NOT NULL,
  created_at   timestamptz NOT NULL,
  last_seq     bigint NOT NULL
);
CREATE INDEX evidence_owner_idx ON evidence (owner_type, owner_id, created_at);

-- One row per event, hash-chained by the audit projection (projections/audit).
CREATE TABLE audit_events (
  seq            bigint PRIMARY KEY,
  event_id       text NOT NULL UNIQUE,
  type           text NOT NULL,
  aggregate_type text NOT NULL,
  aggregate_id   text NOT NULL,
  actor_id       text NOT NULL,
  actor          jsonb NOT NULL,
  action         text NOT NULL,
  subject        text NOT NULL,
  outcome        text,
  correlation_id text NOT NULL,
  causation_id   text,
  occurred_at    timestamptz NOT NULL,
  payload        jsonb NOT NULL,
  prev_hash      text,
  hash           text
);
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, seq);
CREATE INDEX audit_events_type_idx ON audit_events (type, seq);
CREATE INDEX audit_events_correlation_idx ON audit_events (correlation_id, seq);
CREATE INDEX audit_events_aggregate_idx ON audit_events (aggregate_type, aggregate_id, seq);

CREATE TABLE context_nodes (
  node_id     text PRIMARY KEY,
  kind        text NOT NULL,
  name        text NOT NULL,
  environment text,
  attributes  jsonb NOT NULL DEFAULT '{}',
  updated_at  timestamptz NOT NULL,
  last_seq    bigint NOT NULL
);
CREATE INDEX context_nodes_kind_idx ON context_nodes (kind, name);

CREATE TABLE context_edges (
  from_node  text NOT NULL,
  to_node    text NOT NULL,
  kind       text NOT NULL,
  updated_at timestamptz NOT NULL,
  last_seq   bigint NOT NULL,
  PRIMARY KEY (from_node, to_node, kind)
);
CREATE INDEX context_edges_to_idx ON context_edges (to_node);

-- Last stream sequence applied per projection, advanced in the same
-- transaction as the rows it covers.
CREATE TABLE projection_checkpoints (
  projection       text PRIMARY KEY,
  last_seq         bigint NOT NULL DEFAULT 0,
  last_occurred_at timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Events a consumer could not handle: recorded, visible, never blocking.
CREATE TABLE dead_letters (
  id          bigserial PRIMARY KEY,
  consumer    text NOT NULL,
  stream      text NOT NULL,
  seq         bigint NOT NULL,
  subject     text NOT NULL,
  event_id    text,
  event_type  text,
  reason      text NOT NULL,
  error       text NOT NULL,
  deliveries  integer NOT NULL DEFAULT 1,
  data        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (consumer, stream, seq)
);
