/**
 * Diagnostics for the routing scenario: time the router's own read queries (imported from
 * src/routing, run unchanged against the scenario's database while it is quiet) and capture
 * their plans with auto_explain (EXPLAIN ANALYZE of the real statements, nested ones included).
 */
import { Client } from 'pg';
import { loadRoutingQueues, loadWaiting } from '../../src/routing/routing.repository';
import { FreeAgentView } from '../../src/routing/free-agents.repository';
import { loadAvailableAgents } from '../../src/routing/free-candidates';
import { AgentProfiles } from '../../src/routing/agent-profiles';
import { PASS_LIMIT } from '../../src/routing/pass-reads';
import { CHANNELS } from '../../src/interactions/events.types';
import { summarize, type Summary } from './stats';

export interface RouterSqlTimes {
  /** Every free agent read, as the view's first read (and the bench's earlier builds) did. */
  availableAgents: Summary;
  /** A pass's read of the agents changed since the last (none here: the database is quiet). */
  changedAgents: Summary;
  routingQueues: Summary;
  waiting: Summary;
  agentsReturned: number;
  waitingReturned: number;
  plans?: { availableAgents: string; waiting: string };
}

async function time(n: number, fn: () => Promise<unknown>): Promise<Summary> {
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return summarize(out);
}

export async function routerSql(databaseUrl: string, opts: { repeat?: number; explain?: boolean } = {}): Promise<RouterSqlTimes> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const repeat = opts.repeat ?? 10;
    // As the router reads them: agents' profiles kept from the pass before.
    const profiles = new AgentProfiles();
    const agents = await loadAvailableAgents(db, profiles);
    const queueIds = [...new Set(agents.flatMap((a) => a.queueIds))];
    const channels = CHANNELS.filter((ch) => agents.some((a) => a.load[ch] < a.capacity[ch]));
    const waiting = await loadWaiting(db, queueIds, channels, PASS_LIMIT);
    const view = new FreeAgentView();
    await loadAvailableAgents(db, profiles, undefined, view);
    const result: RouterSqlTimes = {
      availableAgents: await time(repeat, () => loadAvailableAgents(db, profiles)),
      changedAgents: await time(repeat, () => loadAvailableAgents(db, profiles, undefined, view)),
      routingQueues: await time(repeat, () => loadRoutingQueues(db)),
      waiting: await time(repeat, () => loadWaiting(db, queueIds, channels, PASS_LIMIT)),
      agentsReturned: agents.length,
      waitingReturned: waiting.waiting.length,
    };
    if (opts.explain) {
      const notices: string[] = [];
      db.on('notice', (m) => notices.push(m.message ?? ''));
      await db.query("LOAD 'auto_explain'");
      await db.query('SET auto_explain.log_min_duration = 0');
      await db.query('SET auto_explain.log_analyze = on');
      await db.query('SET auto_explain.log_buffers = on');
      await db.query('SET client_min_messages = log');
      await loadAvailableAgents(db, profiles);
      const agentsPlan = notices.splice(0).join('\n');
      await loadWaiting(db, queueIds, channels, PASS_LIMIT);
      const waitingPlan = notices.splice(0).join('\n');
      await db.query('SET client_min_messages = notice');
      result.plans = { availableAgents: agentsPlan, waiting: waitingPlan };
    }
    return result;
  } finally {
    await db.end();
  }
}
