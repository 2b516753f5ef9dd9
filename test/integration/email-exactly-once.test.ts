/**
 * 200 messages, some appended while the watcher runs and some while none does; the watcher's
 * process killed (-9) in the middle of a drain; then two processes against the one mailbox.
 * Each message must be stored exactly once.
 */
import { ImapFlow } from 'imapflow';
import { Pool } from 'pg';
import { startDovecot, type Dovecot } from '../support/dovecot';
import { freePort, startService, type ServiceProcess } from '../support/process';
import { dropDatabase, endPool, testEnv } from '../support/env';
import { clearRedisPrefix, waitFor } from '../support/app';
import { loadConfig } from '../../src/platform/config';

describe('IMAP intake: exactly once through crashes and competing processes', () => {
  let dovecot: Dovecot;
  let imap: ImapFlow;
  let env: Record<string, string>;
  let pool: Pool;
  const procs: ServiceProcess[] = [];

  beforeAll(async () => {
    dovecot = await startDovecot();
    env = testEnv({ IMAP_URL: dovecot.url, EMAIL_FROM: 'support@example.com', EMAIL_LEASE_SECONDS: '3', LOG_LEVEL: 'info', NODE_ROLE: 'worker' });
    imap = new ImapFlow({ host: '127.0.0.1', port: dovecot.port, secure: false, auth: { user: dovecot.user, pass: dovecot.password }, logger: false });
    await imap.connect();
  }, 60000);
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    if (pool) await endPool(pool);
    await imap?.logout().catch(() => undefined);
    await dovecot?.stop();
    await dropDatabase(env.DATABASE_URL!);
    await clearRedisPrefix(loadConfig(env));
  });

  let next = 0;
  const append = async (n: number) => {
    for (let k = 0; k < n; k++) {
      const i = next++;
      await imap.append('INBOX', `From: customer${i % 7}@example.org\r\nTo: support@example.com\r\nSubject: message ${i}\r\nMessage-ID: <m${i}@example.org>\r\n\r\nbody ${i}\r\n`);
    }
  };
  const start = async () => {
    const p = startService({ ...env, PORT: String(await freePort()) });
    procs.push(p);
    await p.waitForLog((r) => typeof r.msg === 'string' && r.msg.startsWith('Server listening'), 60000);
    return p;
  };
  const stored = async () => Number((await pool.query("SELECT count(*) AS n FROM events WHERE type = 'message.received' AND channel = 'email'")).rows[0].n);

  it('stores each of 200 messages exactly once', async () => {
    await append(80); // before any watcher runs
    const first = await start();
    pool = new Pool({ connectionString: env.DATABASE_URL, max: 2 });
    await waitFor(async () => (await stored()) >= 30, 30000, 'the first drain under way');
    await first.stop('SIGKILL'); // in the middle of the drain
    const atKill = await stored();
    expect(atKill).toBeLessThan(80);
    await append(60); // while no watcher runs
    const [a, b] = await Promise.all([start(), start()]); // two processes, one mailbox
    await append(60); // while they run
    await waitFor(async () => (await stored()) === 200, 60000, 'all 200 stored');
    await new Promise((r) => setTimeout(r, 1500)); // anything extra would show up now
    expect(await stored()).toBe(200);
    const distinct = await pool.query("SELECT count(DISTINCT payload ->> 'messageId') AS n FROM events WHERE type = 'message.received' AND channel = 'email'");
    expect(Number(distinct.rows[0].n)).toBe(200);
    const cp = await pool.query('SELECT last_uid FROM mailbox_checkpoints');
    expect(Number(cp.rows[0].last_uid)).toBe(200);
    const rereads = [a, b].flatMap((p) => p.logs().filter((r) => r.msg === 'message already stored; checkpoint advanced'));
    expect(rereads).toEqual([]); // the checkpoint commits with each message: nothing is read twice
    process.stdout.write(`imap: ${atKill} stored before kill -9; 200/200 stored once across 3 processes\n`);
  }, 120000);
});
