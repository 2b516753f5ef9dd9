/**
 * SQL of the ACD: the routing lock, queues, waiting work as a pass reads it, state transitions,
 * escalation (free agents are in free-agents.repository.ts, offers in offers.repository.ts). Every state change is a
 * conditional UPDATE on the state it expects; the database (not memory) decides who wins.
 * Timestamps come from clock_timestamp() so the recorded order of offers and releases matches
 * the order they happened in.
 */
import type { Queryable } from '../platform/db';
import type { Channel } from '../interactions/events.types';
import { relaxSkills, type Strategy, type WaitingInteraction } from './selection';
import type { EscalationStep, PriorityRule } from './escalation';
import type { AgentState } from '../agents/agents.repository';

/** Serializes routing passes and agent state changes across every process. */
export const ROUTER_LOCK_KEY = 4242_0002;
export async function takeRouterLock(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [ROUTER_LOCK_KEY]);
}

export interface RoutingQueue {
  id: string;
  name: string;
  skills: Record<string, number>;
  strategy: Strategy;
  priority: number;
  slaSeconds: number;
  escalation: EscalationStep[];
  priorityRules: PriorityRule[];
  /** The channels this queue takes work from. */
  channels: Channel[];
}

export async function loadRoutingQueues(db: Queryable): Promise<Map<string, RoutingQueue>> {
  const { rows } = await db.query<{
    id: string; name: string; skills: Record<string, number>; strategy: Strategy; priority: number; sla_seconds: number;
    escalation: EscalationStep[]; priority_rules: PriorityRule[]; channels: Channel[];
  }>('SELECT id, name, skills, strategy, priority, sla_seconds, escalation, priority_rules, channels FROM queues');
  return new Map(rows.map((r) => [r.id, { id: r.id, name: r.name, skills: r.skills, strategy: r.strategy, priority: r.priority, slaSeconds: r.sla_seconds, escalation: r.escalation, priorityRules: r.priority_rules, channels: r.channels }]));
}

/**
 * An interaction's priority: its queue's, plus what escalation added, plus every queue priority
 * rule its customer's attributes match ({attribute, equals, raiseBy}).
 */
export const EFFECTIVE_PRIORITY = `q.priority + i.priority + COALESCE((
  SELECT sum((r ->> 'raiseBy')::int) FROM jsonb_array_elements(q.priority_rules) r
   WHERE c.attributes -> (r ->> 'attribute') = r -> 'equals'), 0)`;

/**
 * Waiting interactions in the given queues and channels, best first, with who already declined
 * each. Each (queue, channel) contributes at most `limit` from the waiting index (priority, then
 * age), so a pass reads the same few rows however long the queues are, and a backlog on one
 * channel or in one queue cannot hide the contacts of another behind it. A queue with priority
 * rules is read in full, since a rule can lift any of its contacts to the front. Each row brings
 * its queue's skills and strategy, so a pass needs no separate read of the queues.
 */
