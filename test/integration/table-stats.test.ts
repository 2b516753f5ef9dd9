import { Pool } from 'pg';
import { ensureDatabase } from '../../src/platform/db';
import { migrate } from '../../src/platform/migrate';
import { analyzeOutgrownTables, tablesOutgrowingStats } from '../../src/platform/table-stats';
import { dropDatabase, endPool, testEnv } from '../support/env';

// A generic plan made while a table was nearly empty scans it in full until its statistics
// change; the sweep analyzes tables that have outgrown theirs, so cached plans are made again.
describe('tables that outgrow their statistics', () => {
  const url = testEnv().DATABASE_URL!;
  let pool: Pool;

  beforeAll(async () => {
    await ensureDatabase(url);
    pool = new Pool({ connectionString: url, max: 2 });
    pool.on('error', () => undefined);
    await migrate(pool);
  });

  afterAll(async () => {
    await endPool(pool);
    await dropDatabase(url);
  });

  /** Changes reach pg_stat_user_tables when a backend reports them (within about a second). */
  async function outgrownWithin(ms: number, tables: string[], minChanges: number): Promise<string[]> {
    const deadline = Date.now() + ms;
    let seen: string[] = [];
    while (Date.now() < deadline) {
      seen = await tablesOutgrowingStats(pool, tables, minChanges);
      if (seen.length > 0) return seen;
      await new Promise((r) => setTimeout(r, 200));
    }
    return seen;
  }

  const stats = async (table: string) =>
    (await pool.query<{ n: string; analyzed: boolean }>('SELECT n_mod_since_analyze::text AS n, last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = $1', [table])).rows[0]!;

  it('analyzes a table once it has doubled since its statistics, and leaves it until it doubles again', async () => {
    const table = ['customers'];
    expect(await tablesOutgrowingStats(pool, table, 100)).toEqual([]);
    await pool.query('INSERT INTO customers (name) SELECT $1 || g FROM generate_series(1, 300) g', ['c']);
    expect(await outgrownWithin(10_000, table, 100)).toEqual(['customers']);

    expect(await analyzeOutgrownTables(pool, table, 100)).toEqual(['customers']);
    const after = await stats('customers');
    expect(after.analyzed).toBe(true);
    expect(after.n).toBe('0');
    // 300 rows analyzed: another 200 is not yet double.
    await pool.query('INSERT INTO customers (name) SELECT $1 || g FROM generate_series(1, 200) g', ['d']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await analyzeOutgrownTables(pool, table, 100)).toEqual([]);
    await pool.query('INSERT INTO customers (name) SELECT $1 || g FROM generate_series(1, 150) g', ['e']);
    expect(await outgrownWithin(10_000, table, 100)).toEqual(['customers']);
  });

  it('leaves small changes to autovacuum, and tables not asked about alone', async () => {
    await pool.query('INSERT INTO queues (name) SELECT $1 || g FROM generate_series(1, 50) g', ['q']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await tablesOutgrowingStats(pool, ['queues'], 100)).toEqual([]);
    await pool.query('INSERT INTO queues (name) SELECT $1 || g FROM generate_series(51, 400) g', ['q']);
    expect(await outgrownWithin(10_000, ['queues'], 100)).toEqual(['queues']);
    expect(await analyzeOutgrownTables(pool, ['interactions'], 100)).toEqual([]);
    expect((await stats('queues')).analyzed).toBe(false);
  });
});
