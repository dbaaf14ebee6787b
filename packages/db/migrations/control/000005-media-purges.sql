-- A deleted tenant's stored media. `tenant delete` drops the tenant's schema and rows in one
-- transaction, but the decrypted media lives in S3 (or a directory) that Postgres cannot reach:
-- the same transaction leaves a row here, and the media service removes the objects under
-- `<prefix><tenant>/` and marks the row done (`purged_at`, `objects`). A failed pass leaves the
-- row pending with `last_error` and is tried again.
CREATE TABLE :SCHEMA.media_purges (
  id bigserial PRIMARY KEY,
  tenant text NOT NULL,
  deleted_at timestamptz NOT NULL DEFAULT now(),
  purged_at timestamptz,
  objects bigint,
  attempts integer NOT NULL DEFAULT 0,
  last_error text
);
CREATE INDEX media_purges_pending ON :SCHEMA.media_purges (deleted_at) WHERE purged_at IS NULL;
