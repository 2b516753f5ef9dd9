import type { Queryable } from '../platform/db';
import type { Channel, Direction, EventPayload, EventType, StoredEvent } from './events.types';

interface EventRow {
  id: string;
  customer_id: string;
  interaction_id: string | null;
  seq: number | null;
  type: EventType;
  channel: Channel | null;
  direction: Direction;
  payload: EventPayload;
  occurred_at: Date;
}

const COLUMNS = 'id::text AS id, customer_id, interaction_id, seq, type, channel, direction, payload, occurred_at';

export function toStoredEvent(r: EventRow): StoredEvent {
  return {
    id: r.id,
    customerId: r.customer_id,
    interactionId: r.interaction_id,
    seq: r.seq,
    type: r.type,
    channel: r.channel,
    direction: r.direction,
    payload: r.payload,
    occurredAt: r.occurred_at,
  };
}

export async function findEventByKey(db: Queryable, key: string): Promise<StoredEvent | null> {
  const { rows } = await db.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE idempotency_key = $1`, [key]);
  return rows[0] ? toStoredEvent(rows[0]) : null;
}

export type NewEvent = Omit<StoredEvent, 'id'> & { idempotencyKey: string };

/** Insert unless the idempotency key exists; null means another writer already stored it. */
export async function insertEvent(db: Queryable, e: NewEvent): Promise<StoredEvent | null> {
  const { rows } = await db.query<EventRow>(
    `INSERT INTO events (customer_id, interaction_id, seq, type, channel, direction, idempotency_key, payload, occurred_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (idempotency_key) DO NOTHING
     RETURNING ${COLUMNS}`,
    [e.customerId, e.interactionId, e.seq, e.type, e.channel, e.direction, e.idempotencyKey, e.payload, e.occurredAt],
  );
  return rows[0] ? toStoredEvent(rows[0]) : null;
}

/**
 * Take the next sequence number of a locked interaction and insert the event under it, in one
 * statement (one round trip). Null when the key exists: the caller rolls back, which also
 * returns the sequence number it took.
 */
export async function insertSequencedEvent(db: Queryable, e: Omit<NewEvent, 'seq' | 'interactionId'> & { interactionId: string }): Promise<StoredEvent | null> {
  const { rows } = await db.query<EventRow>(
    `WITH s AS (UPDATE interactions SET last_seq = last_seq + 1, updated_at = now() WHERE id = $2 RETURNING last_seq)
     INSERT INTO events (customer_id, interaction_id, seq, type, channel, direction, idempotency_key, payload, occurred_at)
     SELECT $1, $2, s.last_seq, $3, $4, $5, $6, $7, $8 FROM s
     ON CONFLICT (idempotency_key) DO NOTHING
     RETURNING ${COLUMNS}`,
    [e.customerId, e.interactionId, e.type, e.channel, e.direction, e.idempotencyKey, e.payload, e.occurredAt],
  );
  return rows[0] ? toStoredEvent(rows[0]) : null;
}

/**
 * Events of the given customers, newest first, strictly older than `beforeId`. An outbound
 * message shows its current delivery status (`payload.delivery`), kept in its outbox row.
 */
export async function listCustomerEvents(db: Queryable, customerIds: string[], limit: number, beforeId?: string): Promise<StoredEvent[]> {
  const { rows } = await db.query<EventRow & { delivery: string | null }>(
    `SELECT e.id::text AS id, e.customer_id, e.interaction_id, e.seq, e.type, e.channel, e.direction, e.payload, e.occurred_at,
            o.status AS delivery
       FROM events e LEFT JOIN outbox o ON o.id = (e.payload ->> 'outboxId')::uuid
      WHERE e.customer_id = ANY($1::uuid[]) AND ($2::bigint IS NULL OR e.id < $2::bigint)
      ORDER BY e.id DESC LIMIT $3`,
    [customerIds, beforeId ?? null, limit],
  );
  return rows.map((r) => {
    const e = toStoredEvent(r);
    return r.delivery ? { ...e, payload: { ...e.payload, delivery: r.delivery } } : e;
  });
}

/** Message events of one interaction after a sequence number, oldest first (chat replay). */
export async function listInteractionMessagesAfter(db: Queryable, interactionId: string, afterSeq: number): Promise<StoredEvent[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT ${COLUMNS} FROM events
      WHERE interaction_id = $1 AND seq > $2 AND type IN ('message.received', 'message.sent')
      ORDER BY seq`,
    [interactionId, afterSeq],
  );
  return rows.map(toStoredEvent);
}
