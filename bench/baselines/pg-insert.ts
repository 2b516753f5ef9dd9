/**
 * Baseline: raw idempotent single-row inserts (INSERT … ON CONFLICT DO NOTHING) with N pooled
 * connections for a fixed time. Usage: tsx pg-insert.ts <databaseUrl> <connections> <seconds>
 */
import { Pool } from 'pg';

async function main(): Promise<void> {
  const [url, connArg, secondsArg] = process.argv.slice(2) as [string, string, string];
  const pool = new Pool({ connectionString: url, max: Number(connArg) });
  await pool.query('CREATE TABLE IF NOT EXISTS bench_baseline (key text PRIMARY KEY, body text NOT NULL, at timestamptz NOT NULL DEFAULT now())');
  let n = 0;
  const end = Date.now() + Number(secondsArg) * 1000;
  await Promise.all(Array.from({ length: Number(connArg) }, async (_, w) => {
    while (Date.now() < end) {
      await pool.query('INSERT INTO bench_baseline (key, body) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [`${w}-${n}`, 'load message']);
      n++;
    }
  }));
  await pool.query('DROP TABLE bench_baseline');
  await pool.end();
  process.stdout.write(`${JSON.stringify({ inserts: n, perSecond: n / Number(secondsArg) })}\n`);
}
void main();
