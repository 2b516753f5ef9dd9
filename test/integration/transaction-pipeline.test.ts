import type { Socket } from 'node:net';
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

  it('sends BEGIN with the statements the body issues before it first waits in one write, and what it issues together in one write', async () => {
    // The pool's only connection, its writes recorded (the statements each write carries).
    const one = createPool({ ...testConfig(), databaseUrl: url, dbPoolSize: 1 });
    const writes: string[] = [];
    try {
      const c = await one.connect();
      type Chunks = Array<{ chunk: Buffer | string }>;
      const stream = (c as unknown as { connection: { stream: Socket & { _writev(chunks: Chunks, cb: (err?: Error | null) => void): void } } }).connection.stream;
      const writev = stream._writev.bind(stream);
      const write = stream._write.bind(stream);
      stream._writev = (chunks, cb) => {
        writes.push(chunks.map((x) => x.chunk.toString()).join(''));
        writev(chunks, cb);
      };
      stream._write = (chunk: Buffer | string, encoding: BufferEncoding, cb: (err?: Error | null) => void) => {
        writes.push(chunk.toString());
        write(chunk, encoding, cb);
      };
      c.release();
      const answers = await withTransaction(one, async (tx, end) => {
        const first = [tx.query("SELECT 'first-a' AS x"), tx.query({ name: 'pipeline.first-b', text: "SELECT 'first-b' AS x" })];
        await Promise.all(first);
        const then = end.together(() => {
          const sent = [tx.query("SELECT 'then-a' AS x"), tx.query({ name: 'pipeline.then-b', text: 'SELECT $1::text AS x', values: ['then-b'] })];
          end.commitBehind();
          return sent;
        });
        return (await Promise.all([...first, ...then])).map((r) => r.rows[0].x);
      }, { advisoryLock: key + 1 });
      expect(answers).toEqual(['first-a', 'first-b', 'then-a', 'then-b']);
    } finally {
      await endPool(one);
    }
    const carrying = (text: string) => writes.filter((w) => w.includes(text));
    expect(carrying('BEGIN')).toHaveLength(1);
    expect(carrying('BEGIN')[0]).toEqual(expect.stringContaining('first-a'));
    expect(carrying('BEGIN')[0]).toEqual(expect.stringContaining('first-b'));
    expect(carrying('then-a')).toHaveLength(1);
    expect(carrying('then-a')[0]).toEqual(expect.stringContaining('SELECT $1::text'));
    expect(carrying('then-a')[0]).toEqual(expect.stringContaining('COMMIT'));
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

  it('sends a read behind the COMMIT before any answer; it sees what was committed, outside the transaction', async () => {
    await other.query(`DELETE FROM "${table}"`);
    await other.query('SELECT pg_advisory_lock($1)', [key]);
    const log: unknown[] = [];
    let patched: { query?: unknown } | undefined;
    let read!: Promise<{ n: number; xid: string | null }>;
    let readSettled = false;
    let done: Promise<string>;
    try {
      done = withTransaction(pool, async (tx, end) => {
        expect(() => end.behindCommit((db) => db.query('SELECT 1'))).toThrow(/before commitBehind/);
        const query = tx.query.bind(tx) as (text: unknown) => Promise<unknown>;
        const send = (text: unknown) => {
          log.push(text);
          return query(text);
        };
        // Waits for the other session's lock, so nothing can answer before it is released.
        const held = send(`SELECT pg_advisory_xact_lock(${key})`);
        const written = send(`INSERT INTO "${table}" (n) VALUES (11)`);
        patched = tx as unknown as { query?: typeof send };
        patched.query = send;
        end.commitBehind();
        read = end.behindCommit(async (db) => {
          const { rows } = await db.query<{ n: number; xid: string | null }>({
            name: 'pipeline.behind-commit',
            text: `SELECT (SELECT count(*)::int FROM "${table}" WHERE n = 11) AS n, pg_current_xact_id_if_assigned()::text AS xid`,
          });
          return rows[0]!;
        });
        void read.finally(() => (readSettled = true));
        await Promise.all([held, written]);
        return 'kept';
      });
      await new Promise((r) => setTimeout(r, 150));
      // All four are out while the first still waits for the lock.
      expect(log).toEqual([`SELECT pg_advisory_xact_lock(${key})`, `INSERT INTO "${table}" (n) VALUES (11)`, 'COMMIT', expect.objectContaining({ name: 'pipeline.behind-commit' })]);
      expect(readSettled).toBe(false);
    } finally {
      await other.query('SELECT pg_advisory_unlock($1)', [key]);
    }
    await expect(done).resolves.toBe('kept');
    delete patched?.query;
    // Run after the COMMIT: the row is there, and the read had no transaction id of its own to share.
    await expect(read).resolves.toEqual({ n: 1, xid: null });
    expect(readSettled).toBe(true);
    // The connection goes back to the pool, outside any transaction, and serves others.
    await Promise.all([pool.query(`INSERT INTO "${table}" (n) VALUES (12)`), pool.query(`INSERT INTO "${table}" (n) VALUES (12)`)]);
    expect(await rows()).toEqual([11, 12, 12]);
  });

  it('behind a failed transaction the read sees none of it; a failing read fails only its caller', async () => {
    await other.query(`DELETE FROM "${table}"`);
    let read!: Promise<number>;
    await expect(withTransaction(pool, async (tx, end) => {
      const first = tx.query(`INSERT INTO "${table}" (n) VALUES (13)`);
      const failing = tx.query(`INSERT INTO "${table}" (n) VALUES ('not a number')`);
      end.commitBehind();
      read = end.behindCommit(async (db) => (await db.query<{ n: number }>({ name: 'pipeline.behind-count', text: `SELECT count(*)::int AS n FROM "${table}"` })).rows[0]!.n);
      await Promise.all([first, failing]);
    })).rejects.toThrow(/invalid input syntax/);
    await expect(read).resolves.toBe(0);
    let failingRead!: Promise<unknown>;
    await expect(withTransaction(pool, async (tx, end) => {
      const written = tx.query(`INSERT INTO "${table}" (n) VALUES (14)`);
      end.commitBehind();
      failingRead = end.behindCommit((db) => db.query({ name: 'pipeline.behind-fails', text: 'SELECT 1 / 0 AS x' }));
      failingRead.catch(() => undefined);
      await written;
      return 'kept';
    })).resolves.toBe('kept');
    await expect(failingRead).rejects.toThrow(/division by zero/);
    expect(await rows()).toEqual([14]);
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
