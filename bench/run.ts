/**
 * `npm run bench`: starts the real service on a fresh database for each scenario, drives it from
 * separate processes, and measures each scenario against a raw baseline in the same run (the
 * machines are shared and noisy, so ratios are what to compare). Prints a table and writes
 * bench/results/<timestamp>.json. See bench/README.md.
 *
 * BENCH_ONLY=routing,chat picks scenarios (ingest, routing, chat, footprint; default all).
 * Sizes: BENCH_SECONDS, BENCH_RATES (ingest); BENCH_AGENTS, BENCH_WAITING, BENCH_SAMPLES (routing);
 * BENCH_CHATS, BENCH_CHAT_AGENTS, BENCH_CHAT_SECONDS, BENCH_CHAT_INTERVAL_MS (chat);
 * BENCH_FP_AGENTS, BENCH_FP_VISITORS, BENCH_FP_OPEN_CHATS, BENCH_FP_PROCESSES (footprint).
 * BENCH_PROFILE=1 runs the routing and chat services under --cpu-prof and prints where their CPU went;
 * BENCH_EXPLAIN=1 captures the router's query plans at the largest queue.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { ROOT } from '../test/support/process';
import { machine, table, writeResults, type Row, type ScenarioResult } from './lib/results';
import { describeSpeed, measureMachineSpeed } from './lib/machine-speed';
import { ingestScenario } from './scenarios/ingest';
import { routingScenario } from './scenarios/routing';
import { chatScenario } from './scenarios/chat';
import { footprintScenario } from './scenarios/footprint';

const env = process.env;
const list = (v: string | undefined, def: string): number[] => (v ?? def).split(',').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n) && n > 0);
const num = (v: string | undefined, def: number): number => (v !== undefined && Number.isFinite(Number(v)) ? Number(v) : def);

const ALL = ['ingest', 'routing', 'chat', 'footprint'] as const;
type Name = (typeof ALL)[number];

async function main(): Promise<void> {
  const only = (env.BENCH_ONLY ?? ALL.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((s) => !(ALL as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`BENCH_ONLY names unknown scenarios: ${unknown.join(', ')} (known: ${ALL.join(', ')})`);
  const m = machine();
  const at = new Date().toISOString();
  process.stdout.write(`Switchboard bench on ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, node ${m.node}, load ${JSON.stringify(m.loadAverageAtStart)}, commit ${m.commit}${m.uncommittedChangesInSrc ? ' + uncommitted changes in src' : ''}\n`);

  // Which kind of VM this is (see bench/lib/machine-speed.ts), before any scenario loads it.
  const speed = await measureMachineSpeed();
  process.stdout.write(`${describeSpeed(speed)}\n`);

  const profileDir = env.BENCH_PROFILE ? path.join(ROOT, 'bench/results', `profile-${at.replace(/[:.]/g, '-')}`) : null;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const scenarios: Record<Name, () => Promise<ScenarioResult>> = {
    ingest: () => ingestScenario({ seconds: num(env.BENCH_SECONDS, 5), rates: list(env.BENCH_RATES, '250,500,1000,2000,3000,4000,5000,6000,8000,10000'), inflight: num(env.BENCH_INGEST_INFLIGHT, 512), profileDir }),
    routing: () => routingScenario({ agents: list(env.BENCH_AGENTS, '100,1000'), waiting: list(env.BENCH_WAITING, '100,1000,10000'), samples: num(env.BENCH_SAMPLES, 1000), profileDir, explain: Boolean(env.BENCH_EXPLAIN) }),
    chat: () => chatScenario({ chats: num(env.BENCH_CHATS, 1000), agents: num(env.BENCH_CHAT_AGENTS, 100), seconds: num(env.BENCH_CHAT_SECONDS, 30), intervalMs: num(env.BENCH_CHAT_INTERVAL_MS, 10000), profileDir }),
    footprint: () => footprintScenario({ agents: num(env.BENCH_FP_AGENTS, 2000), visitors: num(env.BENCH_FP_VISITORS, 5000), openChats: num(env.BENCH_FP_OPEN_CHATS, 1000), processes: num(env.BENCH_FP_PROCESSES, 1) }),
  };

  const results: Record<string, unknown> = { at, machine: { ...m, speed } };
  const rows: Row[] = [];
  for (const name of ALL) {
    if (!only.includes(name)) continue;
    process.stdout.write(`\n${name}\n`);
    const started = Date.now();
    try {
      const r = await scenarios[name]();
      results[name] = { ...r.data, rows: r.rows, seconds: (Date.now() - started) / 1000 };
      rows.push(...r.rows);
    } catch (err) {
      process.stderr.write(`${name} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      results[name] = { error: err instanceof Error ? err.message : String(err) };
      rows.push({ scenario: name, measure: 'FAILED (see the log above)', ours: 'n/a', baseline: 'n/a', ratio: null });
    }
  }
  const file = writeResults(results);
  process.stdout.write(`\n${table(rows)}\n\nwritten to ${file}\n`);
  if (rows.some((r) => r.measure.startsWith('FAILED'))) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
