import type { Pool } from 'pg';
import { createPool, startupOptions, withTransaction } from '../../src/platform/db';
import { testConfig } from '../support/env';

// The service's pool: every connection, new or reused, runs without JIT compilation.
describe('the database pool', () => {
  it('turns JIT off on each connection before its first query', async () => {
    const pool = createPool({ ...testConfig(), databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres', dbPoolSize: 3 });
    try {
      const seen = await Promise.all(Array.from({ length: 6 }, () => pool.query<{ jit: string }>('SHOW jit')));
      expect(seen.map((r) => r.rows[0]!.jit)).toEqual(Array(6).fill('off'));
      expect(pool.totalCount).toBeGreaterThan(1);
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        expect((await client.query<{ jit: string }>('SHOW jit')).rows[0]!.jit).toBe('off');
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it('keeps the options a DATABASE_URL or PGOPTIONS gives beside its own', async () => {
    const show = async (pool: Pool, name: string) => (await pool.query(`SHOW ${name}`)).rows[0][name];
    const base = 'postgres://postgres@127.0.0.1:5432/postgres';
    const fromUrl = createPool({ ...testConfig(), databaseUrl: `${base}?options=${encodeURIComponent('-c work_mem=7MB')}`, dbPoolSize: 1 }, { genericPlans: true });
    try {
      expect([await show(fromUrl, 'work_mem'), await show(fromUrl, 'jit'), await show(fromUrl, 'plan_cache_mode')]).toEqual(['7MB', 'off', 'force_generic_plan']);
    } finally {
      await fromUrl.end();
    }
    expect(startupOptions(base, '-c jit=off', '-c work_mem=9MB')).toEqual({ connectionString: base, options: '-c jit=off -c work_mem=9MB' });
    // The operator's word wins where both set the same thing.
    expect(startupOptions(`${base}?options=-c%20jit%3Don&sslmode=disable`, '-c jit=off', undefined)).toEqual({
      connectionString: `${base}?sslmode=disable`, options: '-c jit=off -c jit=on',
    });
  });

  it('runs a transaction on generic plans only when asked, and only for that transaction', async () => {
    const pool = createPool({ ...testConfig(), databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres', dbPoolSize: 1 });
    const mode = async (q: { query: typeof pool.query }) => (await q.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0]!.plan_cache_mode;
    try {
      expect(await withTransaction(pool, (tx) => mode(tx), { genericPlans: true })).toBe('force_generic_plan');
      // With the advisory lock taken in the same round trip, which is held until commit.
      const locked = await withTransaction(pool, async (tx) => ({
        mode: await mode(tx),
        held: (await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")).rows[0]!.n,
      }), { genericPlans: true, advisoryLock: 4242 });
      expect(locked).toEqual({ mode: 'force_generic_plan', held: 1 });
      // The one connection, after those commits and by default: Postgres's own choice.
      expect(await mode(pool)).toBe('auto');
      expect(await withTransaction(pool, (tx) => mode(tx))).toBe('auto');
      await expect(withTransaction(pool, async (tx) => {
        await tx.query('SELECT 1');
        throw new Error('roll back');
      }, { genericPlans: true })).rejects.toThrow('roll back');
      expect(await mode(pool)).toBe('auto');
    } finally {
      await pool.end();
    }
  });

  it('commits without waiting for the WAL only in a transaction that asks, and only that one', async () => {
    const pool = createPool({ ...testConfig(), databaseUrl: 'postgres://postgres@127.0.0.1:5432/postgres', dbPoolSize: 1 });
    const sync = async (q: { query: Pool['query'] }) => (await q.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit;
    try {
      expect(await withTransaction(pool, (tx) => sync(tx), { asyncCommit: true, genericPlans: true, advisoryLock: 4245 })).toBe('off');
      expect(await sync(pool)).toBe('on');
      expect(await withTransaction(pool, (tx) => sync(tx))).toBe('on');
    } finally {
      await pool.end();
    }
  });

  describe('on generic plans (the router\'s connections)', () => {
    const url = 'postgres://postgres@127.0.0.1:5432/postgres';
    const mode = async (q: { query: Pool['query'] }) => (await q.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0]!.plan_cache_mode;

    it('runs named statements on generic plans in and out of transactions, and transactions as usual', async () => {
      const pool = createPool({ ...testConfig(), databaseUrl: url, dbPoolSize: 5 }, { max: 1, genericPlans: true });
      try {
        expect(await mode(pool)).toBe('force_generic_plan');
        expect((await pool.query<{ jit: string }>('SHOW jit')).rows[0]!.jit).toBe('off');
        const held = await withTransaction(pool, async (tx) => (await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")).rows[0]!.n, { advisoryLock: 4243 });
        expect(held).toBe(1);
        await expect(withTransaction(pool, async (tx) => {
          await tx.query('CREATE TEMP TABLE pipelined_rollback (n int)');
          throw new Error('roll back');
        })).rejects.toThrow('roll back');
        expect((await pool.query("SELECT to_regclass('pg_temp.pipelined_rollback') IS NULL AS gone")).rows[0]).toEqual({ gone: true });
      } finally {
        await pool.end();
      }
    });
  });
});
