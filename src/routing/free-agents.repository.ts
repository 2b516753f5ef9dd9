/**
 * SQL of the free agents a routing pass reads: who can take work (load and idle time kept in a
 * view refreshed with the agents changed since its last read; skills, capacity and queues read
 * by version), and whether hinted changes can lead to an offer at all. What a pass makes of them
 * in memory is in free-candidates.ts; the rest of the ACD's SQL is in routing.repository.ts and
 * offers.repository.ts.
 */
import type { Queryable } from '../platform/db';
import type { Slots } from './selection';

const ZERO: Slots = { voice: 0, chat: 0, sms: 0, email: 0 };
const noop = (): void => undefined;

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

/** The profiles of these agents (those not found are left out). */
export async function loadProfiles(db: Queryable, ids: string[]): Promise<Map<string, AgentProfile>> {
  const { rows } = await db.query<{ id: string; profile_version: number; skills: Record<string, number>; capacity: Slots; queue_ids: string[] }>(
    `SELECT a.id, a.profile_version, a.skills, a.capacity,
            COALESCE((SELECT array_agg(aq.queue_id ORDER BY aq.queue_id) FROM agent_queues aq WHERE aq.agent_id = a.id), '{}') AS queue_ids
       FROM agents a WHERE a.id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, { version: r.profile_version, skills: r.skills, capacity: { ...ZERO, ...r.capacity }, queueIds: r.queue_ids }]));
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

/**
 * Where a read of the free agents stands, so the next brings only what changed since: the
 * statement's snapshot (the next read brings the changes of every transaction it did not see,
 * migration 009), and the server's epoch. Transaction ids are not handed out only once: after a
 * crash Postgres recovers from the WAL on disk and gives out again the ids of transactions it
 * lost, such as a routing pass's asynchronous commit (and of those that began after it), so a
 * snapshot read before the crash would take their changes for seen. The epoch is the time
 * Postgres last reset its shared statistics, which it does on recovering from a crash (and when
 * an operator resets them, which costs one read of every free agent): readable by any role, in
 * the same statement, and compared as the text the read gave (a connection that formatted it
 * differently would only cause one more such read).
 */
export interface Horizon {
  snapshot: string;
  epoch: string | null;
}

const HORIZON = 'pg_current_snapshot()::text AS horizon, pg_stat_get_bgwriter_stat_reset_time()::text AS epoch';
type HorizonRow = { horizon: string; epoch: string | null };
const toHorizon = (r: HorizonRow): Horizon => ({ snapshot: r.horizon, epoch: r.epoch });

/** Every free agent, and the horizon of the snapshot they were read in (one row of NULLs when nobody is free). */
const ALL_FREE_SQL = `WITH ${OPEN_WORK},
     free AS (SELECT ${FREE_COLUMNS} FROM agents a LEFT JOIN open_work o ON o.agent_id = a.id WHERE ${HAS_FREE_SLOT})
     SELECT ${HORIZON}, f.* FROM (SELECT 1) one LEFT JOIN free f ON true`;

/**
 * Whether the changes since a horizon (`snapshot`, `epoch`: SQL for its parameters) can no longer
 * be told, evaluated over agent_changes_pruned's row: changes since then were pruned, or the
 * server has recovered from a crash since. A read of the changes then reads all again, and a
 * claim planned from a view read at that horizon is not made (offers.repository, ClaimAheadGuard).
 */
export const horizonLost = (snapshot: string, epoch: string): string =>
  `(through >= pg_snapshot_xmin(${snapshot}::pg_snapshot) OR pg_stat_get_bgwriter_stat_reset_time()::text IS DISTINCT FROM ${epoch}::text)`;

/**
 * The agents changed since the horizon ($1 its snapshot, $2 its epoch: one row each, with the
 * free-agent columns when the agent is free now), and the new horizon; `lost` when changes since
 * then were pruned, or the server has recovered from a crash since (read all again).
 */
const CHANGED_FREE_SQL = `WITH changed AS (SELECT id FROM agents_changed_since($1::pg_snapshot) AS id),
     gap AS (SELECT ${horizonLost('$1', '$2')} AS lost FROM agent_changes_pruned),
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
export async function readAllFree(db: Queryable): Promise<{ horizon: Horizon; agents: FreeAgentRow[] }> {
  const { rows } = await db.query<Row & HorizonRow>({ name: 'routing.free-agents', text: ALL_FREE_SQL });
  return { horizon: toHorizon(rows[0]!), agents: rows.flatMap((r) => (r.id ? [toFree({ ...r, id: r.id })] : [])) };
}

/**
 * The agents changed since `since` (a horizon): which changed, those of them free now, and the
 * horizon to read from next; null when changes since then may be missing (pruned, or Postgres
 * recovered from a crash since).
 */
export async function readChangedFree(db: Queryable, since: Horizon): Promise<{ horizon: Horizon; changed: string[]; free: FreeAgentRow[] } | null> {
  const { rows } = await db.query<Row & HorizonRow & { lost: boolean | null; changed_id: string | null }>({
    name: 'routing.free-agents.changed',
    text: CHANGED_FREE_SQL,
    values: [since.snapshot, since.epoch],
  });
  if (rows.length === 0 || rows[0]!.lost !== false) return null;
  return {
    horizon: toHorizon(rows[0]!),
    changed: rows.flatMap((r) => (r.changed_id ? [r.changed_id] : [])),
    free: rows.flatMap((r) => (r.id ? [toFree({ ...r, id: r.id })] : [])),
  };
}

/**
 * The free agents, kept in memory across passes: each read brings only the agents changed since
 * the last (noted by triggers, migration 009), so a pass costs the changes, not every free agent.
 * Reads only committed data, so it may be refreshed in any transaction or none. Every free agent
 * is read again when changes may have been missed (the first read, changes pruned, a TRUNCATE,
 * a crash of Postgres: see Horizon).
 */
export class FreeAgentView {
  private readonly byId = new Map<string, FreeAgentRow>();
  private horizon: Horizon | null = null;
  /** Reads so far: of every free agent, and of changes only (with how many agents they brought). */
  readonly reads = { all: 0, changes: 0, changedAgents: 0 };
  /** Moves whenever the rows change (a read that brought no change leaves it): what is derived from them is kept while it stands. */
  generation = 0;

  /** How many agents were free at the last refresh (none before the first). */
  get size(): number {
    return this.byId.size;
  }

  /** The free agents as of the last refresh, without reading anything (empty before the first). */
  current(): FreeAgentRow[] {
    return [...this.byId.values()];
  }

  /** The rows of these agents (each once) among the free agents as of the last refresh. */
  rowsOf(agentIds: readonly string[]): FreeAgentRow[] {
    return [...new Set(agentIds)].flatMap((id) => this.byId.get(id) ?? []);
  }

  /**
   * The horizon the rows as they stand were read through; null before the first read and while a
   * read is under way (the rows are then about to change).
   */
  get readThrough(): Horizon | null {
    return this.reading ? null : this.horizon;
  }

  /** The read under way, if any: the next waits for it, so each reads from the horizon the one before left. */
  private reading: Promise<unknown> | null = null;

  /**
   * Read what changed since the last read (every free agent, the first time) and apply it. Reads
   * never overlap: one asked for while another is under way (a read sent behind a message, say,
   * and a pass's own) is sent once that one is answered; otherwise it is sent at once, so it can
   * travel in the same write as the statements issued beside it.
   */
  refresh(db: Queryable): Promise<FreeAgentRow[]> {
    if (this.reading) {
      const after = this.reading.then(noop, noop);
      return after.then(() => this.refresh(db));
    }
    const read = this.read(db);
    this.reading = read;
    const done = (): void => {
      if (this.reading === read) this.reading = null;
    };
    read.then(done, done);
    return read;
  }

  private async read(db: Queryable): Promise<FreeAgentRow[]> {
    const changes = this.horizon === null ? null : await readChangedFree(db, this.horizon);
    if (changes) {
      this.reads.changes++;
      this.reads.changedAgents += changes.changed.length;
      for (const id of changes.changed) this.byId.delete(id);
      for (const a of changes.free) this.byId.set(a.id, a);
      if (changes.changed.length > 0) this.generation++;
      this.horizon = changes.horizon;
    } else {
      this.reads.all++;
      const all = await readAllFree(db);
      this.byId.clear();
      for (const a of all.agents) this.byId.set(a.id, a);
      this.generation++;
      this.horizon = all.horizon;
    }
    return [...this.byId.values()];
  }
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
