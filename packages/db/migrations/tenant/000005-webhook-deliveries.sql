-- webhook-dispatch's delivery log: one row per (endpoint, event) delivery and one per HTTP
-- attempt. The delivery row is also where a retry's progress survives a restart: the WEBHOOKS
-- message stays unacked while it retries, and whichever replica gets it next reads how many
-- attempts were made and when the next one is due from here, so a restart neither re-sends
-- early nor restarts the schedule.
CREATE TABLE :SCHEMA.webhook_deliveries (
  endpoint_id text NOT NULL,
  event_id text NOT NULL,
  event_type text NOT NULL,
  instance text NOT NULL,
  seq bigint NOT NULL,
  -- The WEBHOOKS message of the current run; a manual re-send starts a run with a newer one,
  -- and an older message that turns up again is then recognised as superseded.
  stream_seq bigint NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'retrying', 'delivered', 'exhausted')),
  -- Attempts in the current run: the position in the endpoint's retry schedule.
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NULL,
  last_status int NULL,
  last_error text NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz NULL,
  PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_recent_idx ON :SCHEMA.webhook_deliveries (endpoint_id, updated_at DESC);
CREATE INDEX webhook_deliveries_status_idx ON :SCHEMA.webhook_deliveries (endpoint_id, status, updated_at);

CREATE TABLE :SCHEMA.webhook_delivery_attempts (
  id bigserial PRIMARY KEY,
  endpoint_id text NOT NULL,
  event_id text NOT NULL,
  stream_seq bigint NOT NULL,
  attempt int NOT NULL,
  attempted_at timestamptz NOT NULL,
  outcome text NOT NULL,
  status int NULL,
  latency_ms int NOT NULL,
  error text NULL,
  -- At most 1 KiB of what the receiver answered: enough to debug, never a log bomb.
  response_body text NULL
);
CREATE INDEX webhook_delivery_attempts_delivery_idx ON :SCHEMA.webhook_delivery_attempts (endpoint_id, event_id, id);