export async function loadWaiting(db: Queryable, queueIds: string[], channels: Channel[], limit: number): Promise<{ waiting: WaitingInteraction[]; strategies: Map<string, Strategy> }> {
  const { rows } = await db.query<{
    id: string; queue_id: string; channel: Channel; priority: number; queued_ms: string; skill_relax: number; declined: string[]; extra_skills: Record<string, number> | null;
    queue_skills: Record<string, number>; strategy: Strategy;
  }>({
    name: 'routing.waiting',
    text: `SELECT w.*, q.skills AS queue_skills, q.strategy FROM queues q CROSS JOIN unnest($2::text[]) AS ch(channel) CROSS JOIN LATERAL (
       SELECT i.id, i.queue_id, i.channel, i.queued_at, i.skill_relax, i.attributes -> 'skills' AS extra_skills,
              (${EFFECTIVE_PRIORITY}) AS priority,
              (extract(epoch FROM i.queued_at) * 1000)::bigint::text AS queued_ms,
              COALESCE((SELECT array_agg(DISTINCT o.agent_id) FROM offers o
                         WHERE o.interaction_id = i.id AND o.state IN ('rejected','expired')), '{}') AS declined
         FROM interactions i JOIN customers c ON c.id = i.customer_id
        WHERE i.state = 'queued' AND i.queue_id = q.id AND i.channel = ch.channel
        ORDER BY i.priority DESC, i.queued_at
        LIMIT CASE WHEN jsonb_array_length(q.priority_rules) = 0 THEN $3::int END) w
      WHERE q.id = ANY($1::uuid[])
      ORDER BY w.priority DESC, w.queued_at, w.id`,
    values: [queueIds, channels, limit],
  });
  const strategies = new Map(rows.map((r) => [r.queue_id, r.strategy]));
  const waiting = rows.map((r) => {
    // The queue's skills, raised by any the contact itself needs (an IVR `set`), then relaxed by escalation.
    const skills = { ...r.queue_skills };
    for (const [k, v] of Object.entries(r.extra_skills ?? {})) if (typeof v === 'number') skills[k] = Math.max(skills[k] ?? 0, v);
    const relaxed = relaxSkills(skills, r.skill_relax);
    return { id: r.id, queueId: r.queue_id, channel: r.channel, priority: r.priority, queuedAt: Number(r.queued_ms), requiredSkills: relaxed, declinedBy: r.declined };
  });
  return { waiting, strategies };
}

/** Move an interaction between routing states on the state it is expected to be in. */
export async function transition(
  tx: Queryable,
  id: string,
  from: string[],
  set: { state: string; agentId?: string | null; queueId?: string; priority?: number; resetEscalation?: boolean; outcome?: string; disposition?: string | null; wrapupSeconds?: number; acceptedNow?: boolean; endedNow?: boolean; closedNow?: boolean; queuedNow?: boolean },
): Promise<boolean> {
  const { rowCount } = await tx.query({
    name: 'routing.transition',
    text: `UPDATE interactions SET
        state = $3,
        agent_id = CASE WHEN $4 THEN $5::uuid ELSE agent_id END,
        queue_id = COALESCE($6::uuid, queue_id),
        priority = COALESCE($7::int, priority),
        escalation_step = CASE WHEN $8 THEN 0 ELSE escalation_step END,
        skill_relax = CASE WHEN $8 THEN 0 ELSE skill_relax END,
        outcome = COALESCE($9, outcome),
        disposition = COALESCE($10, disposition),
        wrapup_deadline = CASE WHEN $11::int IS NULL THEN wrapup_deadline ELSE clock_timestamp() + make_interval(secs => $11::int) END,
        accepted_at = CASE WHEN $12 THEN clock_timestamp() ELSE accepted_at END,
        ended_at = CASE WHEN $13 THEN clock_timestamp() ELSE ended_at END,
        closed_at = CASE WHEN $14 THEN clock_timestamp() ELSE closed_at END,
        queued_at = CASE WHEN $15 THEN COALESCE(queued_at, clock_timestamp()) ELSE queued_at END,
        updated_at = clock_timestamp()
      WHERE id = $1 AND state = ANY($2::text[])`,
    values: [
      id, from, set.state, set.agentId !== undefined, set.agentId ?? null, set.queueId ?? null, set.priority ?? null,
      set.resetEscalation ?? false, set.outcome ?? null, set.disposition ?? null, set.wrapupSeconds ?? null,
      set.acceptedNow ?? false, set.endedNow ?? false, set.closedNow ?? false, set.queuedNow ?? false,
    ],
  });
  return (rowCount ?? 0) > 0;
}

export async function interactionsOfAgent(tx: Queryable, agentId: string, states: string[]): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(
    'SELECT id FROM interactions WHERE agent_id = $1 AND state = ANY($2::text[]) ORDER BY id',
    [agentId, states],
  );
  return rows.map((r) => r.id);
}

