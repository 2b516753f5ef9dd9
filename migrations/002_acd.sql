-- ACD: offers (the record of who was asked, when, and why), interaction routing columns,
-- agent routing columns, queue escalation and priority rules, agent state history.

ALTER TABLE queues
  ADD COLUMN priority_rules jsonb NOT NULL DEFAULT '[]'::jsonb;      -- [{attribute, equals, raiseBy}]

ALTER TABLE agents
  ADD COLUMN last_offer_at timestamptz;                               -- round-robin order

ALTER TABLE interactions
  ADD COLUMN escalation_step integer NOT NULL DEFAULT 0,             -- escalation steps applied
  ADD COLUMN skill_relax integer NOT NULL DEFAULT 0,                 -- levels subtracted from required skills
  ADD COLUMN accepted_at timestamptz,
  ADD COLUMN ended_at timestamptz,                                   -- conversation over, wrap-up started
  ADD COLUMN wrapup_deadline timestamptz,
  ADD COLUMN outcome text CHECK (outcome IN ('handled','abandoned','cancelled')),
  ADD COLUMN disposition text;

CREATE INDEX interactions_agent_open_idx ON interactions (agent_id, channel) WHERE state IN ('offered','active','wrapup');
CREATE INDEX interactions_wrapup_idx ON interactions (wrapup_deadline) WHERE state = 'wrapup';

CREATE TABLE offers (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  interaction_id uuid NOT NULL REFERENCES interactions(id),
  agent_id       uuid NOT NULL REFERENCES agents(id),
  queue_id       uuid REFERENCES queues(id),
  channel        text NOT NULL,
  state          text NOT NULL CHECK (state IN ('pending','accepted','rejected','expired','revoked')),
  explanation    jsonb NOT NULL,
  queued_at      timestamptz,                                        -- the interaction's age when offered
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at     timestamptz NOT NULL,
  decided_at     timestamptz,
  decided_reason text,
  released_at    timestamptz                                         -- when the agent stopped holding it
);
-- The invariant, enforced by the database: one pending offer per interaction.
CREATE UNIQUE INDEX offers_one_pending_uq ON offers (interaction_id) WHERE state = 'pending';
CREATE INDEX offers_interaction_idx ON offers (interaction_id, created_at);
CREATE INDEX offers_pending_expiry_idx ON offers (expires_at) WHERE state = 'pending';
CREATE INDEX offers_agent_idx ON offers (agent_id, created_at);
CREATE INDEX offers_decided_idx ON offers (queue_id, decided_at) WHERE state = 'accepted';

CREATE TABLE agent_state_log (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agent_id   uuid NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  state      text NOT NULL,
  reason     text,
  actor      text NOT NULL,                                          -- 'agent', 'supervisor:<userId>', 'system'
  at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX agent_state_log_agent_idx ON agent_state_log (agent_id, at);
