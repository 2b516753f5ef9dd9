-- Foundation: users, the routing directory (queues, agents, entry points), customers with
-- identities and merges, interactions and the append-only event stream.

CREATE TABLE queues (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name             text NOT NULL UNIQUE,
  skills           jsonb NOT NULL DEFAULT '{}'::jsonb,      -- {skill: minLevel}
  priority         integer NOT NULL DEFAULT 0,
  sla_seconds      integer NOT NULL DEFAULT 20,
  channels         text[] NOT NULL DEFAULT ARRAY['voice','sms','email','chat'],
  script           text,
  escalation       jsonb NOT NULL DEFAULT '[]'::jsonb,      -- [{afterSeconds, action...}]
  max_wait_seconds integer,
  strategy         text NOT NULL DEFAULT 'longest-idle',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agents (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name             text NOT NULL,
  skills           jsonb NOT NULL DEFAULT '{}'::jsonb,      -- {skill: level}
  capacity         jsonb NOT NULL DEFAULT '{"voice":1,"chat":3,"sms":3,"email":5}'::jsonb,
  state            text NOT NULL DEFAULT 'offline' CHECK (state IN ('offline','available','away')),
  state_reason     text,
  state_changed_at timestamptz NOT NULL DEFAULT now(),
  last_idle_at     timestamptz NOT NULL DEFAULT now(),
  wrapup_seconds   integer NOT NULL DEFAULT 30,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agent_queues (
  agent_id uuid NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  queue_id uuid NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
  PRIMARY KEY (agent_id, queue_id)
);
CREATE INDEX agent_queues_queue_idx ON agent_queues (queue_id);

CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username      text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  role          text NOT NULL CHECK (role IN ('admin','supervisor','agent')),
  agent_id      uuid UNIQUE REFERENCES agents(id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE entry_points (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel    text NOT NULL CHECK (channel IN ('voice','sms','email','chat')),
  address    text NOT NULL,                                 -- E.164 number, mailbox, widget id, or '*'
  queue_id   uuid REFERENCES queues(id),
  flow_id    text,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (channel, address)
);

CREATE TABLE customers (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text,
  attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
  tags        text[] NOT NULL DEFAULT '{}',
  merged_into uuid REFERENCES customers(id),               -- set while this customer is merged into another
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_merged_into_idx ON customers (merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX customers_name_idx ON customers (lower(name));

-- An identity stays with the customer that first had it; merges are resolved by following
-- customers.merged_into, so undoing a merge is clearing one column.
CREATE TABLE customer_identities (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id uuid NOT NULL REFERENCES customers(id),
  kind        text NOT NULL CHECK (kind IN ('phone','email','chat')),
  value       text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, value)
);
CREATE INDEX customer_identities_customer_idx ON customer_identities (customer_id);

CREATE TABLE customer_merges (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  target_id  uuid NOT NULL REFERENCES customers(id),
  source_id  uuid NOT NULL REFERENCES customers(id),
  merged_by  uuid REFERENCES users(id),
  merged_at  timestamptz NOT NULL DEFAULT now(),
  undone_at  timestamptz
);

CREATE TABLE interactions (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id      uuid NOT NULL REFERENCES customers(id),
  channel          text NOT NULL CHECK (channel IN ('voice','sms','email','chat')),
  direction        text NOT NULL CHECK (direction IN ('in','out')),
  state            text NOT NULL CHECK (state IN ('ivr','queued','offered','active','wrapup','closed')),
  queue_id         uuid REFERENCES queues(id),
  agent_id         uuid REFERENCES agents(id),
  entry_point_id   uuid REFERENCES entry_points(id),
  conversation_key text,                                    -- natural key of an open conversation
  priority         integer NOT NULL DEFAULT 0,
  subject          text,
  attributes       jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_seq         integer NOT NULL DEFAULT 0,              -- per-interaction event sequence, gapless
  created_at       timestamptz NOT NULL DEFAULT now(),
  queued_at        timestamptz,                             -- age used for routing; kept across re-queues
  closed_at        timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX interactions_open_conversation_uq ON interactions (conversation_key)
  WHERE state <> 'closed' AND conversation_key IS NOT NULL;
CREATE INDEX interactions_customer_idx ON interactions (customer_id, created_at DESC);
CREATE INDEX interactions_waiting_idx ON interactions (queue_id, priority DESC, queued_at) WHERE state = 'queued';

-- The append-only event stream. Every inbound or outbound item, state change and note is one
-- row; the idempotency key makes retries, replays and reconnects land once.
CREATE TABLE events (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id     uuid NOT NULL REFERENCES customers(id),
  interaction_id  uuid REFERENCES interactions(id),
  seq             integer,
  type            text NOT NULL,
  channel         text CHECK (channel IN ('voice','sms','email','chat')),
  direction       text NOT NULL CHECK (direction IN ('in','out','internal')),
  idempotency_key text NOT NULL UNIQUE,
  payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
  occurred_at     timestamptz NOT NULL DEFAULT now(),
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (interaction_id, seq)
);
CREATE INDEX events_customer_idx ON events (customer_id, id DESC);

CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are append-only';
END $$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_append_only();