export async function wrapupOverdue(db: Queryable, limit = 500): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM interactions WHERE state = 'wrapup' AND wrapup_deadline <= clock_timestamp() ORDER BY wrapup_deadline LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}

export async function escalationCandidates(db: Queryable): Promise<Array<{ id: string; queueId: string; step: number; waitedSeconds: number; escalation: EscalationStep[] }>> {
  const { rows } = await db.query<{ id: string; queue_id: string; escalation_step: number; waited: number; escalation: EscalationStep[] }>(
    // Only queues with escalation steps, and only contacts whose next step is due (the sweep runs this every second).
    `SELECT i.id, i.queue_id, i.escalation_step, i.waited, q.escalation
       FROM queues q CROSS JOIN LATERAL (
         SELECT i.id, i.queue_id, i.escalation_step, extract(epoch FROM clock_timestamp() - i.queued_at)::float8 AS waited
           FROM interactions i WHERE i.queue_id = q.id AND i.state = 'queued' AND i.escalation_step < jsonb_array_length(q.escalation)
            AND clock_timestamp() - i.queued_at >= make_interval(secs => (q.escalation -> i.escalation_step ->> 'afterSeconds')::float8)) i
      WHERE jsonb_array_length(q.escalation) > 0`,
  );
  return rows.map((r) => ({ id: r.id, queueId: r.queue_id, step: r.escalation_step, waitedSeconds: r.waited, escalation: r.escalation }));
}

export async function applyEscalation(
  tx: Queryable,
  id: string,
  expectedStep: number,
  change: { nextStep: number; raisePriority?: number; relax?: number; queueId?: string },
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE interactions SET escalation_step = CASE WHEN $5::uuid IS NULL THEN $3 ELSE 0 END,
            priority = priority + $4, skill_relax = skill_relax + $6, queue_id = COALESCE($5::uuid, queue_id), updated_at = clock_timestamp()
      WHERE id = $1 AND state = 'queued' AND escalation_step = $2`,
    [id, expectedStep, change.nextStep, change.raisePriority ?? 0, change.queueId ?? null, change.relax ?? 0],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * An agent's state change and its log line, in one statement: the agent's row is locked (so the
 * statements after it in the transaction see whatever another writer of that row committed
 * first), its state changed unless it already is that state with that reason (or, given
 * `onlyFrom`, unless it is not in that state), and the change logged with `logReason` and `actor`.
 * `found`: the agent exists; `changed`: its state changed (and was logged).
 */
export async function changeAgentState(
  db: Queryable,
  c: { agentId: string; state: AgentState; reason: string | null; logReason: string | null; actor: string; onlyFrom?: AgentState },
): Promise<{ found: boolean; changed: boolean }> {
  const { rows } = await db.query<{ found: boolean; changed: boolean }>({
    name: 'agents.change-state',
    text: `WITH locked AS (
       SELECT id, state, state_reason FROM agents WHERE id = $1 FOR UPDATE
     ), changed AS (
       UPDATE agents a SET state = $2, state_reason = $3, state_changed_at = clock_timestamp(), updated_at = clock_timestamp(),
              last_idle_at = CASE WHEN $2 = 'available' AND locked.state <> 'available' THEN clock_timestamp() ELSE a.last_idle_at END
         FROM locked
        WHERE a.id = locked.id AND (locked.state IS DISTINCT FROM $2 OR locked.state_reason IS DISTINCT FROM $3)
          AND ($6::text IS NULL OR locked.state = $6)
       RETURNING a.id
     ), logged AS (
       INSERT INTO agent_state_log (agent_id, state, reason, actor) SELECT id, $2, $4, $5 FROM changed
     )
     SELECT EXISTS (SELECT 1 FROM locked) AS found, EXISTS (SELECT 1 FROM changed) AS changed`,
    values: [c.agentId, c.state, c.reason, c.logReason, c.actor, c.onlyFrom ?? null],
  });
  return rows[0] ?? { found: false, changed: false };
}
