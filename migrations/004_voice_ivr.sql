-- IVR flows (declarative JSON) and per-interaction IVR progress, so any process can answer
-- the next webhook of a call.
CREATE TABLE flows (
  id          text PRIMARY KEY,
  definition  jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE interactions ADD COLUMN ivr_state jsonb;

CREATE INDEX interactions_call_sid_idx ON interactions ((attributes ->> 'callSid')) WHERE channel = 'voice';
