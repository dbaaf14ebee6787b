-- Capture's per-instance event counter. Each batch of captured events takes a contiguous range
-- in one upsert, so `seq` is monotonic per instance across restarts and replicas (the row lock
-- serialises allocators) and persistence can count gaps against it.

CREATE TABLE :SCHEMA.instance_sequences (
  instance text PRIMARY KEY,
  -- The highest seq handed out so far; the next batch starts at last_seq + 1.
  last_seq bigint NOT NULL CHECK (last_seq >= 0)
);
