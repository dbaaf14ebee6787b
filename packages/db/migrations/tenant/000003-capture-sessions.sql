-- Capture's WhatsApp sessions: what an operator asked for, what the owning replica last saw, and
-- Baileys' auth state. Auth state lives here rather than in local files so any replica can resume
-- any session after a restart or failover without a new QR pairing.

CREATE TABLE :SCHEMA.wa_sessions (
  instance text PRIMARY KEY,
  -- What the operator asked for: a live socket ('connected'), none ('stopped'), a logout or a
  -- deletion. The replica holding the instance's lease converges on it (logging out needs the
  -- live socket), so the API and CLI only ever write this column.
  desired text NOT NULL DEFAULT 'stopped' CHECK (desired IN ('connected', 'stopped', 'logged_out', 'deleted')),
  -- What the owning replica last observed (written on state changes only, never per update).
  status text NOT NULL DEFAULT 'created'
    CHECK (status IN ('created', 'connecting', 'qr', 'open', 'disconnected', 'replaced', 'logged_out', 'stopped')),
  qr text NULL,
  qr_at timestamptz NULL,
  -- Set by `connect --pairing-code <phone>`; the owner asks WhatsApp for a code once the socket is up.
  pairing_phone text NULL,
  pairing_code text NULL,
  status_code int NULL,
  last_error text NULL,
  me_jid text NULL,
  me_lid text NULL,
  -- The replica that holds the socket (informational; the NATS KV lease is the authority).
  owner text NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Baileys creds (AuthenticationCreds), BufferJSON-serialised, replaced whole on creds.update.
CREATE TABLE :SCHEMA.wa_auth_creds (
  instance text PRIMARY KEY,
  creds jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Baileys signal keys (SignalKeyStore): one row per (type, id), BufferJSON-serialised.
CREATE TABLE :SCHEMA.wa_auth_keys (
  instance text NOT NULL,
  type text NOT NULL,
  id text NOT NULL,
  value jsonb NOT NULL,
  PRIMARY KEY (instance, type, id)
);

-- Capture's durable outbox: an event is stored here with its seq, in the same transaction that
-- allocates the seq, before it is relayed to INGEST; the row goes once INGEST acknowledged it.
-- The payload is the exact envelope bytes published (jsonb would reject \u0000 in message text
-- and re-encode on every relay).
CREATE TABLE :SCHEMA.capture_outbox (
  instance text NOT NULL,
  seq bigint NOT NULL,
  event_id text NOT NULL,
  type text NOT NULL,
  payload bytea NOT NULL,
  enqueued_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, seq)
);
