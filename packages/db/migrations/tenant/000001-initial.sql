-- One tenant's data. Every statement names :SCHEMA explicitly; connections search pg_catalog only.

CREATE TABLE :SCHEMA.events (
  -- The event's stable id: also its Nats-Msg-Id and webhook-id, so inserts are idempotent.
  id text PRIMARY KEY,
  instance text NOT NULL,
  type text NOT NULL,
  seq bigint NULL,
  source text NOT NULL,
  correlation_id text NULL,
  occurred_at timestamptz NOT NULL,
  captured_at timestamptz NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now(),
  data jsonb NOT NULL
);
CREATE INDEX events_instance_occurred_idx ON :SCHEMA.events (instance, occurred_at DESC);
CREATE INDEX events_type_occurred_idx ON :SCHEMA.events (type, occurred_at DESC);
CREATE INDEX events_instance_type_idx ON :SCHEMA.events (instance, type);

CREATE TABLE :SCHEMA.media_jobs (
  event_id text NOT NULL,
  message_id text NOT NULL,
  instance text NOT NULL,
  kind text NOT NULL,
  descriptor jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id)
);

CREATE TABLE :SCHEMA.exhausted_events (
  id bigserial PRIMARY KEY,
  -- source_stream:source_seq:consumer — makes a re-delivered DLQ record a no-op.
  dlq_key text NOT NULL UNIQUE,
  event_id text NULL,
  service text NOT NULL,
  source_stream text NOT NULL,
  source_subject text NOT NULL,
  source_seq bigint NOT NULL,
  consumer text NOT NULL,
  reason text NOT NULL,
  error text NOT NULL,
  retryable boolean NOT NULL,
  deliveries int NOT NULL,
  attempts jsonb NOT NULL,
  headers jsonb NOT NULL,
  payload bytea NOT NULL,
  failed_at timestamptz NOT NULL,
  exhausted_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'requeued', 'discarded')),
  requeued_at timestamptz NULL
);
CREATE INDEX exhausted_events_status_idx ON :SCHEMA.exhausted_events (status, exhausted_at DESC);
CREATE INDEX exhausted_events_reason_idx ON :SCHEMA.exhausted_events (reason);
