-- Where a replay job has got to (the (occurred_at, id) of the last event it published), saved
-- with its progress, so a job whose replica died or drained is resumed from there by another
-- replica instead of staying `running` for ever.
ALTER TABLE :SCHEMA.replay_jobs
  ADD COLUMN cursor_occurred_us text NULL,
  ADD COLUMN cursor_id text NULL;
