/**
 * SQL of the free agents a routing pass reads: who can take work (load and idle time kept in a
 * view refreshed with the agents changed since its last read; skills, capacity and queues kept
 * across passes by version), and whether hinted changes can lead to an offer at all. The rest
 * of the ACD's SQL is in routing.repository.ts and offers.repository.ts.
 */
import type { Queryable } from '../platform/db';
import { CHANNELS, type Channel } from '../interactions/events.types';
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

/**
 * Whether any of these changes can lead to an offer, in one cheap read: new waiting work in a
 * (queue, channel) that some available agent of the queue has a free slot for, or an agent who
 * is available with a free slot on a channel that has work waiting in one of their queues.
 * Skills are not checked (a pass decides those), so `false` means no pass could offer anything
 * because of these changes; a pass for anything else is the sweep's. The waiting-work test is
 * one probe per (queue, channel) of the agent: `OFFSET 0` keeps Postgres from turning it into a
 * join that groups every waiting interaction first (8 ms at 10,000 waiting, against 0.3 ms), and
 * the waiting index's order keeps it on that index: without it, with most interactions waiting,
 * Postgres expected a sequential scan to find one soon, and read all 11,100 rows for a channel
 * with none (5 ms a probe, 47 ms for three blended agents). The agents' queues are read by agent
 * id, not merged against every membership (a generic plan did that: 1.7 ms at 1,000 agents).
 */
