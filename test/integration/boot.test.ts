import { Pool } from 'pg';
import { freePort, startService, type ServiceProcess } from '../support/process';
import { dropDatabase, endPool, testEnv } from '../support/env';
import { clearRedisPrefix } from '../support/app';
import { loadConfig } from '../../src/platform/config';


const listening = (rec: Record<string, unknown>) => typeof rec.msg === 'string' && rec.msg.startsWith('Server listening');
const migrated = (rec: Record<string, unknown>) => rec.msg === 'migrations applied' || rec.msg === 'schema up to date';

describe('npm start (the README start command)', () => {
  const env = testEnv({ LOG_LEVEL: 'info' });
  const running: ServiceProcess[] = [];

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL')));
    await dropDatabase(env.DATABASE_URL!);
    await clearRedisPrefix(loadConfig(env));
  });

  async function start(extra: Record<string, string> = {}) {
    const port = await freePort();
    const p = startService({ ...env, PORT: String(port), ...extra });
    running.push(p);
    await p.waitForLog(listening);
    return { p, port };
  }

  it('creates and migrates an empty database, serves, and shuts down gracefully', async () => {
    const { p, port } = await start();
    expect(p.logs().some((r) => r.msg === 'database created')).toBe(true);
    expect(p.logs().find(migrated)).toMatchObject({ msg: 'migrations applied', applied: expect.any(Number) });
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
    expect(ready.status).toBe(200);
    const docs = await fetch(`http://127.0.0.1:${port}/docs/json`);
    expect(((await docs.json()) as { paths: object }).paths).toHaveProperty(['/api/customers/{id}/history']);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('switchboard_http_request_duration_seconds');
    // npm start builds the console and wallboard first (npm run build:web) and serves them.
    const page = await fetch(`http://127.0.0.1:${port}/console`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/web/console-');
    // SIGTERM goes to the whole process group (npm, sh, node), as a container runtime would send it.
    await p.stop('SIGTERM');
    await p.waitForLog((r) => r.msg === 'stopped', 15000);
    expect(p.logs().find((r) => r.msg === 'shutting down')).toMatchObject({ signal: 'SIGTERM' });
  });

  it('migrates nothing on a second start', async () => {
    const { p } = await start();
    expect(p.logs().find(migrated)).toMatchObject({ msg: 'schema up to date', applied: 0 });
    expect(p.logs().some((r) => r.msg === 'database created')).toBe(false);
    await p.stop();
    await p.waitForLog((r) => r.msg === 'stopped', 15000);
  });

  it('brings two processes started at the same moment up on a fresh database', async () => {
    const fresh = testEnv({ LOG_LEVEL: 'info' });
    try {
      const [a, b] = await Promise.all([start({ DATABASE_URL: fresh.DATABASE_URL! }), start({ DATABASE_URL: fresh.DATABASE_URL! })]);
      for (const { port } of [a, b]) expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
      const applied = [a, b].map(({ p }) => p.logs().find(migrated)!.applied as number);
      expect(applied.sort()).toEqual([0, applied[1]]); // one applied them, the other found them done
      expect(applied[1]).toBeGreaterThan(0);
      // Exactly one bootstrap admin, and it can log in through either process.
      const pool = new Pool({ connectionString: fresh.DATABASE_URL });
      const { rows } = await pool.query("SELECT count(*)::int AS n FROM users WHERE role = 'admin'");
      await endPool(pool);
      expect(rows[0].n).toBe(1);
      for (const { port } of [a, b]) {
        const res = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password: env.ADMIN_PASSWORD }),
        });
        expect(res.status).toBe(200);
      }
      await Promise.all([a.p.stop(), b.p.stop()]);
    } finally {
      await dropDatabase(fresh.DATABASE_URL!);
    }
  });

  it('refuses to start with invalid configuration and lists every problem', async () => {
    const p = startService({ ...env, PORT: 'eighty', OFFER_TIMEOUT_SECONDS: '0', NODE_ROLE: 'everything' });
    running.push(p);
    const code = await new Promise<number | null>((resolve) => p.child.once('exit', resolve));
    expect(code).not.toBe(0);
    const out = p.lines.join('\n');
    expect(out).toContain('PORT must be an integer');
    expect(out).toContain('OFFER_TIMEOUT_SECONDS must be an integer');
    expect(out).toContain('NODE_ROLE must be api, worker or all');
  });
});
