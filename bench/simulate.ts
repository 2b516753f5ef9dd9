/**
 * `npm run simulate`: a small, steady contact center to watch. Starts the service on a fresh
 * database (or uses the one at SIMULATE_URL), creates three queues and a few demo agents driven
 * by bots (available, accept after a ring, chat, end, wrap up, the odd break), and feeds it a
 * gentle stream of web chats and signed SMS webhooks. Prints queue statistics every few seconds
 * until Ctrl-C.
 *
 * SIMULATE_PORT (default 3000), SIMULATE_AGENTS (6), SIMULATE_CHAT_EVERY_S (8),
 * SIMULATE_SMS_EVERY_S (12), SIMULATE_STATS_EVERY_S (5).
 * Against a running service: SIMULATE_URL, SIMULATE_ADMIN_USERNAME / SIMULATE_ADMIN_PASSWORD,
 * SIMULATE_TWILIO_AUTH_TOKEN (and SIMULATE_PUBLIC_BASE_URL if it differs from SIMULATE_URL)
 * to send SMS webhooks it will accept; without a token, only chats are sent.
 */
import net from 'node:net';
import { startFakeTwilio, type FakeTwilio } from '../test/support/fake-twilio';
import { ADMIN_PASSWORD } from '../test/support/env';
import { Api, type QueueStats } from './lib/http';
import { startBenchService, TWILIO_AUTH_TOKEN, type Service } from './lib/service';
import { messageSid, postSms } from './lib/sms';
import { AgentBot, ChatCustomer } from './load/bots';

const env = process.env;
const num = (v: string | undefined, def: number) => (v !== undefined && Number.isFinite(Number(v)) ? Number(v) : def);
const AGENTS = num(env.SIMULATE_AGENTS, 6);
const CHAT_EVERY = num(env.SIMULATE_CHAT_EVERY_S, 8);
const SMS_EVERY = num(env.SIMULATE_SMS_EVERY_S, 12);
const STATS_EVERY = num(env.SIMULATE_STATS_EVERY_S, 5);
const DEMO_PASSWORD = 'demo-password-1';
const SUPPORT_NUMBER = '+15005550006';
const BILLING_NUMBER = '+15005550007';

const say = (s: string) => process.stdout.write(`${s}\n`);
const jitter = (s: number) => s * 1000 * (0.5 + Math.random());

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

async function ensureQueue(admin: Api, body: Record<string, unknown>): Promise<string> {
  try {
    return (await admin.post<{ id: string }>('/api/queues', body)).id;
  } catch {
    const all = await admin.get<Array<{ id: string; name: string }>>('/api/queues');
    const found = all.find((q) => q.name === body.name);
    if (!found) throw new Error(`could not create or find queue ${String(body.name)}`);
    return found.id;
  }
}

async function ensureAgent(admin: Api, body: Record<string, unknown>): Promise<string> {
  try {
    await admin.post('/api/agents', body);
  } catch (err) {
    if (!String(err).includes('409')) throw err; // taken: an earlier simulation made it
  }
  return (await new Api(admin.base).login(String(body.username), String(body.password))).token;
}

function statsLines(stats: QueueStats[]): string {
  const width = Math.max(...stats.map((q) => q.name.length));
  const lines = stats.map(
    (q) =>
      `  ${q.name.padEnd(width)}  waiting ${String(q.waiting).padStart(3)}${q.waiting ? ` (longest ${Math.round(q.longestWaitSeconds)}s)` : ''}  ringing ${q.offered}  active ${q.active}  wrap-up ${q.wrapup}` +
      `  |  agents free ${q.agentsAvailable} busy ${q.agentsBusy} away ${q.agentsAway}  |  24h: answered ${q.answered}, abandoned ${q.abandoned}` +
      `${q.serviceLevel === null ? '' : `, service level ${Math.round(q.serviceLevel * 100)}%`}${q.avgWaitSeconds === null ? '' : `, avg wait ${Math.round(q.avgWaitSeconds)}s`}`,
  );
  return [new Date().toTimeString().slice(0, 8), ...lines].join('\n');
}

