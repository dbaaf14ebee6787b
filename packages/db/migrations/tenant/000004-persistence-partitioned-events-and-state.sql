-- Persistence: the events log partitioned by month on occurred_at (so retention drops partitions
-- instead of running large DELETEs), an id table that keeps exactly-once by event id (a
-- partitioned table's primary key must include the partition key), and the state people query.

-- 1. The log. 000001 created `events` unpartitioned; move its rows into the partitioned table.
ALTER TABLE :SCHEMA.events RENAME TO events_unpartitioned;
ALTER INDEX :SCHEMA.events_pkey RENAME TO events_unpartitioned_pkey;
DROP INDEX :SCHEMA.events_instance_occurred_idx;
DROP INDEX :SCHEMA.events_type_occurred_idx;
DROP INDEX :SCHEMA.events_instance_type_idx;

CREATE TABLE :SCHEMA.events (
  id text NOT NULL,
  instance text NOT NULL,
  type text NOT NULL,
  seq bigint NULL,
  source text NOT NULL,
  correlation_id text NULL,
  occurred_at timestamptz NOT NULL,
  captured_at timestamptz NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now(),
  data jsonb NOT NULL,
  PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
-- Monthly partitions (events_pYYYYMM) are created ahead by persistence and on demand for the
-- months a batch touches; the default one only catches a row whose month was not created yet.
CREATE TABLE :SCHEMA.events_default PARTITION OF :SCHEMA.events DEFAULT;
-- id breaks occurred_at ties in the API's order, so the indexes carry it and pages need no sort.
CREATE INDEX events_occurred_idx ON :SCHEMA.events (occurred_at DESC, id DESC);
CREATE INDEX events_instance_occurred_idx ON :SCHEMA.events (instance, occurred_at DESC, id DESC);
CREATE INDEX events_type_occurred_idx ON :SCHEMA.events (type, occurred_at DESC, id DESC);
CREATE INDEX events_instance_type_idx ON :SCHEMA.events (instance, type, occurred_at DESC, id DESC);

-- Exactly-once by id: a batch inserts here first (ON CONFLICT DO NOTHING RETURNING id) and only
-- the ids it returns go into `events`, in the same transaction. It also finds an event's
-- partition for GET /api/events/:id.
CREATE TABLE :SCHEMA.event_ids (
  id text PRIMARY KEY,
  occurred_at timestamptz NOT NULL
);
-- Retention removes the ids of dropped partitions by range.
CREATE INDEX event_ids_occurred_idx ON :SCHEMA.event_ids (occurred_at);

-- The months the existing rows fall in get their partitions before the copy: rows copied into the
-- default partition would make those months impossible to create later (Postgres refuses a new
-- partition whose range the default partition already holds rows of), and retention could never
-- drop them. Same names and UTC month bounds as services/persistence/src/partitions.ts.
DO $$
DECLARE
  month_start timestamp;
BEGIN
  FOR month_start IN
    SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') FROM :SCHEMA.events_unpartitioned
  LOOP
    EXECUTE format(
      'CREATE TABLE IF NOT EXISTS %s.%I PARTITION OF %s.events FOR VALUES FROM (%L) TO (%L)',
      ':SCHEMA', 'events_p' || to_char(month_start, 'YYYYMM'), ':SCHEMA',
      (month_start AT TIME ZONE 'UTC'), ((month_start + interval '1 month') AT TIME ZONE 'UTC'));
  END LOOP;
END $$;

INSERT INTO :SCHEMA.events (id, instance, type, seq, source, correlation_id, occurred_at, captured_at, stored_at, data)
  SELECT id, instance, type, seq, source, correlation_id, occurred_at, captured_at, stored_at, data FROM :SCHEMA.events_unpartitioned;
INSERT INTO :SCHEMA.event_ids (id, occurred_at) SELECT id, occurred_at FROM :SCHEMA.events_unpartitioned;
DROP TABLE :SCHEMA.events_unpartitioned;

-- 2. State. Each row remembers the (occurred_at, seq) of the event that last wrote it
-- (`version_at`, `version_seq`), so an older event never overwrites newer state.

-- Messages: content from the first message event (or a later edit), status only ever moves up
-- (sent < delivered < read < played), whatever order receipts arrive in. Keyed by instance and
-- WhatsApp message id, not chat: a receipt may address the chat by LID, the message by phone JID.
CREATE TABLE :SCHEMA.messages (
  instance text NOT NULL,
  message_id text NOT NULL,
  chat_jid text NOT NULL,
  chat_lid text NULL,
  sender_jid text NULL,
  sender_lid text NULL,
  from_me boolean NULL,
  push_name text NULL,
  message_type text NULL,
  text text NULL,
  media jsonb NULL,
  quoted_message_id text NULL,
  -- When WhatsApp says the message was sent; null until a message event (not only a receipt) arrived.
  sent_at timestamptz NULL,
  content_event_id text NULL,
  status text NOT NULL DEFAULT 'unknown',
  status_rank smallint NOT NULL DEFAULT 0,
  status_at timestamptz NULL,
  edited_at timestamptz NULL,
  edit_count int NOT NULL DEFAULT 0,
  deleted_at timestamptz NULL,
  deleted_scope text NULL,
  deleted_by_jid text NULL,
  deleted_by_lid text NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, message_id)
);
CREATE INDEX messages_chat_idx ON :SCHEMA.messages (instance, chat_jid, sent_at DESC);
CREATE INDEX messages_sent_idx ON :SCHEMA.messages (sent_at DESC, instance, message_id);

-- Every status change, edit and deletion of a message, one row per event (receipts in groups
-- come per participant).
CREATE TABLE :SCHEMA.message_history (
  instance text NOT NULL,
  message_id text NOT NULL,
  event_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('status', 'edit', 'delete')),
  status text NULL,
  participant_jid text NULL,
  participant_lid text NULL,
  at timestamptz NOT NULL,
  detail jsonb NULL,
  PRIMARY KEY (instance, message_id, event_id)
);

