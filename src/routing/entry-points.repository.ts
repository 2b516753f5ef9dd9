import type { Queryable } from '../platform/db';
import type { Channel } from '../interactions/events.types';

export interface EntryPointRecord {
  id: string;
  channel: Channel;
  address: string;
  queueId: string | null;
  flowId: string | null;
  createdAt: Date;
}

/**
 * Create the entry point for (channel, address), or repoint the existing one: an address has
 * exactly one destination, and setting it again is how an operator changes it.
 */
export async function upsertEntryPoint(
  db: Queryable,
  e: { channel: Channel; address: string; queueId: string | null; flowId: string | null },
): Promise<{ record: EntryPointRecord; created: boolean }> {
  const { rows } = await db.query<{ id: string; channel: Channel; address: string; queue_id: string | null; flow_id: string | null; created_at: Date; created: boolean }>(
    `INSERT INTO entry_points (channel, address, queue_id, flow_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (channel, address) DO UPDATE SET queue_id = EXCLUDED.queue_id, flow_id = EXCLUDED.flow_id
     RETURNING id, channel, address, queue_id, flow_id, created_at, (xmax = 0) AS created`,
    [e.channel, e.address, e.queueId, e.flowId],
  );
  const r = rows[0]!;
  return {
    record: { id: r.id, channel: r.channel, address: r.address, queueId: r.queue_id, flowId: r.flow_id, createdAt: r.created_at },
    created: r.created,
  };
}

export async function listEntryPoints(db: Queryable): Promise<EntryPointRecord[]> {
  const { rows } = await db.query<{ id: string; channel: Channel; address: string; queue_id: string | null; flow_id: string | null; created_at: Date }>(
    'SELECT id, channel, address, queue_id, flow_id, created_at FROM entry_points ORDER BY channel, address',
  );
  return rows.map((r) => ({ id: r.id, channel: r.channel, address: r.address, queueId: r.queue_id, flowId: r.flow_id, createdAt: r.created_at }));
}
