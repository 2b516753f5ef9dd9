import type { Queryable } from '../../platform/db';
import type { DeliveryStatus } from '../sms/delivery';

export interface OutboxRecord {
  id: string;
  interactionId: string;
  channel: 'sms' | 'email';
  to: string;
  from: string;
  body: string;
  status: DeliveryStatus;
  providerId: string | null;
  attempts: number;
  submittedAt: Date | null;
  subject: string | null;
  headers: Record<string, unknown>;
}

interface Row {
  id: string; interaction_id: string; channel: 'sms' | 'email'; to_address: string; from_address: string; body: string;
  status: DeliveryStatus; provider_id: string | null; attempts: number; submitted_at: Date | null; subject: string | null; headers: Record<string, unknown>;
}
const COLUMNS = 'id, interaction_id, channel, to_address, from_address, body, status, provider_id, attempts, submitted_at, subject, headers';
const toRecord = (r: Row): OutboxRecord => ({
  id: r.id, interactionId: r.interaction_id, channel: r.channel, to: r.to_address, from: r.from_address, body: r.body,
  status: r.status, providerId: r.provider_id, attempts: r.attempts, submittedAt: r.submitted_at, subject: r.subject, headers: r.headers,
});

export async function insertOutbox(
  db: Queryable,
  o: { id: string; interactionId: string; channel: 'sms' | 'email'; to: string; from: string; body: string; subject?: string; headers?: Record<string, unknown> },
): Promise<void> {
  await db.query(
    'INSERT INTO outbox (id, interaction_id, channel, to_address, from_address, body, subject, headers) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
    [o.id, o.interactionId, o.channel, o.to, o.from, o.body, o.subject ?? null, JSON.stringify(o.headers ?? {})],
  );
}

export async function findOutbox(db: Queryable, id: string): Promise<OutboxRecord | null> {
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM outbox WHERE id = $1`, [id]);
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function findOutboxByProviderId(db: Queryable, providerId: string): Promise<OutboxRecord | null> {
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM outbox WHERE provider_id = $1`, [providerId]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** pending|submitted → submitted, counting the attempt; false if it already went out. */
export async function markSubmitting(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE outbox SET status = 'submitted', attempts = attempts + 1, submitted_at = clock_timestamp(), updated_at = clock_timestamp()
      WHERE id = $1 AND status IN ('pending', 'submitted')`,
    [id],
  );
  return (rowCount ?? 0) > 0;
}

/** Record the provider's id; the status moves to `status` only if that is forward (callbacks may have overtaken us). */
export async function recordProviderId(db: Queryable, id: string, providerId: string, status: DeliveryStatus): Promise<void> {
  await db.query(
    `UPDATE outbox SET provider_id = COALESCE(provider_id, $2),
            status = CASE WHEN status IN ('pending', 'submitted') THEN $3 ELSE status END, updated_at = clock_timestamp()
      WHERE id = $1`,
    [id, providerId, status],
  );
}

export async function markFailed(db: Queryable, id: string, error: string): Promise<void> {
  await db.query(`UPDATE outbox SET status = 'failed', last_error = $2, updated_at = clock_timestamp() WHERE id = $1 AND status IN ('pending', 'submitted')`, [id, error]);
}

export async function noteError(db: Queryable, id: string, error: string): Promise<void> {
  await db.query('UPDATE outbox SET last_error = $2, updated_at = clock_timestamp() WHERE id = $1', [id, error]);
}

/** Compare-and-set the status. */
export async function setStatus(db: Queryable, id: string, from: DeliveryStatus, to: DeliveryStatus): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE outbox SET status = $3, updated_at = clock_timestamp() WHERE id = $1 AND status = $2', [id, from, to]);
  return (rowCount ?? 0) > 0;
}

/** Claim a provider id seen in a callback before the send recorded it. */
export async function adoptProviderId(db: Queryable, id: string, providerId: string): Promise<void> {
  await db.query('UPDATE outbox SET provider_id = $2 WHERE id = $1 AND provider_id IS NULL', [id, providerId]);
}

export async function recordReceipt(db: Queryable, providerId: string, status: DeliveryStatus, applied: boolean): Promise<boolean> {
  const { rowCount } = await db.query(
    'INSERT INTO delivery_receipts (provider_id, status, applied) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
    [providerId, status, applied],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Unsent rows that may have no job: pending for longer than `olderThanSeconds` (Redis was down
 * right after the commit), or submitted and not attempted since then (the retry's job waited in
 * a Redis that lost it: restarted empty, failed over). Queuing a row whose job still exists
 * does nothing, since the job id is the row's.
 */
export async function staleUnsent(db: Queryable, olderThanSeconds: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM outbox
      WHERE status IN ('pending', 'submitted') AND COALESCE(submitted_at, created_at) < clock_timestamp() - make_interval(secs => $1)
      ORDER BY created_at LIMIT 500`,
    [olderThanSeconds],
  );
  return rows.map((r) => r.id);
}

export async function providerIdsInUse(db: Queryable, ids: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ provider_id: string }>('SELECT provider_id FROM outbox WHERE provider_id = ANY($1::text[])', [ids]);
  return new Set(rows.map((r) => r.provider_id));
}
