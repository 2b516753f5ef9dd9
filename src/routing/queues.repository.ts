import type { Queryable } from '../platform/db';
import type { Channel } from '../interactions/events.types';
import type { EscalationStep, PriorityRule } from './escalation';

export interface QueueRecord {
  id: string;
  name: string;
  skills: Record<string, number>;
  priority: number;
  slaSeconds: number;
  channels: Channel[];
  script: string | null;
  strategy: string;
  maxWaitSeconds: number | null;
  escalation: EscalationStep[];
  priorityRules: PriorityRule[];
  createdAt: Date;
}

interface QueueRow {
  id: string;
  name: string;
  skills: Record<string, number>;
  priority: number;
  sla_seconds: number;
  channels: Channel[];
  script: string | null;
  strategy: string;
  max_wait_seconds: number | null;
  escalation: EscalationStep[];
  priority_rules: PriorityRule[];
  created_at: Date;
}

const COLUMNS = 'id, name, skills, priority, sla_seconds, channels, script, strategy, max_wait_seconds, escalation, priority_rules, created_at';

const toRecord = (r: QueueRow): QueueRecord => ({
  id: r.id,
  name: r.name,
  skills: r.skills,
  priority: r.priority,
  slaSeconds: r.sla_seconds,
  channels: r.channels,
  script: r.script,
  strategy: r.strategy,
  maxWaitSeconds: r.max_wait_seconds,
  escalation: r.escalation,
  priorityRules: r.priority_rules,
  createdAt: r.created_at,
});

export type NewQueue = Omit<QueueRecord, 'id' | 'createdAt'>;

/** Null when the name is taken. */
export async function insertQueue(db: Queryable, q: NewQueue): Promise<QueueRecord | null> {
  const { rows } = await db.query<QueueRow>(
    `INSERT INTO queues (name, skills, priority, sla_seconds, channels, script, strategy, max_wait_seconds, escalation, priority_rules)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
    [q.name, q.skills, q.priority, q.slaSeconds, q.channels, q.script, q.strategy, q.maxWaitSeconds, JSON.stringify(q.escalation), JSON.stringify(q.priorityRules)],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function listQueues(db: Queryable): Promise<QueueRecord[]> {
  const { rows } = await db.query<QueueRow>(`SELECT ${COLUMNS} FROM queues ORDER BY name`);
  return rows.map(toRecord);
}

export async function findQueue(db: Queryable, id: string): Promise<QueueRecord | null> {
  const { rows } = await db.query<QueueRow>(`SELECT ${COLUMNS} FROM queues WHERE id = $1`, [id]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** Ids among `ids` that exist. */
export async function existingQueueIds(db: Queryable, ids: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM queues WHERE id = ANY($1::uuid[])', [ids]);
  return new Set(rows.map((r) => r.id));
}
