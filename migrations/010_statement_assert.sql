-- A statement that writes in several steps (data-modifying WITH clauses) and finds, at its end,
-- that one of them could not do its part calls this: the error undoes the whole statement, so a
-- write done in one statement is all or nothing, as a transaction would be, without the round
-- trips of one. `what` names the step (the caller falls back to the step-by-step path).
CREATE FUNCTION statement_assert(ok boolean, what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION 'statement incomplete: %', what USING ERRCODE = 'SBI01';
  END IF;
  RETURN true;
END $$;
