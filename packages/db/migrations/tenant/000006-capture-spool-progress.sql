-- How far capture has consumed each local spool file into capture_outbox. Capture appends every
-- event Baileys hands over to a per-instance spool file before anything else (a synchronous
-- write, so a SIGKILL cannot lose it), and the statement that stores a batch in the outbox also
-- moves this offset, atomically with the seq allocation. After a crash, the spool's tail past
-- `consumed` is exactly what never reached the outbox: replaying it neither loses nor repeats.
-- The update is a compare-and-set on `consumed`, so two replayers of one file cannot both store
-- the same records.
CREATE TABLE :SCHEMA.capture_spool_progress (
  instance text NOT NULL,
  -- The spool file's name, unique per writer (process start, pid and a counter).
  spool text NOT NULL,
  -- Bytes of the file already stored in the outbox (a record boundary).
  consumed bigint NOT NULL CHECK (consumed >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, spool)
);
