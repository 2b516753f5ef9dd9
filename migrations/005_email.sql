-- Email: the IMAP checkpoint (committed with the messages), the one-watcher-per-mailbox lease
-- with a fencing token, Message-IDs for threading, attachments, and email fields on the outbox.
CREATE TABLE mailbox_checkpoints (
  mailbox      text PRIMARY KEY,
  uid_validity bigint NOT NULL,
  last_uid     bigint NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mailbox_leases (
  mailbox    text PRIMARY KEY,
  holder     text NOT NULL,
  fence      bigint NOT NULL,
  expires_at timestamptz NOT NULL
);

-- Every Message-ID we received or sent, and the interaction it belongs to.
CREATE TABLE email_messages (
  message_id     text PRIMARY KEY,
  interaction_id uuid REFERENCES interactions(id),
  direction      text NOT NULL CHECK (direction IN ('in','out')),
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_messages_interaction_idx ON email_messages (interaction_id, created_at);

CREATE TABLE attachments (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id     bigint NOT NULL REFERENCES events(id),
  filename     text,
  content_type text NOT NULL,
  size         integer NOT NULL,
  content      bytea,                -- NULL when larger than the configured limit (metadata only)
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_event_idx ON attachments (event_id);

ALTER TABLE outbox ADD COLUMN subject text, ADD COLUMN headers jsonb NOT NULL DEFAULT '{}'::jsonb;
