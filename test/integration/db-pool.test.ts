import { createPool } from '../../src/platform/db';
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
});
