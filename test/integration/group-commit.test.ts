/**
 * Group commit of plain messages: texts and chat messages that arrive together share one
 * transaction. The promises are the single write's: every message stored once, one customer per
 * address, one open conversation per key, each conversation's events numbered 1..n without gaps
 * in the order they were stored, a retry answered with the first event, and one bad message
 * never failing the others in its batch. In process first, then across two service processes
 * with a kill -9 and Twilio's retries.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { Pool as PgPool } from 'pg';
import { startApp, waitFor, bearer, clearRedisPrefix, type TestApp } from '../support/app';
import { createQueue } from '../support/agent';
import { ACCOUNT_SID, AUTH_TOKEN, signedForm } from '../support/fake-twilio';
import { dropDatabase, endPool, testEnv, ADMIN_PASSWORD } from '../support/env';
import { freePort, startService, type ServiceProcess } from '../support/process';
import { inboundSmsCommand } from '../../src/channels/sms/sms.mapper';
import { chatMessageCommand } from '../../src/channels/chat/chat.mapper';
import { loadConfig } from '../../src/platform/config';

const PUBLIC = 'https://switchboard.example.com';
const OUR_NUMBER = '+15005550006';
const sid = (n: number) => `SM${n.toString(16).padStart(32, '0')}`;
const phone = (n: number) => `+1415555${String(n).padStart(4, '0')}`;
const text = (n: number, from: number) => ({ MessageSid: sid(n), AccountSid: ACCOUNT_SID, From: phone(from), To: OUR_NUMBER, Body: `message ${n}`, NumMedia: '0' });

/** What every run must leave behind, whatever the interleaving: checked straight in Postgres. */
async function expectStoredOnce(db: Pool, sids: string[], senders: string[]): Promise<void> {
  const messages = await db.query<{ sid: string; n: number }>(
    "SELECT payload ->> 'providerId' AS sid, count(*)::int AS n FROM events WHERE type = 'message.received' AND channel = 'sms' GROUP BY 1",
  );
  expect(messages.rows.filter((r) => r.n !== 1)).toEqual([]);
  expect(messages.rows.map((r) => r.sid).sort()).toEqual([...new Set(sids)].sort());

  const identities = await db.query<{ value: string; n: number }>("SELECT value, count(DISTINCT customer_id)::int AS n FROM customer_identities WHERE kind = 'phone' GROUP BY value");
  expect(identities.rows.map((r) => r.value).sort()).toEqual([...new Set(senders)].sort());
  expect(identities.rows.filter((r) => r.n !== 1)).toEqual([]);
  // No customer left behind by a lost race: every customer holds an identity.
  expect((await db.query("SELECT count(*)::int AS n FROM customers c WHERE NOT EXISTS (SELECT 1 FROM customer_identities ci WHERE ci.customer_id = c.id)")).rows[0].n).toBe(0);

  const conversations = await db.query<{ key: string; n: number }>("SELECT conversation_key AS key, count(*)::int AS n FROM interactions WHERE channel = 'sms' GROUP BY 1");
  expect(conversations.rows.filter((r) => r.n !== 1)).toEqual([]);
  expect(conversations.rows).toHaveLength(new Set(senders).size);

  // Per conversation: seq 1..n in id order, the queued cue first and once, the sender as customer.
  const events = await db.query<{ interaction_id: string; seq: number; type: string; customer_ok: boolean; last_seq: number }>(
    `SELECT e.interaction_id, e.seq, e.type, e.customer_id = ci.customer_id AS customer_ok, i.last_seq
       FROM events e JOIN interactions i ON i.id = e.interaction_id
       JOIN customer_identities ci ON ci.kind = 'phone' AND ci.value = i.attributes ->> 'customerAddress'
      WHERE i.channel = 'sms' ORDER BY e.interaction_id, e.id`,
  );
  const byInteraction = new Map<string, typeof events.rows>();
  for (const e of events.rows) byInteraction.set(e.interaction_id, [...(byInteraction.get(e.interaction_id) ?? []), e]);
  for (const list of byInteraction.values()) {
    expect(list.map((e) => e.seq)).toEqual(list.map((_, k) => k + 1));
    expect(list[0]!.last_seq).toBe(list.length);
    expect(list.map((e) => e.type).filter((t) => t === 'interaction.queued')).toEqual(['interaction.queued']);
    expect(list[0]!.type).toBe('interaction.queued');
    expect(list.every((e) => e.customer_ok)).toBe(true);
  }
}

