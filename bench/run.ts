/**
 * `npm run bench`: starts the real service on a fresh database, drives it, and measures each
 * scenario against a raw baseline measured in the same run (the machines are shared and noisy,
 * so ratios are what to compare). Prints a table and writes bench/results/<timestamp>.json.
 *
 * Scenarios so far: ingest (signed SMS webhooks at rising rates). See bench/README.md.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { freePort, ROOT, startService, type ServiceProcess } from '../test/support/process';
import { dropDatabase, testEnv, ADMIN_PASSWORD } from '../test/support/env';

const AUTH_TOKEN = 'bench-auth-token-0123456789abcdef';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = 64;
const RATES = (process.env.BENCH_RATES ?? '250,500,1000,2000,3000,5000,8000').split(',').map(Number);

function runTsx(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').at(-1) ?? '') : reject(new Error(`${args[0]} exited ${code}`))));
  });
}

async function post(base: string, p: string, token: string | null, body: unknown): Promise<any> {
  const res = await fetch(`${base}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  return res.json();
}

async function ingestScenario(): Promise<Record<string, unknown>> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = testEnv({ PORT: String(port), LOG_LEVEL: 'warn', PUBLIC_BASE_URL: base, TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, TWILIO_AUTH_TOKEN: AUTH_TOKEN, DB_POOL_SIZE: '10' });
  const service: ServiceProcess = startService(env);
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: 2 });
  try {
    for (let i = 0; i < 600; i++) {
      if ((await fetch(`${base}/health/ready`).then((r) => r.status, () => 0)) === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const admin = (await post(base, '/api/auth/login', null, { username: 'admin', password: ADMIN_PASSWORD })).token;
    const queue = await post(base, '/api/queues', admin, { name: 'bench' });
    await post(base, '/api/entry-points', admin, { channel: 'sms', address: '+15005550006', queueId: queue.id });

    // Warm-up (JIT, pools, caches); not counted.
    await runTsx(['bench/load/webhooks.ts', `${base}/twilio/sms`, '200', '3', String(CONCURRENCY), AUTH_TOKEN, base, 'wux']);
    const steps: Array<Record<string, unknown>> = [];
    let best: Record<string, unknown> | null = null;
    for (const [k, rate] of RATES.entries()) {
      const runId = `r${k}x`;
      const r = JSON.parse(await runTsx(['bench/load/webhooks.ts', `${base}/twilio/sms`, String(rate), String(SECONDS), String(CONCURRENCY), AUTH_TOKEN, base, runId]));
      const { rows } = await pool.query("SELECT count(*)::int AS n FROM events WHERE type = 'message.received' AND payload ->> 'providerId' LIKE $1", [`SM${runId}%`]);
      const step = { rate, ...r, stored: rows[0].n, storedOnce: rows[0].n === r.ok };
      const sustained = r.failed === 0 && r.dropped === 0 && r.achieved >= rate * 0.95 && r.p99 < 500 && step.storedOnce;
      steps.push({ ...step, sustained });
      process.stdout.write(`  ingest ${rate}/s: achieved ${r.achieved.toFixed(0)}/s p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms failed ${r.failed} dropped ${r.dropped} stored-once ${step.storedOnce}\n`);
      if (!sustained) break;
      best = { ...step };
    }
    await service.stop('SIGTERM');

    // Baselines, same machine, same run.
    const pg = JSON.parse(await runTsx(['bench/baselines/pg-insert.ts', env.DATABASE_URL!, '10', String(SECONDS)]));
    const fport = await freePort();
    const fastify = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['bench/baselines/empty-fastify.ts', String(fport)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => fastify.stdout.once('data', resolve));
    const empty = JSON.parse(await runTsx(['bench/load/webhooks.ts', `http://127.0.0.1:${fport}/twilio/sms`, '0', String(SECONDS), String(CONCURRENCY), '', '', 'b0x']));
    fastify.kill('SIGKILL');

    const bestRate = (best?.achieved as number | undefined) ?? 0;
    return {
      steps,
      bestSustainedPerSecond: bestRate,
      bestP50Ms: best?.p50 ?? null,
      bestP99Ms: best?.p99 ?? null,
      baselinePgInsertsPerSecond: pg.perSecond,
      baselineEmptyFastifyPerSecond: empty.achieved,
      ratioToPgInserts: pg.perSecond ? bestRate / pg.perSecond : null,
      ratioToEmptyFastify: empty.achieved ? bestRate / empty.achieved : null,
    };
  } finally {
    await service.stop('SIGKILL');
    await pool.end();
    await dropDatabase(env.DATABASE_URL!);
  }
}

async function main(): Promise<void> {
  const machine = { host: os.hostname(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
  process.stdout.write(`Switchboard bench on ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB, node ${machine.node}\n`);
  const ingest = await ingestScenario();
  const results = { at: new Date().toISOString(), machine, seconds: SECONDS, concurrency: CONCURRENCY, ingest };
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  const file = path.join(ROOT, 'bench/results', `${results.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  const f = (n: unknown, d = 0) => (typeof n === 'number' ? n.toFixed(d) : 'n/a');
  process.stdout.write(
    [
      '',
      '| scenario | ours | baseline | ratio |',
      '|---|---|---|---|',
      `| ingest: signed SMS webhooks stored once, sustained/s (p50 ${f(ingest.bestP50Ms, 1)} ms, p99 ${f(ingest.bestP99Ms, 1)} ms) | ${f(ingest.bestSustainedPerSecond)} | raw idempotent inserts, 10 conns: ${f(ingest.baselinePgInsertsPerSecond)} | ${f(ingest.ratioToPgInserts, 2)} |`,
      `| ingest vs. an empty fastify POST (closed loop, ${CONCURRENCY} conns) | ${f(ingest.bestSustainedPerSecond)} | ${f(ingest.baselineEmptyFastifyPerSecond)} | ${f(ingest.ratioToEmptyFastify, 2)} |`,
      '',
      `written to ${path.relative(ROOT, file)}`,
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
