-- Persistence writes a batch of events in one statement, with no BEGIN or COMMIT around it, when
-- it may: the statement claims the batch's ids and applies their state changes, which is right
-- only if every id was new. This function stops that statement when some id was stored before (a
-- redelivery overlapping a committed batch): it raises SQLSTATE SYB01, the statement rolls back
-- whole, and persistence writes the batch again in a transaction that projects only the new ones.
CREATE OR REPLACE FUNCTION :SCHEMA.require_all_claimed(claimed bigint, expected int) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF claimed <> expected THEN
    RAISE EXCEPTION '% of % events of the batch were stored before', expected - claimed, expected
      USING ERRCODE = 'SYB01';
  END IF;
  RETURN true;
END
$$;