export async function mayOffer(db: Queryable, work: Array<{ queueId: string; channel: string }>, agentIds: string[]): Promise<boolean> {
  const { rows } = await db.query<{ may: boolean }>({
    name: 'routing.may-offer',
    text: `SELECT EXISTS (
       SELECT 1 FROM unnest($1::uuid[], $2::text[]) AS w(queue_id, channel)
         JOIN agent_queues aq ON aq.queue_id = w.queue_id
         JOIN agents a ON a.id = aq.agent_id AND a.state = 'available'
        WHERE COALESCE((a.capacity ->> w.channel)::int, 0) > ${openOn('a.id', 'w.channel')}
     ) OR EXISTS (
       SELECT 1 FROM agents a CROSS JOIN LATERAL jsonb_each_text(a.capacity) AS cap(channel, slots)
         JOIN agent_queues aq ON aq.agent_id = a.id
        WHERE a.id = ANY($3::uuid[]) AND aq.agent_id = ANY($3::uuid[]) AND a.state = 'available' AND cap.slots::int > 0
          AND EXISTS (SELECT 1 FROM interactions i WHERE i.state = 'queued' AND i.queue_id = aq.queue_id AND i.channel = cap.channel
                       ORDER BY i.priority DESC, i.queued_at OFFSET 0)
          AND cap.slots::int > ${openOn('a.id', 'cap.channel')}
     ) AS may`,
    values: [work.map((w) => w.queueId), work.map((w) => w.channel), agentIds],
  });
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

/** A free agent as read each pass: what changes often (load, idle and offer times), and its profile's version. */
export interface FreeAgentRow {
  id: string;
  profileVersion: number;
  load: Slots;
  lastIdleAt: number;
  lastOfferAt: number;
}

type Row = { id: string | null; profile_version: number; voice: string | null; chat: string | null; sms: string | null; email: string | null; idle_ms: string; offer_ms: string | null };

const FREE_COLUMNS = `a.id, a.profile_version, o.voice, o.chat, o.sms, o.email,
            (extract(epoch FROM GREATEST(a.last_idle_at,
               COALESCE((SELECT max(x.released_at) FROM offers x WHERE x.agent_id = a.id), a.last_idle_at))) * 1000)::bigint::text AS idle_ms,
            (extract(epoch FROM a.last_offer_at) * 1000)::bigint::text AS offer_ms`;

/** The statement's snapshot: the next read brings the changes of every transaction it did not see (migration 009). */
const HORIZON = 'pg_current_snapshot()::text AS horizon';

/** Every free agent, and the horizon of the snapshot they were read in (one row of NULLs when nobody is free). */
const ALL_FREE_SQL = `WITH ${OPEN_WORK},
     free AS (SELECT ${FREE_COLUMNS} FROM agents a LEFT JOIN open_work o ON o.agent_id = a.id WHERE ${HAS_FREE_SLOT})
     SELECT ${HORIZON}, f.* FROM (SELECT 1) one LEFT JOIN free f ON true`;

/**
 * The agents changed since horizon $1 (one row each, with the free-agent columns when the agent
 * is free now), and the new horizon; `lost` when changes since $1 were pruned (read all again).
 */
const CHANGED_FREE_SQL = `WITH changed AS (SELECT id FROM agents_changed_since($1::pg_snapshot) AS id),
     gap AS (SELECT through >= pg_snapshot_xmin($1::pg_snapshot) AS lost FROM agent_changes_pruned),
     ${openWork('(SELECT id FROM changed)')},
     free AS (SELECT ${FREE_COLUMNS} FROM changed c JOIN agents a ON a.id = c.id LEFT JOIN open_work o ON o.agent_id = a.id WHERE ${HAS_FREE_SLOT})
     SELECT ${HORIZON}, gap.lost, c.id AS changed_id, f.*
       FROM gap LEFT JOIN changed c ON NOT gap.lost LEFT JOIN free f ON f.id = c.id`;

const toFree = (r: Row & { id: string }): FreeAgentRow => ({
  id: r.id,
  profileVersion: r.profile_version,
  load: { voice: Number(r.voice ?? 0), chat: Number(r.chat ?? 0), sms: Number(r.sms ?? 0), email: Number(r.email ?? 0) },
  lastIdleAt: Number(r.idle_ms),
  lastOfferAt: r.offer_ms ? Number(r.offer_ms) : 0,
});

/** Every agent who is available with a free slot, and the horizon to read changes from next. */
export async function readAllFree(db: Queryable): Promise<{ horizon: string; agents: FreeAgentRow[] }> {
  const { rows } = await db.query<Row & { horizon: string }>({ name: 'routing.free-agents', text: ALL_FREE_SQL });
  return { horizon: rows[0]!.horizon, agents: rows.flatMap((r) => (r.id ? [toFree({ ...r, id: r.id })] : [])) };
}

/**
 * The agents changed since `since` (a horizon): which changed, those of them free now, and the
 * horizon to read from next; null when changes since then may be missing (pruned).
 */
export async function readChangedFree(db: Queryable, since: string): Promise<{ horizon: string; changed: string[]; free: FreeAgentRow[] } | null> {
  const { rows } = await db.query<Row & { horizon: string; lost: boolean | null; changed_id: string | null }>({ name: 'routing.free-agents.changed', text: CHANGED_FREE_SQL, values: [since] });
  if (rows.length === 0 || rows[0]!.lost !== false) return null;
  return {
    horizon: rows[0]!.horizon,
    changed: rows.flatMap((r) => (r.changed_id ? [r.changed_id] : [])),
    free: rows.flatMap((r) => (r.id ? [toFree({ ...r, id: r.id })] : [])),
  };
}

/**
 * The free agents, kept in memory across passes: each read brings only the agents changed since
 * the last (noted by triggers, migration 009), so a pass costs the changes, not every free agent.
 * Reads only committed data, so it may be refreshed in any transaction or none. Every free agent
 * is read again when changes may have been missed (the first read, changes pruned, a TRUNCATE).
 */
export class FreeAgentView {
  private readonly byId = new Map<string, FreeAgentRow>();
  private horizon: string | null = null;
  /** Reads so far: of every free agent, and of changes only (with how many agents they brought). */
  readonly reads = { all: 0, changes: 0, changedAgents: 0 };

  async refresh(db: Queryable): Promise<FreeAgentRow[]> {
    const changes = this.horizon === null ? null : await readChangedFree(db, this.horizon);
    if (changes) {
      this.reads.changes++;
      this.reads.changedAgents += changes.changed.length;
      for (const id of changes.changed) this.byId.delete(id);
      for (const a of changes.free) this.byId.set(a.id, a);
      this.horizon = changes.horizon;
    } else {
      this.reads.all++;
      const all = await readAllFree(db);
      this.byId.clear();
      for (const a of all.agents) this.byId.set(a.id, a);
      this.horizon = all.horizon;
    }
    return [...this.byId.values()];
  }
}

/** Free agents who can take work, and what a pass reads waiting work for because of them. */
export interface FreeCandidates {
  agents: AgentCandidate[];
  /** Every queue those agents serve. */
  queueIds: string[];
  /** The channels on which at least one of them has a slot free. */
  channels: Channel[];
  /** Their free slots, on every channel together. */
  freeSlots: number;
}

/**
 * Agents who can take work, with their load and idle time (the later of becoming available and
 * last freeing a slot). Agents at capacity are left out here, not after reading them. Skills,
 * capacity and queues come from `profiles` when it holds the agent's current version, else
 * from a second read of just the agents it lacks (and are kept there for the next pass).
 * `scope`: only the agents named and those of the queues named. `view`: refreshed, instead of
 * reading every free agent. One walk over the free agents, with what is derived from each kept
 * from the pass before unless the agent changed: a pass at 1,000 free agents spent 2.4 ms in
 * six walks over them (cold in the cache each time), for 0.3 ms of SQL.
 */
export async function loadFreeCandidates(db: Queryable, profiles: AgentProfiles = new AgentProfiles(), scope?: AgentScope, view?: FreeAgentView): Promise<FreeCandidates> {
  const rows = view ? await view.refresh(db) : (await readAllFree(db)).agents;
  let walked = walk(rows, profiles, scope);
  if (walked.missing.length > 0) {
    await holdProfiles(db, profiles, walked.missing, rows);
    // Only agents deleted since the first read are still missing; they are left out.
    walked = walk(rows, profiles, scope);
  }
  return { agents: walked.agents, queueIds: [...walked.queues], channels: CHANNELS.filter((_, k) => walked.open & (1 << k)), freeSlots: walked.slots };
}

export async function loadAvailableAgents(db: Queryable, profiles?: AgentProfiles, scope?: AgentScope, view?: FreeAgentView): Promise<AgentCandidate[]> {
  return (await loadFreeCandidates(db, profiles, scope, view)).agents;
}

/** What a free-agent row gives a pass, built once per row (a changed agent gets a new row). */
interface Built {
  profile: AgentProfile;
  candidate: AgentCandidate;
  /** Bit k set: a slot free on CHANNELS[k]. */
  open: number;
  /** Free slots on every channel together. */
  slots: number;
}

const built = new WeakMap<FreeAgentRow, Built>();

/** The walk: candidates in row order, their queues and open channels, and the agents whose profiles are not held. */
function walk(rows: FreeAgentRow[], profiles: AgentProfiles, scope?: AgentScope): { agents: AgentCandidate[]; queues: Set<string>; open: number; slots: number; missing: string[] } {
  const scopeQueues = scope ? new Set(scope.queueIds) : null;
  const scopeAgents = scope ? new Set(scope.agentIds) : null;
  const agents: AgentCandidate[] = [];
  const queues = new Set<string>();
  const missing: string[] = [];
  let open = 0;
  let slots = 0;
  for (const r of rows) {
    const b = builtFor(r, profiles);
    if (!b) {
      missing.push(r.id);
      continue;
    }
    const c = b.candidate;
    if (c.queueIds.length === 0) continue;
    if (scope && !scopeAgents!.has(r.id) && !c.queueIds.some((q) => scopeQueues!.has(q))) continue;
    agents.push(c);
    for (const q of c.queueIds) queues.add(q);
    open |= b.open;
    slots += b.slots;
  }
  return { agents, queues, open, slots, missing };
}

/**
 * The row's candidate, kept while the row and its profile are: a row is replaced when its agent
 * changes (a new profile version included), so a pass builds candidates only for agents that changed.
 * Candidates are never modified (a plan copies the agents it changes). Undefined: the profile
 * at the row's version is not held.
 */
function builtFor(r: FreeAgentRow, profiles: AgentProfiles): Built | undefined {
  const p = profiles.get(r.id, r.profileVersion);
  if (!p) return undefined;
  const kept = built.get(r);
  if (kept && kept.profile === p) return kept;
  const candidate = { id: r.id, skills: p.skills, capacity: p.capacity, queueIds: p.queueIds, load: r.load, lastIdleAt: r.lastIdleAt, lastOfferAt: r.lastOfferAt };
  let open = 0;
  let slots = 0;
  CHANNELS.forEach((ch, k) => {
    if (r.load[ch] < p.capacity[ch]) open |= 1 << k;
    slots += Math.max(0, p.capacity[ch] - r.load[ch]);
  });
  const b = { profile: p, candidate, open, slots };
  built.set(r, b);
  return b;
}

/** Read into `profiles` the profiles of `missing` (agents of `rows` it does not hold at their version), in one read. */
async function holdProfiles(db: Queryable, profiles: AgentProfiles, missing: string[], rows: FreeAgentRow[]): Promise<void> {
  if (missing.length === 0) return;
  if (profiles.size + missing.length > PROFILE_CACHE_LIMIT) profiles.prune(new Set(rows.map((r) => r.id)));
  for (const [id, p] of await loadProfiles(db, missing)) profiles.set(id, p);
}

/**
 * Whether new work in any of these (queue, channel) pairs can be offered: some free agent of the
 * queue has a slot free on that channel, by `view` refreshed now (skills are not checked; a pass
 * decides those). What `mayOffer` answers for work, from memory after one read of the changes.
 */
export async function freeAgentFor(db: Queryable, profiles: AgentProfiles, view: FreeAgentView, work: Array<{ queueId: string; channel: Channel }>): Promise<boolean> {
  const rows = await view.refresh(db);
  await holdProfiles(db, profiles, rows.filter((r) => !profiles.get(r.id, r.profileVersion)).map((r) => r.id), rows);
  return rows.some((r) => {
    const p = profiles.get(r.id, r.profileVersion);
    return p !== undefined && work.some((w) => r.load[w.channel] < p.capacity[w.channel] && p.queueIds.includes(w.queueId));
  });
}

/** How long agent changes are kept: a view not refreshed for longer reads every free agent again. */
export const AGENT_CHANGES_KEPT_SECONDS = 120;

/**
 * Forget agent changes older than `olderThanSeconds`, noting the highest transaction id pruned
 * (a view whose horizon is not above it reads every free agent again). Returns how many.
 */
export async function pruneAgentChanges(db: Queryable, olderThanSeconds: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH gone AS (DELETE FROM agent_changes WHERE at < clock_timestamp() - make_interval(secs => $1) RETURNING xid),
          noted AS (UPDATE agent_changes_pruned SET through = GREATEST(through, (SELECT max(xid) FROM gone)) WHERE EXISTS (SELECT 1 FROM gone))
     SELECT count(*)::int AS n FROM gone`,
    [olderThanSeconds],
  );
  return rows[0]?.n ?? 0;
}
