-- Outbound messages over provider channels (SMS now, email later): written in the same
-- transaction as their history event, sent by a BullMQ job, reconciled after crashes.
CREATE TABLE outbox (
  id              uuid PRIMARY KEY,
  interaction_id  uuid NOT NULL REFERENCES interactions(id),
  channel         text NOT NULL CHECK (channel IN ('sms','email')),
  to_address      text NOT NULL,
  from_address    text NOT NULL,
  body            text NOT NULL,
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending','submitted','queued','sent','delivered','read','undelivered','failed','canceled')),
  provider_id     text UNIQUE,
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  submitted_at    timestamptz,                 -- when the last send attempt started
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX outbox_unsent_idx ON outbox (created_at) WHERE status IN ('pending','submitted');

-- Every provider status callback we applied (or ignored as stale), once per (message, status).
CREATE TABLE delivery_receipts (
  provider_id text NOT NULL,
  status      text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  applied     boolean NOT NULL,
  PRIMARY KEY (provider_id, status)
);