describe('group commit of plain messages, in one process', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_URL: 'http://127.0.0.1:9', PUBLIC_BASE_URL: PUBLIC });
    const queueId = await createQueue(t, { name: 'texts' });
    const ep = await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'sms', address: OUR_NUMBER, queueId } });
    expect(ep.statusCode).toBe(201);
  });
  afterAll(async () => t.close());

  const webhook = (params: Record<string, string>) => {
    const { headers, body } = signedForm(`${PUBLIC}/twilio/sms`, params);
    return t.app.inject({ method: 'POST', url: '/twilio/sms', headers, payload: body });
  };

  it('stores 400 concurrent texts from 50 senders, 100 of them retried, each once, in shared transactions', async () => {
    const before = { ...t.app.services.ingest.groupCommitStats };
    const sends = Array.from({ length: 300 }, (_, n) => text(n + 1, (n % 50) + 1));
    const retries = Array.from({ length: 100 }, (_, k) => sends[(k * 7) % 300]!);
    const all = [...sends, ...retries].sort(() => Math.random() - 0.5);
    const responses = await Promise.all(all.map(webhook));
    expect(responses.filter((r) => r.statusCode !== 200).map((r) => r.body)).toEqual([]);
    await expectStoredOnce(t.app.services.db, sends.map((s) => s.MessageSid), sends.map((s) => s.From));

    const after = t.app.services.ingest.groupCommitStats;
    // Batches formed: fewer transactions than messages, and some held many.
    expect(after.items - before.items).toBe(400);
    expect(after.batches - before.batches).toBeLessThan(200);
    expect(after.largest).toBeGreaterThan(10);
  });

  it('answers a retry inside a batch with the first event and stores the rest of the batch', async () => {
    const ingest = t.app.services.ingest;
    const first = await ingest.ingest(inboundSmsCommand({ messageSid: sid(1000), from: phone(900), to: OUR_NUMBER, body: 'first', numMedia: 0 }, new Date()));
    expect(first.duplicate).toBe(false);
    // 40 at once: the first few run alone, the rest wait and share a transaction; the retry is among them.
    const cmds = Array.from({ length: 40 }, (_, k) =>
      k === 30 ? inboundSmsCommand({ messageSid: sid(1000), from: phone(900), to: OUR_NUMBER, body: 'first', numMedia: 0 }, new Date())
        : inboundSmsCommand({ messageSid: sid(1001 + k), from: phone(900 + (k % 5)), to: OUR_NUMBER, body: `m${k}`, numMedia: 0 }, new Date()));
    const batchesBefore = ingest.groupCommitStats.batches;
    const results = await Promise.all(cmds.map((c) => ingest.ingest(c)));
    expect(ingest.groupCommitStats.batches - batchesBefore).toBeLessThan(40);
    expect(results[30]).toMatchObject({ duplicate: true, event: { id: first.event.id, seq: first.event.seq } });
    expect(results.filter((r, k) => k !== 30 && r.duplicate)).toEqual([]);
    // A repeated key within one batch: the second answers as a duplicate of the first.
    const twice = inboundSmsCommand({ messageSid: sid(2000), from: phone(905), to: OUR_NUMBER, body: 'twice', numMedia: 0 }, new Date());
    const burst = await Promise.all([...Array.from({ length: 10 }, (_, k) => inboundSmsCommand({ messageSid: sid(2001 + k), from: phone(906), to: OUR_NUMBER, body: `b${k}`, numMedia: 0 }, new Date())), twice, twice].map((c) => ingest.ingest(c)));
    expect(burst.slice(10).map((r) => r.duplicate).sort()).toEqual([false, true]);
    expect(burst[10]!.event.id).toBe(burst[11]!.event.id);

    const all = [first, ...results, ...burst];
    const sids = [sid(1000), ...cmds.map((c) => c.payload.providerId as string), twice.payload.providerId as string, ...Array.from({ length: 10 }, (_, k) => sid(2001 + k))];
    const db = t.app.services.db;
    const stored = await db.query("SELECT count(*)::int AS n FROM events WHERE type = 'message.received' AND payload ->> 'providerId' = ANY($1)", [sids]);
    expect(stored.rows[0].n).toBe(new Set(sids).size);
    // What each caller got back is what is stored.
    for (const r of all) {
      const row = (await db.query('SELECT seq, interaction_id FROM events WHERE id = $1', [r.event.id])).rows[0];
      expect(row).toEqual({ seq: r.event.seq, interaction_id: r.event.interactionId });
    }
  });

  it('fails only the message that cannot be stored, not the others in its batch', async () => {
    const ingest = t.app.services.ingest;
    const { rows } = await t.app.services.db.query('INSERT INTO customers DEFAULT VALUES RETURNING id');
    const taken = rows[0].id as string;
    // A chat visitor claiming an existing customer's id for a new identity: refused on its own.
    const bad = chatMessageCommand({ visitorId: randomUUID(), customerId: taken, pendingInteractionId: randomUUID(), widget: '*', clientMessageId: 'x', text: 'hello', now: new Date() });
    const good = Array.from({ length: 30 }, (_, k) => inboundSmsCommand({ messageSid: sid(3000 + k), from: phone(950 + (k % 3)), to: OUR_NUMBER, body: `g${k}`, numMedia: 0 }, new Date()));
    const settled = await Promise.allSettled([...good.slice(0, 20), bad, ...good.slice(20)].map((c) => ingest.ingest(c)));
    const failed = settled.flatMap((s, k) => (s.status === 'rejected' ? [{ k, code: (s.reason as { code?: string }).code }] : []));
    expect(failed).toEqual([{ k: 20, code: 'SB_CONFLICT' }]);
    const stored = await t.app.services.db.query("SELECT count(*)::int AS n FROM events WHERE payload ->> 'providerId' = ANY($1)", [good.map((c) => c.payload.providerId)]);
    expect(stored.rows[0].n).toBe(30);
  });
});

