-- Each routing process keeps the free agents (load, idle time, state) in memory and, in each pass,
-- re-reads only the agents changed since its last read, instead of every free agent. Triggers
-- note every change a free-agent read depends on, so no write path can forget to: an agent's
-- state, capacity, profile, idle and offer times; work given to or taken from an agent; an offer
-- released.
--
-- A change is stamped with its transaction's id. A reader remembers the snapshot it read in and
-- next reads the changes of every transaction that snapshot did not see (still running then, or
-- begun since), so a transaction that began first and commits last is not missed. Transactions
-- running elsewhere in the cluster (other databases too) hold the snapshot's xmin back, but add
-- nothing to what is read: the changes they did not make are filtered out by visibility.
CREATE TABLE agent_changes (
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  agent_id uuid NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX agent_changes_xid_idx ON agent_changes (xid);
CREATE INDEX agent_changes_at_idx ON agent_changes (at);

-- Old changes are pruned; the highest transaction id pruned is kept here. A reader whose
-- snapshot's xmin is not above it may have missed a change and reads every free agent again.
-- TRUNCATE of a table the read depends on (no row triggers) moves it too.
CREATE TABLE agent_changes_pruned (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  through xid8 NOT NULL
);
INSERT INTO agent_changes_pruned (through) VALUES ('0');

-- The agents changed by transactions the snapshot `since` did not see. A function, so the reading
-- statement is planned once for a few rows whatever the snapshot: with the range in it, Postgres
-- would plan it afresh on every run. STABLE: it reads in its caller's snapshot.
CREATE FUNCTION agents_changed_since(since pg_snapshot) RETURNS SETOF uuid LANGUAGE plpgsql STABLE ROWS 10 AS $$
BEGIN
  RETURN QUERY SELECT DISTINCT c.agent_id FROM agent_changes c
    WHERE c.xid >= pg_snapshot_xmin(since) AND NOT pg_visible_in_snapshot(c.xid, since);
END $$;

CREATE FUNCTION agent_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'agents' THEN
    INSERT INTO agent_changes (agent_id) VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
    RETURN NULL;
  END IF;
  -- interactions and offers: the agent(s) the row belonged to before and after.
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.agent_id IS NOT NULL THEN
    INSERT INTO agent_changes (agent_id) VALUES (OLD.agent_id);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.agent_id IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.agent_id IS DISTINCT FROM OLD.agent_id) THEN
    INSERT INTO agent_changes (agent_id) VALUES (NEW.agent_id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER agents_changed_ins_del AFTER INSERT OR DELETE ON agents
  FOR EACH ROW EXECUTE FUNCTION agent_changed();
CREATE TRIGGER agents_changed_upd AFTER UPDATE ON agents
  FOR EACH ROW WHEN ((OLD.state, OLD.capacity, OLD.profile_version, OLD.last_idle_at, OLD.last_offer_at)
    IS DISTINCT FROM (NEW.state, NEW.capacity, NEW.profile_version, NEW.last_idle_at, NEW.last_offer_at))
  EXECUTE FUNCTION agent_changed();

CREATE TRIGGER interactions_agent_changed_ins AFTER INSERT ON interactions
  FOR EACH ROW WHEN (NEW.agent_id IS NOT NULL) EXECUTE FUNCTION agent_changed();
CREATE TRIGGER interactions_agent_changed_del AFTER DELETE ON interactions
  FOR EACH ROW WHEN (OLD.agent_id IS NOT NULL) EXECUTE FUNCTION agent_changed();
CREATE TRIGGER interactions_agent_changed_upd AFTER UPDATE ON interactions
  FOR EACH ROW WHEN ((OLD.agent_id IS NOT NULL OR NEW.agent_id IS NOT NULL)
    AND (OLD.state, OLD.agent_id, OLD.channel) IS DISTINCT FROM (NEW.state, NEW.agent_id, NEW.channel))
  EXECUTE FUNCTION agent_changed();

CREATE TRIGGER offers_released_ins AFTER INSERT ON offers
  FOR EACH ROW WHEN (NEW.released_at IS NOT NULL) EXECUTE FUNCTION agent_changed();
CREATE TRIGGER offers_released_del AFTER DELETE ON offers
  FOR EACH ROW WHEN (OLD.released_at IS NOT NULL) EXECUTE FUNCTION agent_changed();
CREATE TRIGGER offers_released_upd AFTER UPDATE ON offers
  FOR EACH ROW WHEN ((OLD.released_at, OLD.agent_id) IS DISTINCT FROM (NEW.released_at, NEW.agent_id))
  EXECUTE FUNCTION agent_changed();

CREATE FUNCTION agent_changes_lost() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE agent_changes_pruned SET through = pg_current_xact_id();
  RETURN NULL;
END $$;
CREATE TRIGGER agents_truncated AFTER TRUNCATE ON agents FOR EACH STATEMENT EXECUTE FUNCTION agent_changes_lost();
CREATE TRIGGER interactions_truncated AFTER TRUNCATE ON interactions FOR EACH STATEMENT EXECUTE FUNCTION agent_changes_lost();
CREATE TRIGGER offers_truncated AFTER TRUNCATE ON offers FOR EACH STATEMENT EXECUTE FUNCTION agent_changes_lost();
