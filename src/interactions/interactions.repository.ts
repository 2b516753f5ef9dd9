import type { Queryable } from '../platform/db';
import type { Channel, InteractionRecord, InteractionState } from './events.types';

interface InteractionRow {
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

const COLUMNS =
  'id, customer_id, channel, direction, state, queue_id, agent_id, entry_point_id, priority, subject, attributes, created_at, queued_at, closed_at';

function toRecord(r: InteractionRow): InteractionRecord {
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
  const { rows } = await db.query<InteractionRow>(`SELECT ${COLUMNS} FROM interactions WHERE id = $1`, [id]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** Lock an interaction row for the rest of the transaction. */
export async function lockInteraction(db: Queryable, id: string): Promise<InteractionRecord | null> {
  const { rows } = await db.query<InteractionRow>(`SELECT ${COLUMNS} FROM interactions WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function lockOpenConversation(db: Queryable, key: string): Promise<InteractionRecord | null> {
  const { rows } = await db.query<InteractionRow>(
    `SELECT ${COLUMNS} FROM interactions WHERE conversation_key = $1 AND state <> 'closed' FOR UPDATE`,
    [key],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

export interface NewInteraction {
  id?: string;
  customerId: string;
  channel: Channel;
  direction: 'in' | 'out';
  state: InteractionState;
  queueId: string | null;
  entryPointId: string | null;
  conversationKey: string;
  priority: number;
  subject: string | null;
  attributes: Record<string, unknown>;
  now: Date;
}

/**
 * Open a conversation unless one with the same key is open; returns null when another writer
 * holds it (the caller then locks and continues that one).
 */
export async function insertConversation(db: Queryable, n: NewInteraction): Promise<InteractionRecord | null> {
  const { rows } = await db.query<InteractionRow>(
    `INSERT INTO interactions (id, customer_id, channel, direction, state, queue_id, entry_point_id, conversation_key,
                               priority, subject, created_at, queued_at, updated_at, attributes)
     VALUES (COALESCE($1::uuid, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
             CASE WHEN $5 = 'queued' THEN $11::timestamptz END, $11, $12)
     ON CONFLICT (conversation_key) WHERE state <> 'closed' AND conversation_key IS NOT NULL DO NOTHING
     RETURNING ${COLUMNS}`,
    [n.id ?? null, n.customerId, n.channel, n.direction, n.state, n.queueId, n.entryPointId, n.conversationKey, n.priority, n.subject, n.now, JSON.stringify(n.attributes)],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

export interface EntryPointMatch {
  id: string;
  queueId: string | null;
  flowId: string | null;
}

/** The entry point for an inbound address, falling back to the channel's default ('*'). */
export async function matchEntryPoint(db: Queryable, channel: Channel, address: string): Promise<EntryPointMatch | null> {
  const { rows } = await db.query<{ id: string; queue_id: string | null; flow_id: string | null }>(
    `SELECT id, queue_id, flow_id FROM entry_points
      WHERE channel = $1 AND address IN ($2, '*')
      ORDER BY (address = '*') LIMIT 1`,
    [channel, address],
  );
  const r = rows[0];
  return r ? { id: r.id, queueId: r.queue_id, flowId: r.flow_id } : null;
}
