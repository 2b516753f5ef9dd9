/**
 * SQL of the ACD: the routing lock, queues, agents and waiting work as a pass reads them, state
 * transitions, escalation (offers are in offers.repository.ts). Every state change is a
 * conditional UPDATE on the state it expects; the database (not memory) decides who wins.
 * Timestamps come from clock_timestamp() so the recorded order of offers and releases matches
 * the order they happened in.
 */
import type { Queryable } from '../platform/db';
import type { Channel } from '../interactions/events.types';
import { relaxSkills, type AgentCandidate, type Slots, type Strategy, type WaitingInteraction } from './selection';
import type { EscalationStep, PriorityRule } from './escalation';

/** Serializes routing passes and agent state changes across every process. */
export const ROUTER_LOCK_KEY = 4242_0002;
export async function takeRouterLock(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [ROUTER_LOCK_KEY]);
}

const ZERO: Slots = { voice: 0, chat: 0, sms: 0, email: 0 };

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
 * Open work per agent and channel, counted once over the open-work index (one pass, however
 * many agents), joined to agents as `o`. The channels are the fixed four of `Channel`.
 */
const OPEN_WORK = `open_work AS (
    SELECT agent_id,
           count(*) FILTER (WHERE channel = 'voice') AS voice, count(*) FILTER (WHERE channel = 'chat') AS chat,
           count(*) FILTER (WHERE channel = 'sms') AS sms, count(*) FILTER (WHERE channel = 'email') AS email
      FROM interactions WHERE state IN ('offered','active','wrapup') AND agent_id IS NOT NULL GROUP BY agent_id)`;

/** Available with a free slot on some channel (`o` from OPEN_WORK, left-joined). */
const HAS_FREE_SLOT = `a.state = 'available'
    AND (COALESCE((a.capacity ->> 'voice')::int, 0) > COALESCE(o.voice, 0) OR COALESCE((a.capacity ->> 'chat')::int, 0) > COALESCE(o.chat, 0)
      OR COALESCE((a.capacity ->> 'sms')::int, 0) > COALESCE(o.sms, 0) OR COALESCE((a.capacity ->> 'email')::int, 0) > COALESCE(o.email, 0))`;

/** …and in some queue. */
const CAN_TAKE_WORK = `${HAS_FREE_SLOT}
    AND EXISTS (SELECT 1 FROM agent_queues aq WHERE aq.agent_id = a.id)`;

/**
 * Whether any agent can take work: one cheap read, so a pass triggered while every agent is
 * busy or away costs no lock and no transaction. Two forms with the same answer and opposite
 * costs: `expectFree` probes agents one by one and stops at the first with a free slot (0.1 ms
 * when one is free early, but a probe per agent and channel when nobody is: 10 ms at 1,000
 * busy agents); otherwise all open work is counted in one pass first (about 3 ms at 1,000
 * agents either way). The router passes what the previous check found.
 */
export async function anyFreeAgent(db: Queryable, expectFree = false): Promise<boolean> {
  const { rows } = await db.query<{ free: boolean }>({
    name: expectFree ? 'routing.any-free-agent.probe' : 'routing.any-free-agent.count',
    text: expectFree
      ? `SELECT EXISTS (
           SELECT 1 FROM agents a CROSS JOIN LATERAL jsonb_each_text(a.capacity) AS cap(channel, slots)
            WHERE a.state = 'available' AND cap.slots::int > 0
              AND cap.slots::int > (SELECT count(*) FROM interactions x WHERE x.agent_id = a.id AND x.channel = cap.channel AND x.state IN ('offered','active','wrapup'))
              AND EXISTS (SELECT 1 FROM agent_queues aq WHERE aq.agent_id = a.id)) AS free`
      : `WITH ${OPEN_WORK} SELECT EXISTS (SELECT 1 FROM agents a LEFT JOIN open_work o ON o.agent_id = a.id WHERE ${CAN_TAKE_WORK}) AS free`,
  });
  return rows[0]?.free ?? false;
}

/** The parts of an agent that rarely change, as of `version` (agents.profile_version). */
export interface AgentProfile {
  version: number;
  skills: Record<string, number>;
  capacity: Slots;
  queueIds: string[];
}

/**
 * Agents' profiles by id, kept across routing passes. A pass reads each free agent's
 * profile_version and re-reads the profiles whose version it does not hold, so a pass costs
 * the same few columns per agent however many skills and queues they have. A version is
 * moved by triggers on every change of skills, capacity or queues (migration 008), so a kept
 * profile is never stale beyond the pass that reads a newer version.
 */
export class AgentProfiles {
  private readonly byId = new Map<string, AgentProfile>();

