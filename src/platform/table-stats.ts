/**
 * Statistics for tables that are still growing fast. The hot write statements are prepared once
 * per connection, and Postgres keeps a prepared statement's generic plan until the statistics
 * of its tables change. A plan made while a table was nearly empty (a new deployment's first
 * minutes) reads it in full — a sequential scan of every interaction for each batch of texts —
 * until autovacuum gets round to it, which it had not within a 40-second load on a fresh
 * database. So a sweep step analyzes each table whose changes since its last ANALYZE exceed its
 * size then (it has doubled, or it never was): about a dozen times while a table grows to a
 * million rows, after which autovacuum's own threshold is the sooner one. ANALYZE samples, takes
 * no lock that writers wait for, and invalidates the cached plans of every connection; a table
 * another process is analyzing at that moment is skipped rather than waited for (the sweep's
 * other steps run after this one).
 */
import type { Queryable } from './db';

/** The tables the hot write paths read by key. */
export const GROWING_TABLES = ['customers', 'customer_identities', 'interactions', 'events', 'offers', 'agent_changes'];

/** Below this many changes a table is left to autovacuum. */
export const MIN_CHANGES = 500;

/** The given tables (of the current schema) that have doubled since their statistics were taken. */
export async function tablesOutgrowingStats(db: Queryable, tables: string[], minChanges = MIN_CHANGES): Promise<string[]> {
  const { rows } = await db.query<{ relname: string }>({
    name: 'table-stats.outgrown',
    text: `SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
            WHERE s.schemaname = current_schema() AND s.relname = ANY($1::text[])
              AND s.n_mod_since_analyze >= greatest($2::bigint, c.reltuples::bigint)
            ORDER BY s.relname`,
    values: [tables, minChanges],
  });
  return rows.map((r) => r.relname);
}

/** ANALYZE the tables that have outgrown their statistics; the names analyzed. */
export async function analyzeOutgrownTables(db: Queryable, tables: string[] = GROWING_TABLES, minChanges = MIN_CHANGES): Promise<string[]> {
  const outgrown = await tablesOutgrowingStats(db, tables, minChanges);
  // Names come from the catalog and the fixed list above, never from input; quoted all the same.
  for (const name of outgrown) await db.query(`ANALYZE (SKIP_LOCKED) "${name.replace(/"/g, '""')}"`);
  return outgrown;
}
