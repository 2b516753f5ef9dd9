import type { Queryable } from '../platform/db';
import type { Channel } from '../interactions/events.types';

export type AgentState = 'offline' | 'available' | 'away';
export type Capacity = Record<Channel, number>;

export interface AgentRecord {
  id: string;
  name: string;
  username: string;
  role: 'agent' | 'supervisor' | 'admin';
  skills: Record<string, number>;
  queueIds: string[];
  capacity: Capacity;
  state: AgentState;
  stateReason: string | null;
  stateChangedAt: Date;
  lastIdleAt: Date;
  wrapupSeconds: number;
  /** Interactions held now (offered, active or in wrap-up), per channel. */
  load: Capacity;
}

interface AgentRow {
  id: string;
  name: string;
  username: string;
  role: AgentRecord['role'];
  skills: Record<string, number>;
  queue_ids: string[];
  capacity: Capacity;
  state: AgentState;
  state_reason: string | null;
  state_changed_at: Date;
  last_idle_at: Date;
  wrapup_seconds: number;
  load: Partial<Capacity> | null;
}

const SELECT = `
  SELECT a.id, a.name, u.username, u.role, a.skills, a.capacity, a.state, a.state_reason, a.state_changed_at,
         a.last_idle_at, a.wrapup_seconds,
         COALESCE((SELECT array_agg(aq.queue_id ORDER BY aq.queue_id) FROM agent_queues aq WHERE aq.agent_id = a.id), '{}') AS queue_ids,
         (SELECT jsonb_object_agg(channel, n) FROM (
            SELECT channel, count(*) AS n FROM interactions i
             WHERE i.agent_id = a.id AND i.state IN ('offered','active','wrapup') GROUP BY channel) l) AS load
    FROM agents a JOIN users u ON u.agent_id = a.id`;

const ZERO: Capacity = { voice: 0, chat: 0, sms: 0, email: 0 };

const toRecord = (r: AgentRow): AgentRecord => ({
  id: r.id,
  name: r.name,
  username: r.username,
  role: r.role,
  skills: r.skills,
  queueIds: r.queue_ids,
  capacity: r.capacity,
  state: r.state,
  stateReason: r.state_reason,
  stateChangedAt: r.state_changed_at,
  lastIdleAt: r.last_idle_at,
  wrapupSeconds: r.wrapup_seconds,
  load: { ...ZERO, ...(r.load ?? {}) },
});

export async function findAgent(db: Queryable, id: string): Promise<AgentRecord | null> {
  const { rows } = await db.query<AgentRow>(`${SELECT} WHERE a.id = $1`, [id]);
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function listAgents(db: Queryable): Promise<AgentRecord[]> {
  const { rows } = await db.query<AgentRow>(`${SELECT} ORDER BY a.name, a.id`);
  return rows.map(toRecord);
}

export async function insertAgent(
  db: Queryable,
  a: { name: string; skills: Record<string, number>; capacity: Capacity; wrapupSeconds: number },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO agents (name, skills, capacity, wrapup_seconds) VALUES ($1, $2, $3, $4) RETURNING id',
    [a.name, a.skills, a.capacity, a.wrapupSeconds],
  );
  return rows[0]!.id;
}

export async function updateAgent(
  db: Queryable,
  id: string,
  p: { name?: string; skills?: Record<string, number>; capacity?: Capacity; wrapupSeconds?: number },
): Promise<void> {
  await db.query(
    `UPDATE agents SET name = COALESCE($2, name), skills = COALESCE($3, skills), capacity = COALESCE($4, capacity),
            wrapup_seconds = COALESCE($5, wrapup_seconds), updated_at = now() WHERE id = $1`,
    [id, p.name ?? null, p.skills ?? null, p.capacity ?? null, p.wrapupSeconds ?? null],
  );
}

export async function setAgentQueues(db: Queryable, id: string, queueIds: string[]): Promise<void> {
  await db.query('DELETE FROM agent_queues WHERE agent_id = $1 AND NOT (queue_id = ANY($2::uuid[]))', [id, queueIds]);
  await db.query(
    'INSERT INTO agent_queues (agent_id, queue_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING',
    [id, queueIds],
  );
}
