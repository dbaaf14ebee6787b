-- Capture publishes a batch straight to INGEST once its seqs are allocated; only what NATS does
-- not acknowledge in time is stored in capture_outbox. A spool file's records therefore fall in
-- three runs: [0, consumed) are acknowledged by INGEST or stored in the outbox; [consumed,
-- numbered) have seqs — contiguous, the last one `numbered_last_seq` — and exist only in the
-- spool and in memory until INGEST acknowledges them; [numbered, end) have no seq yet. A replay
-- after a crash publishes the middle run with its own seqs (what INGEST already holds comes back
-- as a Nats-Msg-Id duplicate) and stores the last run in the outbox with new ones.
--
-- A capture from before this migration (a rolling upgrade) still writes only `consumed`, as far
-- as it stored; readers take GREATEST(consumed, numbered) as the numbered offset, so its rows
-- read as "nothing numbered-only", which is what they mean.
ALTER TABLE :SCHEMA.capture_spool_progress
  ADD COLUMN numbered bigint NOT NULL DEFAULT 0 CHECK (numbered >= 0),
  ADD COLUMN numbered_last_seq bigint NOT NULL DEFAULT 0;
UPDATE :SCHEMA.capture_spool_progress SET numbered = consumed;
