import type { Queryable } from '../platform/db';
import { rootOf } from '../customers/customers.repository';
import type { Channel, InteractionRecord, InteractionState } from './events.types';

export interface InteractionRow {
  id: string;
  customer_id: string;
  channel: Channel;
  direction: 'in' | 'out';
  state: InteractionState;
  queue_id: string | null;
  agent_id: string | null;
  entry_point_id: string | null;
  priority: number;
  subject: string | null;
  attributes: Record<string, unknown>;
  created_at: Date;
  queued_at: Date | null;
  closed_at: Date | null;
}

const NAMES = ['id', 'customer_id', 'channel', 'direction', 'state', 'queue_id', 'agent_id', 'entry_point_id', 'priority', 'subject', 'attributes', 'created_at', 'queued_at', 'closed_at'];
const COLUMNS = NAMES.join(', ');

/** The columns of an interaction record, qualified by a table alias (for statements that join or update). */
export const interactionColumns = (alias: string): string => NAMES.map((n) => `${alias}.${n}`).join(', ');

/** An interaction record's columns from `alias`, each named with `prefix` first (beside other rows' columns of the same names). */
export const interactionColumnsAs = (alias: string, prefix: string): string => NAMES.map((n) => `${alias}.${n} AS ${prefix}${n}`).join(', ');

/** The interaction record of a row selected with interactionColumnsAs(…, prefix). */
export function interactionFromPrefixed(r: Record<string, unknown>, prefix: string): InteractionRecord {
  return interactionFromRow(Object.fromEntries(NAMES.map((n) => [n, r[`${prefix}${n}`]])) as unknown as InteractionRow);
}

export function interactionFromRow(r: InteractionRow): InteractionRecord {
  return {
    id: r.id,
    customerId: r.customer_id,
    channel: r.channel,
    direction: r.direction,
    state: r.state,
    queueId: r.queue_id,
    agentId: r.agent_id,
    entryPointId: r.entry_point_id,
    priority: r.priority,
    subject: r.subject,
    attributes: r.attributes,
    createdAt: r.created_at,
    queuedAt: r.queued_at,
    closedAt: r.closed_at,
  };
}

export async function findInteraction(db: Queryable, id: string): Promise<InteractionRecord | null> {
  const { rows } = await db.query<InteractionRow>({ name: 'interactions.find', text: `SELECT ${COLUMNS} FROM interactions WHERE id = $1`, values: [id] });
  return rows[0] ? interactionFromRow(rows[0]) : null;
}

/** Lock an interaction row for the rest of the transaction. */
export async function lockInteraction(db: Queryable, id: string): Promise<InteractionRecord | null> {
  const { rows } = await db.query<InteractionRow>({ name: 'interactions.lock', text: `SELECT ${COLUMNS} FROM interactions WHERE id = $1 FOR UPDATE`, values: [id] });
  return rows[0] ? interactionFromRow(rows[0]) : null;
}

/**
 * Lock an interaction and, in the same round trip, find the customer that currently stands for
 * `customerId` (merges followed; null when there is none). Null when the interaction does not exist.
 */
export async function lockInteractionWithCustomer(db: Queryable, id: string, customerId: string): Promise<{ interaction: InteractionRecord; customerRoot: string | null } | null> {
  const { rows } = await db.query<InteractionRow & { customer_root: string | null }>({
    name: 'interactions.lock-with-customer',
    text: `SELECT ${COLUMNS}, ${rootOf('$2')} AS customer_root FROM interactions WHERE id = $1 FOR UPDATE`,
    values: [id, customerId],
  });
  return rows[0] ? { interaction: interactionFromRow(rows[0]), customerRoot: rows[0].customer_root } : null;
}

/**
 * Lock the open conversations with these keys for the rest of the transaction: key → interaction.
 * Rows are locked in id order, the order of every writer that locks several interactions (the
 * routing pass claims in it too), so two such writers wait for each other instead of deadlocking.
 */
export async function lockOpenConversations(db: Queryable, keys: string[]): Promise<Map<string, InteractionRecord>> {
  const { rows } = await db.query<InteractionRow & { conversation_key: string }>({
    name: 'interactions.lock-open-conversations',
    text: `SELECT ${COLUMNS}, conversation_key FROM interactions
      WHERE conversation_key = ANY($1::text[]) AND state <> 'closed'
      ORDER BY id FOR UPDATE`,
    values: [keys],
  });
  return new Map(rows.map((r) => [r.conversation_key, interactionFromRow(r)]));
}

