-- The media service now fetches, decrypts, verifies and stores each job's blob. A job goes
-- pending → stored, or → failed when no retry can help (the blob expired at WhatsApp, failed its
-- integrity checks, or is over the size limit); a failed job is tried again if its event comes
-- back (an SRE's requeue, a replay). `attempts` counts tries that ended in an error, `last_error`
-- says the latest one, so an SRE can see a job that keeps failing before it is exhausted.
-- `occurred_at` is the message's time: the tenant's event retention removes the media of the
-- messages it drops (jobs recorded before this migration take their creation time).
ALTER TABLE :SCHEMA.media_jobs
  ADD COLUMN attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN last_error text NULL,
  ADD COLUMN storage_url text NULL,
  ADD COLUMN size bigint NULL,
  ADD COLUMN sha256 text NULL,
  ADD COLUMN stored_at timestamptz NULL,
  ADD COLUMN occurred_at timestamptz NULL,
  ADD CONSTRAINT media_jobs_status_check CHECK (status IN ('pending', 'stored', 'failed'));
CREATE INDEX media_jobs_status_idx ON :SCHEMA.media_jobs (status, updated_at);
UPDATE :SCHEMA.media_jobs SET occurred_at = created_at;
ALTER TABLE :SCHEMA.media_jobs ALTER COLUMN occurred_at SET NOT NULL;
CREATE INDEX media_jobs_occurred_at_idx ON :SCHEMA.media_jobs (occurred_at);