-- Chats, contacts and groups: an upsert carries what changed, merged into `attrs` (a null
-- clears a value), applied only when the event is not older than the row.
CREATE TABLE :SCHEMA.chats (
  instance text NOT NULL,
  chat_jid text NOT NULL,
  chat_lid text NULL,
  attrs jsonb NOT NULL DEFAULT '{}',
  deleted_at timestamptz NULL,
  version_at timestamptz NOT NULL,
  version_seq bigint NOT NULL DEFAULT -1,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, chat_jid)
);

CREATE TABLE :SCHEMA.contacts (
  instance text NOT NULL,
  contact_jid text NOT NULL,
  -- LID-first addressing: keep both the LID and the phone-number JID where known.
  contact_lid text NULL,
  phone_jid text NULL,
  attrs jsonb NOT NULL DEFAULT '{}',
  deleted_at timestamptz NULL,
  version_at timestamptz NOT NULL,
  version_seq bigint NOT NULL DEFAULT -1,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, contact_jid)
);
CREATE INDEX contacts_lid_idx ON :SCHEMA.contacts (instance, contact_lid);

CREATE TABLE :SCHEMA.groups (
  instance text NOT NULL,
  group_jid text NOT NULL,
  attrs jsonb NOT NULL DEFAULT '{}',
  deleted_at timestamptz NULL,
  version_at timestamptz NOT NULL,
  version_seq bigint NOT NULL DEFAULT -1,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, group_jid)
);

CREATE TABLE :SCHEMA.group_participants (
  instance text NOT NULL,
  group_jid text NOT NULL,
  participant_jid text NOT NULL,
  participant_lid text NULL,
  admin text NULL,
  active boolean NOT NULL,
  version_at timestamptz NOT NULL,
  version_seq bigint NOT NULL DEFAULT -1,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, group_jid, participant_jid)
);

-- One current reaction per reactor and message; an empty text means it was removed.
CREATE TABLE :SCHEMA.reactions (
  instance text NOT NULL,
  message_id text NOT NULL,
  -- The reactor's JID, or 'me' for this account.
  reactor text NOT NULL,
  reactor_lid text NULL,
  chat_jid text NOT NULL,
  reaction_id text NOT NULL,
  text text NOT NULL,
  removed boolean NOT NULL,
  reacted_at timestamptz NOT NULL,
  version_at timestamptz NOT NULL,
  version_seq bigint NOT NULL DEFAULT -1,
  PRIMARY KEY (instance, message_id, reactor)
);

-- Media metadata: the descriptor from the message, then where the media service stored it.
CREATE TABLE :SCHEMA.media (
  instance text NOT NULL,
  message_id text NOT NULL,
  kind text NOT NULL,
  mimetype text NULL,
  file_length bigint NULL,
  file_name text NULL,
  descriptor jsonb NULL,
  storage_url text NULL,
  sha256 text NULL,
  size bigint NULL,
  stored_event_id text NULL,
  stored_at timestamptz NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, message_id)
);

-- The first message from a contact this instance did not know (no contact row, no earlier message).
CREATE TABLE :SCHEMA.onboarding (
  instance text NOT NULL,
  contact_jid text NOT NULL,
  contact_lid text NULL,
  push_name text NULL,
  chat_jid text NOT NULL,
  first_message_id text NOT NULL,
  first_event_id text NOT NULL,
  first_message_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, contact_jid)
);

-- Replays that run as a job: progress any replica can answer for.
CREATE TABLE :SCHEMA.replay_jobs (
  id text PRIMARY KEY,
  filters jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  events_found int NOT NULL,
  events_replayed int NOT NULL DEFAULT 0,
  events_failed int NOT NULL DEFAULT 0,
  error text NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz NULL
);
