-- Routing reads that must not grow with history: an agent's last release (idle time for the
-- longest-idle strategy) is the newest entry of this index, not a scan of all their offers.
CREATE INDEX offers_agent_released_idx ON offers (agent_id, released_at) WHERE released_at IS NOT NULL;