  /** The kept profile if it is at least `version` (versions only grow: a newer one is as good). */
  get(id: string, version: number): AgentProfile | undefined {
    const p = this.byId.get(id);
    return p && p.version >= version ? p : undefined;
  }

  set(id: string, profile: AgentProfile): void {
    this.byId.set(id, profile);
  }

  /** Forget every agent not in `keep` (deleted, or not free for a long time). */
  prune(keep: Set<string>): void {
    for (const id of this.byId.keys()) if (!keep.has(id)) this.byId.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }
}

/** Profiles are pruned to the agents seen in a pass when more than this many are kept. */
const PROFILE_CACHE_LIMIT = 20000;

async function loadProfiles(db: Queryable, ids: string[]): Promise<Map<string, AgentProfile>> {
  const { rows } = await db.query<{ id: string; profile_version: number; skills: Record<string, number>; capacity: Slots; queue_ids: string[] }>(
    `SELECT a.id, a.profile_version, a.skills, a.capacity,
            COALESCE((SELECT array_agg(aq.queue_id ORDER BY aq.queue_id) FROM agent_queues aq WHERE aq.agent_id = a.id), '{}') AS queue_ids
       FROM agents a WHERE a.id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, { version: r.profile_version, skills: r.skills, capacity: { ...ZERO, ...r.capacity }, queueIds: r.queue_ids }]));
}

/**
 * Agents who can take work, with their load and idle time (the later of becoming available and
 * last freeing a slot). Agents at capacity are left out here, not after reading them. Skills,
 * capacity and queues come from `profiles` when it holds the agent's current version, else
 * from a second read of just the agents it lacks (and are kept there for the next pass).
 */
export async function loadAvailableAgents(db: Queryable, profiles: AgentProfiles = new AgentProfiles()): Promise<AgentCandidate[]> {
  const { rows } = await db.query<{
    id: string; profile_version: number; voice: string | null; chat: string | null; sms: string | null; email: string | null; idle_ms: string; offer_ms: string | null;
  }>({
    name: 'routing.free-agents',
    text: `WITH ${OPEN_WORK}
     SELECT a.id, a.profile_version, o.voice, o.chat, o.sms, o.email,
            (extract(epoch FROM GREATEST(a.last_idle_at,
               COALESCE((SELECT max(x.released_at) FROM offers x WHERE x.agent_id = a.id), a.last_idle_at))) * 1000)::bigint::text AS idle_ms,
            (extract(epoch FROM a.last_offer_at) * 1000)::bigint::text AS offer_ms
       FROM agents a LEFT JOIN open_work o ON o.agent_id = a.id
      WHERE ${HAS_FREE_SLOT}`,
  });
  const missing = rows.filter((r) => !profiles.get(r.id, r.profile_version)).map((r) => r.id);
  if (missing.length > 0) {
    if (profiles.size + missing.length > PROFILE_CACHE_LIMIT) profiles.prune(new Set(rows.map((r) => r.id)));
    for (const [id, p] of await loadProfiles(db, missing)) profiles.set(id, p);
  }
  return rows.flatMap((r) => {
    // Missing only if the agent was deleted between the two reads.
    const p = profiles.get(r.id, r.profile_version);
    if (!p || p.queueIds.length === 0) return [];
    return [{
      id: r.id,
      skills: p.skills,
      capacity: p.capacity,
      queueIds: p.queueIds,
      load: { voice: Number(r.voice ?? 0), chat: Number(r.chat ?? 0), sms: Number(r.sms ?? 0), email: Number(r.email ?? 0) },
      lastIdleAt: Number(r.idle_ms),
      lastOfferAt: r.offer_ms ? Number(r.offer_ms) : 0,
    }];
  });
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
  }>(
    `SELECT w.*, q.skills AS queue_skills, q.strategy FROM queues q CROSS JOIN unnest($2::text[]) AS ch(channel) CROSS JOIN LATERAL (
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
    [queueIds, channels, limit],
  );
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
  const { rowCount } = await tx.query(
    `UPDATE interactions SET
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
    [
      id, from, set.state, set.agentId !== undefined, set.agentId ?? null, set.queueId ?? null, set.priority ?? null,
      set.resetEscalation ?? false, set.outcome ?? null, set.disposition ?? null, set.wrapupSeconds ?? null,
      set.acceptedNow ?? false, set.endedNow ?? false, set.closedNow ?? false, set.queuedNow ?? false,
    ],
  );
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

export async function logAgentState(tx: Queryable, agentId: string, state: string, reason: string | null, actor: string): Promise<void> {
  await tx.query('INSERT INTO agent_state_log (agent_id, state, reason, actor) VALUES ($1, $2, $3, $4)', [agentId, state, reason, actor]);
}
