/**
 * SQL of the free agents a routing pass reads: whether anyone can take work at all, and who can
 * (load and idle time read each pass; skills, capacity and queues kept across passes by
 * version). The rest of the ACD's SQL is in routing.repository.ts and offers.repository.ts.
 */
import type { Queryable } from '../platform/db';
import type { AgentCandidate, Slots } from './selection';

const ZERO: Slots = { voice: 0, chat: 0, sms: 0, email: 0 };

/**
 * Open work per agent and channel, counted once over the open-work index (one pass, however
 * many agents), joined to agents as `o`; `agents` limits it to some (SQL: a set of agent ids).
 * The channels are the fixed four of `Channel`.
 */
const openWork = (agents?: string): string => `open_work AS (
    SELECT agent_id,
           count(*) FILTER (WHERE channel = 'voice') AS voice, count(*) FILTER (WHERE channel = 'chat') AS chat,
           count(*) FILTER (WHERE channel = 'sms') AS sms, count(*) FILTER (WHERE channel = 'email') AS email
      FROM interactions WHERE state IN ('offered','active','wrapup') AND ${agents ? `agent_id IN ${agents}` : 'agent_id IS NOT NULL'} GROUP BY agent_id)`;
const OPEN_WORK = openWork();

/**
 * SQL for the number of interactions the agent `agent` holds on `channel` (offered, active or in
 * wrap-up): its load there, counted over the open-work index. Both arguments are SQL expressions.
 */
export const openOn = (agent: string, channel: string): string =>
  `(SELECT count(*) FROM interactions x WHERE x.agent_id = ${agent} AND x.channel = ${channel} AND x.state IN ('offered','active','wrapup'))`;

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
              AND cap.slots::int > ${openOn('a.id', 'cap.channel')}
              AND EXISTS (SELECT 1 FROM agent_queues aq WHERE aq.agent_id = a.id)) AS free`
      : `WITH ${OPEN_WORK} SELECT EXISTS (SELECT 1 FROM agents a LEFT JOIN open_work o ON o.agent_id = a.id WHERE ${CAN_TAKE_WORK}) AS free`,
  });
  return rows[0]?.free ?? false;
}

/**
 * Whether any of these changes can lead to an offer, in one cheap read: new waiting work in a
 * (queue, channel) that some available agent of the queue has a free slot for, or an agent who
 * is available with a free slot on a channel that has work waiting in one of their queues.
 * Skills are not checked (a pass decides those), so `false` means no pass could offer anything
 * because of these changes; a pass for anything else is the sweep's.
 */
export async function mayOffer(db: Queryable, work: Array<{ queueId: string; channel: string }>, agentIds: string[]): Promise<boolean> {
  const { rows } = await db.query<{ may: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM unnest($1::uuid[], $2::text[]) AS w(queue_id, channel)
         JOIN agent_queues aq ON aq.queue_id = w.queue_id
         JOIN agents a ON a.id = aq.agent_id AND a.state = 'available'
        WHERE COALESCE((a.capacity ->> w.channel)::int, 0) > ${openOn('a.id', 'w.channel')}
     ) OR EXISTS (
       SELECT 1 FROM agents a CROSS JOIN LATERAL jsonb_each_text(a.capacity) AS cap(channel, slots)
         JOIN agent_queues aq ON aq.agent_id = a.id
        WHERE a.id = ANY($3::uuid[]) AND a.state = 'available' AND cap.slots::int > 0
          AND EXISTS (SELECT 1 FROM interactions i WHERE i.state = 'queued' AND i.queue_id = aq.queue_id AND i.channel = cap.channel)
          AND cap.slots::int > ${openOn('a.id', 'cap.channel')}
     ) AS may`,
    [work.map((w) => w.queueId), work.map((w) => w.channel), agentIds],
  );
  return rows[0]?.may ?? true;
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

/** Only these agents, and the agents of these queues (a pass for what a trigger named). */
export interface AgentScope {
  agentIds: string[];
  queueIds: string[];
}

/** The free agents' read: every agent, or (scoped, $1 agents and $2 queues) only those in scope. */
const freeAgentsSql = (scoped: boolean): string => {
  // Scoped, the open work is counted for the agents in scope only (over the open-work index).
  const inScope = `in_scope AS (SELECT * FROM agents s WHERE s.id = ANY($1::uuid[])
          OR EXISTS (SELECT 1 FROM agent_queues aq WHERE aq.agent_id = s.id AND aq.queue_id = ANY($2::uuid[])))`;
  return `WITH ${scoped ? `${inScope}, ${openWork('(SELECT id FROM in_scope)')}` : OPEN_WORK}
     SELECT a.id, a.profile_version, o.voice, o.chat, o.sms, o.email,
            (extract(epoch FROM GREATEST(a.last_idle_at,
               COALESCE((SELECT max(x.released_at) FROM offers x WHERE x.agent_id = a.id), a.last_idle_at))) * 1000)::bigint::text AS idle_ms,
            (extract(epoch FROM a.last_offer_at) * 1000)::bigint::text AS offer_ms
       FROM ${scoped ? 'in_scope' : 'agents'} a LEFT JOIN open_work o ON o.agent_id = a.id
      WHERE ${HAS_FREE_SLOT}`;
};

/**
 * Agents who can take work, with their load and idle time (the later of becoming available and
 * last freeing a slot). Agents at capacity are left out here, not after reading them. Skills,
 * capacity and queues come from `profiles` when it holds the agent's current version, else
 * from a second read of just the agents it lacks (and are kept there for the next pass).
 * `scope`: only the agents named and those of the queues named.
 */
export async function loadAvailableAgents(db: Queryable, profiles: AgentProfiles = new AgentProfiles(), scope?: AgentScope): Promise<AgentCandidate[]> {
  type Row = { id: string; profile_version: number; voice: string | null; chat: string | null; sms: string | null; email: string | null; idle_ms: string; offer_ms: string | null };
  const { rows } = scope
    ? await db.query<Row>({ name: 'routing.free-agents.scoped', text: freeAgentsSql(true), values: [scope.agentIds, scope.queueIds] })
    : await db.query<Row>({ name: 'routing.free-agents', text: freeAgentsSql(false) });
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