describe('group commit beside routing', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_URL: 'http://127.0.0.1:9', PUBLIC_BASE_URL: PUBLIC, ROUTER_SWEEP_MS: '60000' });
  });
  afterAll(async () => t.close());

  it('never deadlocks with routing passes claiming the same conversations (both lock in id order)', async () => {
    const queueId = await createQueue(t, { name: 'contended' });
    await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'sms', address: OUR_NUMBER, queueId } });
    const ingest = t.app.services.ingest;
    const sms = (n: number, from: number) => inboundSmsCommand({ messageSid: sid(50000 + n), from: phone(5000 + from), to: OUR_NUMBER, body: `t${n}`, numMedia: 0 }, new Date());
    const SENDERS = 120;
    await Promise.all(Array.from({ length: SENDERS }, (_, k) => ingest.ingest(sms(k, k))));
    const agents: string[] = [];
    for (let k = 0; k < 40; k++) {
      const res = await t.app.inject({ method: 'POST', url: '/api/agents', headers: bearer(t.adminToken), payload: { name: `c${k}`, username: `contended${k}`, password: 'agent-password', queueIds: [queueId], capacity: { sms: 2 } } });
      expect(res.statusCode).toBe(201);
      agents.push(res.json().id);
    }
    const db = t.app.services.db;
    const deadlocks = async () => Number((await db.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')).rows[0].deadlocks);
    const before = await deadlocks();
    // Every agent is free at once, and one routing pass claims 80 waiting texts in one transaction
    // while every waiting customer writes again, in batches that lock many of the same conversations.
    await db.query("UPDATE agents SET state = 'available', last_idle_at = now() WHERE id = ANY($1::uuid[])", [agents]);
    const followUps = Array.from({ length: SENDERS * 4 }, (_, n) => sms(SENDERS + n, n % SENDERS));
    const burst = followUps.map((c) => ingest.ingest(c));
    t.app.services.router.trigger();
    await Promise.all(burst);
    await t.app.services.router.idle();
    expect(await deadlocks()).toBe(before);
    const stored = await db.query("SELECT count(*)::int AS n FROM events WHERE type = 'message.received' AND payload ->> 'providerId' = ANY($1)", [followUps.map((c) => c.payload.providerId)]);
    expect(stored.rows[0].n).toBe(followUps.length);
    const offered = await db.query("SELECT count(*)::int AS n FROM offers WHERE queue_id = $1", [queueId]);
    expect(offered.rows[0].n).toBe(80);
  });
});

