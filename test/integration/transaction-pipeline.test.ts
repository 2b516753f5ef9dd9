import { Client } from 'pg';
import { createPool, RolledBackAtCommit, withTransaction } from '../../src/platform/db';
import { endPool, PG_BASE, testConfig, uniqueName } from '../support/env';

// On the service's (pipelined) pool a transaction's first statement goes out right behind its
// BEGIN and lock, without waiting for their answer. It must still run inside the transaction and
// after the lock, and nothing behind a lock that fails may be written.
describe('withTransaction on a pipelined pool', () => {
  const url = `${PG_BASE}/postgres`;
  const pool = createPool({ ...testConfig(), databaseUrl: url, dbPoolSize: 2, dbStatementTimeoutMs: 300 });
  const other = new Client({ connectionString: url });
  const table = uniqueName('sb_pipeline');
  const key = 4343_0000 + Math.floor(Math.random() * 1000);

  beforeAll(async () => {
    await other.connect();
    await other.query(`CREATE TABLE "${table}" (n int)`);
  });
  afterAll(async () => {
    await other.query(`DROP TABLE IF EXISTS "${table}"`);
    await other.end();
    await endPool(pool);
  });

  it('sends the first statement before the lock is granted; it runs after the lock, in the transaction', async () => {
    await other.query('SELECT pg_advisory_lock($1)', [key]);
    let called = false;
    let answered = false;
    const done = withTransaction(pool, async (tx) => {
      called = true;
      const first = await tx.query<{ xid: string; held: string }>(
        "SELECT pg_current_xact_id()::text AS xid, (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted)::text AS held",
      );
      answered = true;
      const second = await tx.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
      return { first: first.rows[0]!, second: second.rows[0]! };
    }, { advisoryLock: key });
    await new Promise((r) => setTimeout(r, 150));
    // Not pipelined, the caller's function would only run once BEGIN and the lock had answered.
    expect(called).toBe(true);
    expect(answered).toBe(false);
    await other.query('SELECT pg_advisory_unlock($1)', [key]);
    const { first, second } = await done;
    expect(first.held).toBe('1');
    expect(second.xid).toBe(first.xid);
  });

  it('writes nothing behind a lock that fails (its error is the one thrown)', async () => {
    await other.query('SELECT pg_advisory_lock($1)', [key]);
    try {
      await expect(
        withTransaction(pool, async (tx) => {
          await tx.query(`INSERT INTO "${table}" (n) VALUES (1)`);
          await tx.query(`INSERT INTO "${table}" (n) VALUES (2)`);
        }, { advisoryLock: key }),
      ).rejects.toThrow(/statement timeout/);
    } finally {
      await other.query('SELECT pg_advisory_unlock($1)', [key]);
    }
    expect((await other.query(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n).toBe(0);
    // The connection is usable again, and a transaction on it commits.
    await withTransaction(pool, (tx) => tx.query(`INSERT INTO "${table}" (n) VALUES (3)`), { advisoryLock: key });
    expect((await other.query(`SELECT n FROM "${table}"`)).rows).toEqual([{ n: 3 }]);
  });

  it('rolls back when the first statement fails, and the error is that statement\'s', async () => {
    await expect(withTransaction(pool, async (tx) => {
      await tx.query(`INSERT INTO "${table}" (n) VALUES ('not a number')`);
    })).rejects.toThrow(/invalid input syntax/);
    await expect(withTransaction(pool, async (tx) => {
      await tx.query(`INSERT INTO "${table}" (n) VALUES (4)`);
      throw new Error('changed my mind');
    })).rejects.toThrow('changed my mind');
    expect((await other.query(`SELECT n FROM "${table}" ORDER BY n`)).rows).toEqual([{ n: 3 }]);
  });

  const rows = async () => (await other.query<{ n: number }>(`SELECT n FROM "${table}" ORDER BY n`)).rows.map((r) => r.n);

  it('sends COMMIT behind the statements issued, before their answers, and commits them', async () => {
    await other.query(`DELETE FROM "${table}"`);
    await other.query('SELECT pg_advisory_lock($1)', [key]);
    const log: string[] = [];
    let patched: { query?: unknown } | undefined;
    let done: Promise<string>;
    try {
      done = withTransaction(pool, async (tx, end) => {
        const query = tx.query.bind(tx) as (text: string) => Promise<unknown>;
        const send = (text: string) => {
          log.push(text);
          return query(text);
        };
        // Waits for the other session's lock, so nothing can answer before it is released.
        const held = send(`SELECT pg_advisory_xact_lock(${key})`).then(() => log.push('answered'));
        const written = send(`INSERT INTO "${table}" (n) VALUES (5)`);
        // Only for what withTransaction sends from here on (COMMIT); undone below.
        patched = tx as unknown as { query?: typeof send };
        patched.query = send;
        end.commitBehind();
        end.commitBehind(); // once only
        await Promise.all([held, written]);
        return 'kept';
      });
      await new Promise((r) => setTimeout(r, 150));
      expect(log).toEqual([`SELECT pg_advisory_xact_lock(${key})`, `INSERT INTO "${table}" (n) VALUES (5)`, 'COMMIT']);
    } finally {
      await other.query('SELECT pg_advisory_unlock($1)', [key]);
    }
    await expect(done).resolves.toBe('kept');
    delete patched?.query;
    expect(log.at(-1)).toBe('answered');
    expect(await rows()).toEqual([5]);
    // The connection went back to the pool outside any transaction: a write on it is seen at once.
    await Promise.all([pool.query(`INSERT INTO "${table}" (n) VALUES (6)`), pool.query(`INSERT INTO "${table}" (n) VALUES (6)`)]);
    expect(await rows()).toEqual([5, 6, 6]);
  });

  it('with COMMIT sent behind, a failing statement rolls everything back and its error is thrown', async () => {
    await other.query(`DELETE FROM "${table}"`);
    await expect(withTransaction(pool, async (tx, end) => {
      const first = tx.query(`INSERT INTO "${table}" (n) VALUES (7)`);
      const failing = tx.query(`INSERT INTO "${table}" (n) VALUES ('not a number')`);
      const behind = tx.query(`INSERT INTO "${table}" (n) VALUES (8)`);
      end.commitBehind();
      await Promise.all([first, failing, behind]);
    })).rejects.toThrow(/invalid input syntax/);
    expect(await rows()).toEqual([]);
  });

  it('never reports a commit for a transaction that went on after a failed statement', async () => {
    await other.query(`DELETE FROM "${table}"`);
    for (const sendBehind of [false, true]) {
      await expect(withTransaction(pool, async (tx, end) => {
        await tx.query(`INSERT INTO "${table}" (n) VALUES (9)`);
        await tx.query(`INSERT INTO "${table}" (n) VALUES ('not a number')`).catch(() => undefined);
        if (sendBehind) end.commitBehind();
        return 'done';
      })).rejects.toThrow(RolledBackAtCommit);
    }
    expect(await rows()).toEqual([]);
    await withTransaction(pool, (tx) => tx.query(`INSERT INTO "${table}" (n) VALUES (10)`));
    expect(await rows()).toEqual([10]);
  });
});
