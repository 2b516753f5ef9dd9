import { Pool } from 'pg';
import { withTransaction } from '../../src/platform/db';
import { PG_BASE } from '../support/env';

// A transaction that starts with an advisory lock sends BEGIN and the lock in one round trip:
// it must still hold the lock for exactly the transaction, and give it up on rollback.
describe('withTransaction with an advisory lock', () => {
  const pool = new Pool({ connectionString: `${PG_BASE}/postgres`, max: 4 });
  const key = 4242_0000 + Math.floor(Math.random() * 1000);
  afterAll(() => pool.end());

  it('holds the lock until commit: a second transaction waits for the first', async () => {
    const order: string[] = [];
    let releaseFirst!: () => void;
    const firstHolds = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstIn!: () => void;
    const entered = new Promise<void>((resolve) => (firstIn = resolve));
    const first = withTransaction(pool, async (tx) => {
      order.push('first in');
      firstIn();
      await firstHolds;
      expect((await tx.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")).rows[0]!.n).toBe('1');
      order.push('first out');
    }, { advisoryLock: key });
    await entered;
    const second = withTransaction(pool, async () => {
      order.push('second in');
    }, { advisoryLock: key });
    await new Promise((r) => setTimeout(r, 100));
    expect(order).toEqual(['first in']);
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'first out', 'second in']);
  });

  it('gives the lock up when the transaction rolls back', async () => {
    await expect(withTransaction(pool, async (tx) => {
      await tx.query('SELECT 1');
      throw new Error('boom');
    }, { advisoryLock: key })).rejects.toThrow('boom');
    // Session-level try from another connection succeeds only if no transaction holds it.
    const client = await pool.connect();
    try {
      expect((await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1) AS got', [key])).rows[0]!.got).toBe(true);
      await client.query('SELECT pg_advisory_unlock($1)', [key]);
    } finally {
      client.release();
    }
  });

  it('refuses a key that is not an integer before taking a connection', async () => {
    await expect(withTransaction(pool, async () => undefined, { advisoryLock: 1.5 })).rejects.toThrow(/not an integer/);
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });
});
