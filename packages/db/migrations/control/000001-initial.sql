-- Control schema: who the tenants are and what may act for them. Tenant data never lives here.

CREATE TABLE :SCHEMA.tenants (
  id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  schema_name text NOT NULL UNIQUE,
  status text NOT NULL DEFAULT 'active',
  retention_days int NOT NULL DEFAULT 0 CHECK (retention_days >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE :SCHEMA.api_keys (
  -- Public key id (key_<12 hex>); the secret part is only ever stored hashed.
  id text PRIMARY KEY,
  tenant_id text NULL REFERENCES :SCHEMA.tenants(id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('read', 'admin', 'operator')),
  key_hash bytea NOT NULL UNIQUE,
  name text,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz NULL,
  last_used_at timestamptz NULL,
  -- An operator key spans all tenants, so it must not be bound to one; a tenant key must be.
  CHECK ((role = 'operator') = (tenant_id IS NULL))
);
CREATE INDEX api_keys_tenant_idx ON :SCHEMA.api_keys (tenant_id);

CREATE TABLE :SCHEMA.webhook_endpoints (
  id text PRIMARY KEY,
  tenant_id text NOT NULL REFERENCES :SCHEMA.tenants(id) ON DELETE CASCADE,
  url text NOT NULL,
  event_types text[] NOT NULL DEFAULT '{*}',
  enabled boolean NOT NULL DEFAULT true,
  -- Standard Webhooks signing secret (whsec_…); the dispatcher needs it in clear to sign.
  secret text NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}',
  timeout_ms int NOT NULL DEFAULT 10000,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant_idx ON :SCHEMA.webhook_endpoints (tenant_id);

-- Messages that could not be attributed to a provisioned tenant still must not be lost.
-- Same shape as the tenant table, plus the tenant the message claimed (if any).
CREATE TABLE :SCHEMA.exhausted_events (
  id bigserial PRIMARY KEY,
  -- source_stream:source_seq:consumer — makes a re-delivered DLQ record a no-op.
  dlq_key text NOT NULL UNIQUE,
  claimed_tenant text NULL,
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