describe('group commit across two processes, through a kill -9', () => {
  const env = testEnv({ LOG_LEVEL: 'warn', TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_URL: 'http://127.0.0.1:9', PUBLIC_BASE_URL: PUBLIC });
  const procs: Array<{ p: ServiceProcess; url: string }> = [];
  let pool: Pool;

  const start = async () => {
    const port = await freePort();
    const p = { p: startService({ ...env, PORT: String(port) }), url: `http://127.0.0.1:${port}` };
    await waitFor(async () => (await fetch(`${p.url}/health/ready`).then((r) => r.status, () => 0)) === 200, 60000, 'process ready');
    return p;
  };
  /** Twilio's side: send, and retry what got no 200 (a dead process, a reset connection). */
  const deliver = async (params: Record<string, string>, urls: () => string[]) => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const live = urls();
      const url = live[attempt % live.length]!;
      const { headers, body } = signedForm(`${PUBLIC}/twilio/sms`, params);
      const status = await fetch(`${url}/twilio/sms`, { method: 'POST', headers, body }).then((r) => r.status, () => 0);
      if (status === 200) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${params.MessageSid} never acknowledged`);
  };

  beforeAll(async () => {
    procs.push(await start());
    procs.push(await start());
    pool = new PgPool({ connectionString: env.DATABASE_URL, max: 2 });
    const base = procs[0]!.url;
    const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) }).then((r) => r.json() as Promise<{ token: string }>);
    const post = (path: string, body: unknown) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${login.token}` }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<{ id: string }>);
    const queue = await post('/api/queues', { name: 'texts' });
    await post('/api/entry-points', { channel: 'sms', address: OUR_NUMBER, queueId: queue.id });
  }, 120000);

  afterAll(async () => {
    await Promise.all(procs.map(({ p }) => p.stop('SIGKILL')));
    if (pool) await endPool(pool);
    await dropDatabase(env.DATABASE_URL!);
    await clearRedisPrefix(loadConfig(env));
  });

  it('stores 1,200 texts from 80 senders once, each sent to both processes at once, one of them killed midway and restarted', async () => {
    const sends = Array.from({ length: 1200 }, (_, n) => text(n + 1, (n % 80) + 1));
    let urls = procs.map((p) => p.url);
    // Each text goes to both processes at the same moment (Twilio retrying a slow answer elsewhere),
    // 100 texts in flight at a time; the second process dies a third of the way through.
    let next = 0;
    const killAt = 400;
    let killed: Promise<void> | null = null;
    await Promise.all(Array.from({ length: 100 }, async () => {
      while (next < sends.length) {
        const n = next++;
        if (n === killAt) {
          killed = procs[1]!.p.stop('SIGKILL').then(() => {
            urls = [procs[0]!.url];
          });
        }
        const params = sends[n]!;
        await Promise.all([deliver(params, () => urls), deliver(params, () => [...urls].reverse())]);
      }
    }));
    await killed;
    // Restarted, it takes Twilio's redelivery of everything once more.
    procs[1] = await start();
    urls = procs.map((p) => p.url);
    for (let n = 0; n < sends.length; n += 100) await Promise.all(sends.slice(n, n + 100).map((s, k) => deliver(s, () => (k % 2 ? urls : [...urls].reverse()))));
    await expectStoredOnce(pool, sends.map((s) => s.MessageSid), sends.map((s) => s.From));

    // The survivor shared transactions between texts (its metrics say so).
    const metrics = await fetch(`${procs[0]!.url}/metrics`).then((r) => r.text());
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(value('switchboard_ingest_batch_messages_sum')).toBeGreaterThan(value('switchboard_ingest_batch_messages_count'));
    // Texts went in one statement; copies racing across the two processes were declined by it
    // (a key stored, or being stored, by the other) and answered step by step.
    // (A counter shows a label only once it has counted something.)
    const outcome = (o: string) => value(`switchboard_ingest_one_statement_messages_total\\{outcome="${o}"\\}`) || 0;
    expect(outcome('stored')).toBeGreaterThan(0);
    expect(outcome('declined')).toBeGreaterThan(0);
    expect(outcome('failed')).toBe(0);
  }, 180000);
});