export interface NewConversation {
  id: string;
  customerId: string;
  channel: Channel;
  direction: 'in' | 'out';
  conversationKey: string;
  /** The inbound address; its entry point (or the channel's default, '*') decides the queue. */
  entryAddress: string;
  /** An inbound contact whose entry point has a flow starts in it ('ivr') instead of a queue. */
  ivr: boolean;
  subject: string | null;
  attributes: Record<string, unknown>;
  now: Date;
}

/**
 * WITH clauses: `found`, the open conversations of the keys of the relation `input` (id,
 * customer_id, channel, direction, conversation_key, entry_address, ivr, subject, attributes,
 * now; keys distinct) locked in id order (as above); `opened`, the others opened, inserted with
 * `lastSeq` (an expression over the input's row) as their last sequence number. Both return an
 * interaction record's columns and the key. A conversation opens through its entry point:
 * outbound ones start 'active', inbound ones in the entry point's flow when asked for and it has
 * one, otherwise 'queued' in its queue. Keys another writer opened meanwhile are in neither.
 */
export const lockOrInsertConversationsFrom = (input: string, lastSeq = '0'): string => `found AS (
       SELECT ${COLUMNS}, conversation_key FROM interactions
        WHERE conversation_key IN (SELECT conversation_key FROM ${input}) AND state <> 'closed'
        ORDER BY id FOR UPDATE
     ),
     decided AS (
       SELECT ${input}.*, ep.id AS entry_point_id, ep.queue_id,
              CASE WHEN ${input}.direction = 'out' THEN 'active' WHEN ${input}.ivr AND ep.flow_id IS NOT NULL THEN 'ivr' ELSE 'queued' END AS state
         FROM ${input} LEFT JOIN LATERAL (
           SELECT e.id, e.queue_id, e.flow_id FROM entry_points e
            WHERE e.channel = ${input}.channel AND e.address IN (${input}.entry_address, '*')
            ORDER BY (e.address = '*') LIMIT 1
         ) ep ON true
        WHERE ${input}.conversation_key NOT IN (SELECT conversation_key FROM found)
     ),
     opened AS (
       INSERT INTO interactions (id, customer_id, channel, direction, state, queue_id, entry_point_id, conversation_key,
                                 priority, subject, created_at, queued_at, updated_at, attributes, last_seq)
       SELECT id, customer_id, channel, direction, state, queue_id, entry_point_id, conversation_key,
              0, subject, now, CASE WHEN state = 'queued' THEN now END, now, attributes::jsonb, ${lastSeq}
         FROM decided ORDER BY conversation_key
       ON CONFLICT (conversation_key) WHERE state <> 'closed' AND conversation_key IS NOT NULL DO NOTHING
       RETURNING ${COLUMNS}, conversation_key
     )`;

/**
 * Lock the open conversation of each key, and open the ones that are not open, in one statement
 * (keys distinct; see lockOrInsertConversationsFrom). Keys another writer opened meanwhile are
 * in neither map (the caller then locks them).
 */
export async function lockOrInsertConversations(
  db: Queryable,
  list: NewConversation[],
): Promise<{ found: Map<string, InteractionRecord>; opened: Map<string, InteractionRecord> }> {
  const { rows } = await db.query<InteractionRow & { conversation_key: string; opened: boolean }>({
    name: 'interactions.lock-or-insert-conversations',
    text: `WITH input AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::text[], $9::text[], $10::timestamptz[])
         AS t(id, customer_id, channel, direction, conversation_key, entry_address, ivr, subject, attributes, now)
     ),
     ${lockOrInsertConversationsFrom('input')}
     SELECT *, false AS opened FROM found UNION ALL SELECT *, true AS opened FROM opened`,
    values: [
      list.map((n) => n.id),
      list.map((n) => n.customerId),
      list.map((n) => n.channel),
      list.map((n) => n.direction),
      list.map((n) => n.conversationKey),
      list.map((n) => n.entryAddress),
      list.map((n) => n.ivr),
      list.map((n) => n.subject),
      list.map((n) => JSON.stringify(n.attributes)),
      list.map((n) => n.now),
    ],
  });
  const found = new Map<string, InteractionRecord>();
  const opened = new Map<string, InteractionRecord>();
  for (const r of rows) (r.opened ? opened : found).set(r.conversation_key, interactionFromRow(r));
  return { found, opened };
}