async function main(): Promise<void> {
  let svc: Service | null = null;
  let fake: FakeTwilio | null = null;
  let base: string;
  let publicBase: string;
  let admin: Api;
  let authToken: string | null;
  let adminUser = 'admin';
  let adminPassword: string;
  if (env.SIMULATE_URL) {
    base = env.SIMULATE_URL.replace(/\/+$/, '');
    publicBase = (env.SIMULATE_PUBLIC_BASE_URL ?? base).replace(/\/+$/, '');
    adminUser = env.SIMULATE_ADMIN_USERNAME ?? 'admin';
    adminPassword = env.SIMULATE_ADMIN_PASSWORD ?? '';
    if (!adminPassword) throw new Error('SIMULATE_ADMIN_PASSWORD is required with SIMULATE_URL');
    admin = new Api(base);
    admin.token = (await admin.login(adminUser, adminPassword)).token;
    authToken = env.SIMULATE_TWILIO_AUTH_TOKEN ?? null;
    if (!authToken) say('SIMULATE_TWILIO_AUTH_TOKEN is not set: sending chats only, no SMS.');
  } else {
    // Twilio's REST API cannot be reached from here: agents' SMS replies go to a local stand-in.
    const port = num(env.SIMULATE_PORT, 3000);
    if (!(await portFree(port))) throw new Error(`port ${port} is taken (another service?): set SIMULATE_PORT, or SIMULATE_URL to use a running service`);
    fake = await startFakeTwilio();
    say('starting the service on a fresh database…');
    svc = await startBenchService({ port, env: { TWILIO_API_URL: fake.url, LOG_LEVEL: 'warn' } });
    base = svc.base;
    publicBase = svc.base;
    admin = svc.admin;
    adminPassword = ADMIN_PASSWORD;
    authToken = TWILIO_AUTH_TOKEN;
  }

  const sales = await ensureQueue(admin, { name: 'Sales', channels: ['chat'], slaSeconds: 30, script: 'Offer the annual plan first.' });
  const support = await ensureQueue(admin, { name: 'Support', channels: ['chat', 'sms'], slaSeconds: 60 });
  const billing = await ensureQueue(admin, { name: 'Billing', channels: ['sms'], slaSeconds: 120 });
  await admin.post('/api/entry-points', { channel: 'chat', address: 'sales', queueId: sales });
  await admin.post('/api/entry-points', { channel: 'chat', address: '*', queueId: support });
  await admin.post('/api/entry-points', { channel: 'sms', address: SUPPORT_NUMBER, queueId: support });
  await admin.post('/api/entry-points', { channel: 'sms', address: BILLING_NUMBER, queueId: billing });

  const teams = [[sales, support], [support], [support, billing], [billing, sales]];
  const bots: AgentBot[] = [];
  const logins: string[] = [];
  for (let k = 1; k <= AGENTS; k++) {
    const username = `demo${k}`;
    const token = await ensureAgent(admin, { name: `Demo Agent ${k}`, username, password: DEMO_PASSWORD, queueIds: teams[(k - 1) % teams.length], capacity: { chat: 2, sms: 2 }, wrapupSeconds: 30 });
    const bot = new AgentBot(username, base, token);
    await bot.start();
    bots.push(bot);
    logins.push(username);
  }
  // One agent no bot drives: log in as it to take contacts yourself.
  await ensureAgent(admin, { name: 'You', username: 'trainee', password: DEMO_PASSWORD, queueIds: [sales, support, billing] });

  say('');
  say(`Switchboard simulation at ${base}`);
  say(`  admin:           ${adminUser} / ${svc ? adminPassword : '(the password you gave)'}`);
  say(`  bot agents:      ${logins.join(', ')}  (password ${DEMO_PASSWORD}; driven by bots)`);
  say(`  your agent:      trainee / ${DEMO_PASSWORD}  (in every queue; nobody drives it)`);
  say(`  wallboard:       open ${base}/wallboard and log in as the admin`);
  say(`  API docs:        ${base}/docs`);
  say(`  traffic:         a chat every ~${CHAT_EVERY}s${authToken ? `, an SMS every ~${SMS_EVERY}s` : ''}. Ctrl-C stops${svc ? ' and drops the database' : ''}.`);
  say('');

  let stopping = false;
  const customers = new Set<ChatCustomer>();
  const timers: NodeJS.Timeout[] = [];
  const every = (seconds: number, fn: () => Promise<void>) => {
    const tick = () => {
      if (stopping) return;
      timers.push(setTimeout(() => void fn().catch((err) => say(`  (${String(err).slice(0, 120)})`)).finally(tick), jitter(seconds)));
    };
    tick();
  };
  every(CHAT_EVERY, async () => {
    const c = new ChatCustomer(base, Math.random() < 0.4 ? 'sales' : 'support');
    customers.add(c);
    void c.done.then(() => customers.delete(c));
    await c.start();
  });
  let smsCount = 0;
  if (authToken) {
    const tag = `sim${Date.now().toString(36)}`;
    every(SMS_EVERY, async () => {
      const n = smsCount++;
      // 40 regular customers: some write again while their conversation is open.
      const from = `+1415555${(2000 + Math.floor(Math.random() * 40)).toString()}`;
      await postSms(base, { sid: messageSid(tag, n), from, to: Math.random() < 0.5 ? SUPPORT_NUMBER : BILLING_NUMBER, body: 'Hi, question about my last bill' }, authToken!, publicBase);
    });
  }
  const statsTimer = setInterval(() => {
    admin.get<QueueStats[]>('/api/stats/queues').then((s) => say(statsLines(s)), (err) => say(`  stats: ${String(err).slice(0, 120)}`));
  }, STATS_EVERY * 1000);

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('\nstopping…');
    clearInterval(statsTimer);
    timers.forEach(clearTimeout);
    await Promise.all([...customers].map((c) => c.leave(false)));
    bots.forEach((b) => b.stop());
    if (svc) await svc.stop();
    if (fake) await fake.close();
    say(`handled ${bots.reduce((a, b) => a + b.handled, 0)} contacts; bye.`);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
