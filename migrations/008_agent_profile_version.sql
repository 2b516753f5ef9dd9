-- Routing reads every free agent on each pass. Their skills, capacity and queues rarely change,
-- so each process keeps them in memory and re-reads an agent's only when its profile_version
-- moved. Triggers move it, so no write path can forget to: any change of skills or capacity,
-- and any change of the agent's queue memberships.
ALTER TABLE agents ADD COLUMN profile_version integer NOT NULL DEFAULT 1;

CREATE FUNCTION agents_profile_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.skills IS DISTINCT FROM OLD.skills OR NEW.capacity IS DISTINCT FROM OLD.capacity THEN
    NEW.profile_version := OLD.profile_version + 1;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER agents_profile_version BEFORE UPDATE OF skills, capacity ON agents
  FOR EACH ROW EXECUTE FUNCTION agents_profile_changed();

CREATE FUNCTION agent_queues_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE agents SET profile_version = profile_version + 1 WHERE id = OLD.agent_id;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    UPDATE agents SET profile_version = profile_version + 1 WHERE id = NEW.agent_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER agent_queues_profile_version AFTER INSERT OR UPDATE OR DELETE ON agent_queues
  FOR EACH ROW EXECUTE FUNCTION agent_queues_changed();
