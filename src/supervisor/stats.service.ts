/**
 * Queue statistics, derived from the records the router writes (interactions, offers, agent
 * states), never counted by hand: recomputing them from those rows gives the same numbers.
 * Counts are now; answered, abandoned, service level and averages cover the last 24 hours.
 */
import type { Queryable } from '../platform/db';

export interface QueueStats {
  queueId: string;
  name: string;
  waiting: number;
  longestWaitSeconds: number;
  offered: number;
  active: number;
  wrapup: number;
  agentsAvailable: number;
  agentsBusy: number;
  agentsAway: number;
  answered: number;
  abandoned: number;
  serviceLevel: number | null;
  avgWaitSeconds: number | null;
  avgHandleSeconds: number | null;
}

export interface AgentSummary {
  id: string;
  name: string;
  state: string;
  load: number;
}

const QUEUE_STATS_SQL = `
WITH now AS (SELECT clock_timestamp() AS t),
live AS (
  SELECT queue_id,
         count(*) FILTER (WHERE state = 'queued') AS waiting,
         COALESCE(extract(epoch FROM (SELECT t FROM now) - min(queued_at) FILTER (WHERE state = 'queued')), 0) AS longest,
         count(*) FILTER (WHERE state = 'offered') AS offered,
         count(*) FILTER (WHERE state = 'active') AS active,
         count(*) FILTER (WHERE state = 'wrapup') AS wrapup
    FROM interactions WHERE state IN ('queued','offered','active','wrapup') GROUP BY queue_id
),
answered AS (
  SELECT o.queue_id, count(*) AS answered,
         count(*) FILTER (WHERE o.decided_at - o.queued_at <= make_interval(secs => q.sla_seconds)) AS within_sla,
         avg(extract(epoch FROM o.decided_at - o.queued_at)) AS avg_wait
    FROM offers o JOIN queues q ON q.id = o.queue_id
   WHERE o.state = 'accepted' AND o.decided_at > (SELECT t FROM now) - interval '24 hours'
   GROUP BY o.queue_id
),
handled AS (
  SELECT o.queue_id, avg(extract(epoch FROM o.released_at - o.decided_at)) AS avg_handle
    FROM offers o
   WHERE o.state = 'accepted' AND o.released_at > (SELECT t FROM now) - interval '24 hours'
   GROUP BY o.queue_id
),
abandoned AS (
  SELECT queue_id, count(*) AS abandoned FROM interactions
   WHERE outcome = 'abandoned' AND closed_at > (SELECT t FROM now) - interval '24 hours' GROUP BY queue_id
),
agent_load AS (
  SELECT a.id, a.state, (SELECT count(*) FROM interactions i WHERE i.agent_id = a.id AND i.state IN ('offered','active','wrapup')) AS load
    FROM agents a
),
agents AS (
  SELECT aq.queue_id,
         count(*) FILTER (WHERE al.state = 'available' AND al.load = 0) AS available,
         count(*) FILTER (WHERE al.state <> 'offline' AND al.load > 0) AS busy,
         count(*) FILTER (WHERE al.state = 'away' AND al.load = 0) AS away
    FROM agent_queues aq JOIN agent_load al ON al.id = aq.agent_id GROUP BY aq.queue_id
)
SELECT q.id, q.name,
       COALESCE(l.waiting, 0)::int AS waiting, COALESCE(l.longest, 0)::float8 AS longest,
       COALESCE(l.offered, 0)::int AS offered, COALESCE(l.active, 0)::int AS active, COALESCE(l.wrapup, 0)::int AS wrapup,
       COALESCE(ag.available, 0)::int AS available, COALESCE(ag.busy, 0)::int AS busy, COALESCE(ag.away, 0)::int AS away,
       COALESCE(an.answered, 0)::int AS answered, COALESCE(an.within_sla, 0)::int AS within_sla, an.avg_wait::float8 AS avg_wait,
       h.avg_handle::float8 AS avg_handle, COALESCE(ab.abandoned, 0)::int AS abandoned
  FROM queues q
  LEFT JOIN live l ON l.queue_id = q.id
  LEFT JOIN answered an ON an.queue_id = q.id
  LEFT JOIN handled h ON h.queue_id = q.id
  LEFT JOIN abandoned ab ON ab.queue_id = q.id
  LEFT JOIN agents ag ON ag.queue_id = q.id
 ORDER BY q.name`;

const round = (n: number | null, digits = 2): number | null => (n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits);

export async function queueStats(db: Queryable): Promise<QueueStats[]> {
  const { rows } = await db.query<{
    id: string; name: string; waiting: number; longest: number; offered: number; active: number; wrapup: number;
    available: number; busy: number; away: number; answered: number; within_sla: number; avg_wait: number | null; avg_handle: number | null; abandoned: number;
  }>(QUEUE_STATS_SQL);
  return rows.map((r) => ({
    queueId: r.id,
    name: r.name,
    waiting: r.waiting,
    longestWaitSeconds: Math.floor(r.longest),
    offered: r.offered,
    active: r.active,
    wrapup: r.wrapup,
    agentsAvailable: r.available,
    agentsBusy: r.busy,
    agentsAway: r.away,
    answered: r.answered,
    abandoned: r.abandoned,
    serviceLevel: r.answered === 0 ? null : round(r.within_sla / r.answered, 4),
    avgWaitSeconds: round(r.avg_wait),
    avgHandleSeconds: round(r.avg_handle),
  }));
}

export async function agentSummaries(db: Queryable): Promise<AgentSummary[]> {
  const { rows } = await db.query<{ id: string; name: string; state: string; load: number }>(
    `SELECT a.id, a.name, a.state,
            (SELECT count(*) FROM interactions i WHERE i.agent_id = a.id AND i.state IN ('offered','active','wrapup'))::int AS load
       FROM agents a ORDER BY a.name, a.id`,
  );
  return rows;
}
