import { isDeepStrictEqual as equal } from 'node:util';
import { Pool, type PoolClient } from 'pg';
import { ensureDatabase } from '../../src/platform/db';
import { migrate } from '../../src/platform/migrate';
import { FreeAgentView, pruneAgentChanges, readAllFree, type FreeAgentRow } from '../../src/routing/free-agents.repository';
import { dropDatabase, endPool, testEnv } from '../support/env';

// The routing view of free agents is kept in memory and refreshed with only the agents changed
// since its last read. It must always equal a fresh read of every free agent, whichever way the
// rows were written (triggers note the changes, not the code paths), and whatever order
// concurrent transactions commit in.
const CHANNELS = ['voice', 'chat', 'sms', 'email'] as const;

/** A small deterministic generator, so a failing sequence can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const byId = (rows: FreeAgentRow[]) => [...rows].sort((a, b) => (a.id < b.id ? -1 : 1));

describe('FreeAgentView', () => {
  const url = testEnv().DATABASE_URL!;
  let pool: Pool;
  let queues: string[];
  let customer: string;

  beforeAll(async () => {
    await ensureDatabase(url);
    pool = new Pool({ connectionString: url, max: 8 });
    // Dropping the database at the end may reach a connection still closing: not a failure.
    pool.on('error', () => undefined);
    await migrate(pool);
    queues = (await pool.query<{ id: string }>("INSERT INTO queues (name) SELECT 'q' || g FROM generate_series(1, 3) g RETURNING id")).rows.map((r) => r.id);
    customer = (await pool.query<{ id: string }>('INSERT INTO customers DEFAULT VALUES RETURNING id')).rows[0]!.id;
    await pool.query(
      `WITH a AS (INSERT INTO agents (name, state, capacity) SELECT 'agent ' || g, 'available', '{"voice":1,"chat":2,"sms":1,"email":0}' FROM generate_series(1, 12) g RETURNING id)
       INSERT INTO agent_queues (agent_id, queue_id) SELECT a.id, q FROM a CROSS JOIN unnest($1::uuid[]) q`,
      [queues.slice(0, 2)],
    );
  });
  afterAll(async () => {
    await endPool(pool);
    await dropDatabase(url);
  });

  const agentIds = async () => (await pool.query<{ id: string }>('SELECT id FROM agents ORDER BY id')).rows.map((r) => r.id);
  const expectSame = async (view: FreeAgentView) => {
    const before = { rows: byId(view.current()), generation: view.generation };
    const kept = await view.refresh(pool);
    expect(byId(kept)).toEqual(byId((await readAllFree(pool)).agents));
    // What is derived from the rows is kept by generation: it moves whenever they change.
    if (!equal(byId(kept), before.rows)) expect(view.generation).toBeGreaterThan(before.generation);
    return kept;
  };

  /** One random write, as some code path (or an operator with psql) might make it. */
  async function randomWrite(db: Pool | PoolClient, next: () => number): Promise<void> {
    const agents = await agentIds();
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const agent = pick(agents);
    const channel = pick(CHANNELS);
    switch (Math.floor(next() * 11)) {
      case 0:
        await db.query('UPDATE agents SET state = $2 WHERE id = $1', [agent, pick(['available', 'away', 'offline', 'available'])]);
        break;
      case 1:
        await db.query('UPDATE agents SET capacity = jsonb_set(capacity, ARRAY[$2], to_jsonb($3::int)) WHERE id = $1', [agent, channel, Math.floor(next() * 3)]);
        break;
      case 2:
        await db.query('UPDATE agents SET last_idle_at = clock_timestamp(), last_offer_at = CASE WHEN $2 THEN clock_timestamp() ELSE last_offer_at END WHERE id = $1', [agent, next() < 0.5]);
        break;
      case 3:
      case 4:
        await db.query(
          `INSERT INTO interactions (customer_id, channel, direction, state, agent_id, queue_id) VALUES ($1, $2, 'in', $3, $4, $5)`,
          [customer, channel, pick(['offered', 'active', 'wrapup', 'closed']), agent, pick(queues)],
        );
        break;
      case 5:
        // Work moves on: answered, wrapped up, closed, or back to the queue.
        await db.query(
          `UPDATE interactions SET state = $2, agent_id = CASE WHEN $2 = 'queued' THEN NULL ELSE agent_id END
            WHERE id = (SELECT id FROM interactions WHERE agent_id = $1 ORDER BY id LIMIT 1)`,
          [agent, pick(['active', 'wrapup', 'closed', 'queued'])],
        );
        break;
      case 6:
        // Transferred to another agent, or queued work offered to one.
        await db.query(
          `UPDATE interactions SET agent_id = $1, state = 'offered'
            WHERE id = (SELECT id FROM interactions WHERE agent_id IS DISTINCT FROM $1 AND state <> 'closed' ORDER BY id LIMIT 1)`,
          [agent],
        );
        break;
      case 7:
        await db.query(
          `WITH i AS (SELECT id FROM interactions WHERE agent_id = $1 ORDER BY id DESC LIMIT 1)
           INSERT INTO offers (interaction_id, agent_id, channel, state, explanation, expires_at, released_at)
           SELECT i.id, $1, $2, 'accepted', '{}', clock_timestamp(), CASE WHEN $3 THEN clock_timestamp() END FROM i`,
          [agent, channel, next() < 0.5],
        );
        break;
      case 8:
        await db.query(
          'UPDATE offers SET released_at = clock_timestamp() WHERE id = (SELECT id FROM offers WHERE agent_id = $1 ORDER BY released_at NULLS FIRST, id LIMIT 1)',
          [agent],
        );
        break;
      case 9:
        // Queue memberships (the profile's version moves) and the odd interaction deleted outright.
        if (next() < 0.5) await db.query('DELETE FROM agent_queues WHERE agent_id = $1 AND queue_id = $2', [agent, pick(queues)]);
        else await db.query('INSERT INTO agent_queues (agent_id, queue_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [agent, pick(queues)]);
        if (next() < 0.3) {
          await db.query(
            `WITH i AS (SELECT id FROM interactions WHERE agent_id = $1 ORDER BY id LIMIT 1), o AS (DELETE FROM offers WHERE interaction_id IN (SELECT id FROM i))
             DELETE FROM interactions WHERE id IN (SELECT id FROM i)`,
            [agent],
          );
        }
        break;
      default:
        // Agents come and go (one with no history can be deleted).
        if (next() < 0.5) {
          await db.query(`INSERT INTO agents (name, state, capacity) VALUES ('late', 'available', '{"chat":1}')`);
        } else {
          await db.query('DELETE FROM agents WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM interactions WHERE agent_id = $1) AND NOT EXISTS (SELECT 1 FROM offers WHERE agent_id = $1)', [agent]);
        }
    }
  }

  it('equals a fresh read of every free agent after each of many writes of every kind', async () => {
    const view = new FreeAgentView();
    await expectSame(view);
    // A transaction left open throughout (as another test file, a migration or a report might):
    // it holds every snapshot's xmin back, which must not make each read bring everything since.
    const idle = await pool.connect();
    await idle.query('BEGIN');
    await idle.query('SELECT pg_current_xact_id()');
    const next = rng(6);
    try {
      for (let i = 0; i < 300; i++) {
        await randomWrite(pool, next);
        if (i % 3 === 0) await expectSame(view);
      }
    } finally {
      await idle.query('ROLLBACK');
      idle.release();
    }
    await expectSame(view);
    // A read that brings no change leaves the generation where it was.
    const generation = view.generation;
    await view.refresh(pool);
    expect(view.generation).toBe(generation);
    // One full read at the start; every other read brought only changes, a few agents each.
    expect(view.reads.all).toBe(1);
    expect(view.reads.changes).toBe(102);
    expect(view.reads.changedAgents / view.reads.changes).toBeLessThan(6);
  });

  it('misses no change committed after a later one (commit order is not id order)', async () => {
    const view = new FreeAgentView();
    await expectSame(view);
    const [a, b] = await agentIds();
    // Away, with slots to spare whatever earlier tests left them holding.
    await pool.query(`UPDATE agents SET state = 'away', capacity = '{"chat": 1000}' WHERE id = ANY($1::uuid[])`, [[a, b]]);
    await expectSame(view);
    const first = await pool.connect();
    const second = await pool.connect();
    try {
      await first.query('BEGIN');
      await first.query("UPDATE agents SET state = 'available' WHERE id = $1", [a]); // the older transaction id
      await second.query('BEGIN');
      await second.query("UPDATE agents SET state = 'available' WHERE id = $1", [b]);
      await second.query('COMMIT');
      const seen = await expectSame(view);
      expect(seen.map((r) => r.id)).toContain(b);
      expect(seen.map((r) => r.id)).not.toContain(a);
      await first.query('COMMIT');
      expect((await expectSame(view)).map((r) => r.id)).toContain(a);
    } finally {
      first.release();
      second.release();
    }
  });

  it('stays exact while writers commit concurrently, in any order, with some rolled back', async () => {
    const view = new FreeAgentView();
    await expectSame(view);
    let writing = true;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      const next = rng(100 + w);
      const client = await pool.connect();
      try {
        for (let i = 0; i < 40; i++) {
          await client.query('BEGIN');
          try {
            await randomWrite(client, next);
            await new Promise((r) => setTimeout(r, Math.floor(next() * 8)));
            await randomWrite(client, next);
            await client.query(next() < 0.15 ? 'ROLLBACK' : 'COMMIT');
          } catch (err) {
            await client.query('ROLLBACK');
            // Two writers on one row may deadlock or trip a foreign key: the transaction is simply gone.
            if (!['40P01', '23503', '23505'].includes((err as { code?: string }).code ?? '')) throw err;
          }
        }
      } finally {
        client.release();
      }
    });
    const refresher = (async () => {
      while (writing) {
        await view.refresh(pool);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await Promise.all(writers);
    writing = false;
    await refresher;
    await expectSame(view);
    expect(view.reads.all).toBe(1);
  });

  it('reads every free agent again when the changes since its last read were pruned or truncated', async () => {
    const view = new FreeAgentView();
    await expectSame(view);
    const [a] = await agentIds();
    await pool.query("UPDATE agents SET state = 'available', capacity = '{\"chat\": 2}' WHERE id = $1", [a]);
    await pool.query("UPDATE agents SET state = 'away' WHERE id = $1", [a]);
    expect(await pruneAgentChanges(pool, 0)).toBeGreaterThan(0);
    await expectSame(view);
    expect(view.reads.all).toBe(2);
    // Nothing changed since: reads are of changes again — at once, unless a transaction elsewhere
    // in the cluster (other test files share it) began before the prune and still holds the
    // snapshot's xmin below what was pruned; then as soon as it ends.
    let all = view.reads.all;
    for (let i = 0; i < 100; i++) {
      all = view.reads.all;
      await expectSame(view);
      if (view.reads.all === all) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(view.reads.all).toBe(all);

    // TRUNCATE fires no row triggers: it marks every change as lost instead.
    await pool.query('TRUNCATE offers');
    await expectSame(view);
    expect(view.reads.all).toBe(all + 1);
  });

  it('never overlaps two reads: one asked for while another is under way is sent once that one is answered, and both end exact', async () => {
    const view = new FreeAgentView();
    await expectSame(view);
    const [a, b] = await agentIds();
    /** A connection of the pool that notes when each of its reads is sent and answered. */
    const noted = (name: string, log: string[]) => ({
      query: async (...args: Parameters<Pool['query']>) => {
        log.push(`${name} sent`);
        const r = await (pool.query as (...x: unknown[]) => Promise<unknown>)(...args);
        log.push(`${name} answered`);
        return r;
      },
    }) as unknown as Pool;
    const log: string[] = [];
    await pool.query("UPDATE agents SET state = 'away' WHERE id = $1", [a]);
    const first = view.refresh(noted('first', log));
    const second = view.refresh(noted('second', log));
    // Sent at once, in the caller's turn, when no other read is under way.
    expect(log).toEqual(['first sent']);
    await pool.query("UPDATE agents SET state = 'away' WHERE id = $1", [b]);
    const [one, two] = await Promise.all([first, second]);
    expect(log).toEqual(['first sent', 'first answered', 'second sent', 'second answered']);
    expect(one.some((r) => r.id === a)).toBe(false);
    expect(two.some((r) => r.id === a)).toBe(false);
    await expectSame(view);
    await pool.query("UPDATE agents SET state = 'available' WHERE id = ANY($1::uuid[])", [[a, b]]);
    await expectSame(view);
  });
});
