-- Per-endpoint delivery settings (webhook-dispatch issue): each endpoint carries its own retry
-- schedule and limits, so a tenant can slow down retries to a fragile receiver without touching
-- anyone else's. NULL means "the service default" (WEBHOOK_RETRY_DELAYS, WEBHOOK_ENDPOINT_*), so
-- changing a default applies to every endpoint that never chose its own.
ALTER TABLE :SCHEMA.webhook_endpoints
  ADD COLUMN retry_delays_ms int[] NULL,
  ADD COLUMN max_concurrency int NULL CHECK (max_concurrency BETWEEN 1 AND 1000),
  ADD COLUMN rate_limit_per_second int NULL CHECK (rate_limit_per_second BETWEEN 1 AND 100000),
  -- Secret rotation: the secret being replaced keeps signing (as a second `v1,` signature) until
  -- this instant, so receivers can switch to the new secret without a window of failed checks.
  ADD COLUMN previous_secret text NULL,
  ADD COLUMN previous_secret_expires_at timestamptz NULL,
  -- Why the endpoint was disabled when the dispatcher did it (e.g. the receiver answered 410).
  ADD COLUMN disabled_reason text NULL;
