/**
 * The ACD's promises under contention, against real server processes: every interaction is
 * accepted exactly once, never two pending offers for one interaction, no agent ever over
 * capacity (checked over time from the recorded offers), and no stranded work after kill -9.
 */
import { io as ioClient, type Socket } from 'socket.io-client';
import { Pool } from 'pg';
import { freePort, startService, type ServiceProcess } from '../support/process';
import { dropDatabase, endPool, testEnv, ADMIN_PASSWORD } from '../support/env';
import { clearRedisPrefix, waitFor } from '../support/app';
import { loadConfig } from '../../src/platform/config';

const AGENTS = 40;
const INTERACTIONS = 500;
const CAPACITY = 3;


async function post(base: string, path: string, token: string | null, body: unknown) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as any;
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const rand = (n: number) => Math.floor(Math.random() * n);

/** Contacts claimed ahead of their passes (routing/claim-ahead.ts), and such claims refused, in these processes so far (from /metrics). */
async function claimsAhead(urls: string[]): Promise<{ made: number; refused: number }> {
  const ahead = { made: 0, refused: 0 };
  for (const url of urls) {
    const text = await fetch(`${url}/metrics`).then((r) => r.text());
    const metric = (how: string) => Number(new RegExp(`^switchboard_routing_waiting_reads_total\\{how="${how}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    ahead.made += metric('claimed_ahead');
    ahead.refused += metric('ahead_refused');
  }
  return ahead;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An agent console that accepts, rejects or ignores offers at random and wraps up at random; it moves to a live process when its own dies. */
class RandomAgent {
  socket!: Socket;
  stopped = false;
  constructor(
    readonly token: string,
    private urls: () => string[],
  ) {}
  connect(): void {
    const live = this.urls();
    const url = live[rand(live.length)]!;
    this.socket = ioClient(`${url}/agent`, { auth: { token: this.token }, transports: ['websocket'], reconnection: false, forceNew: true });
    this.socket.on('connect', () => void this.socket.emitWithAck('state:set', { state: 'available' }).catch(() => undefined));
    this.socket.on('disconnect', () => this.reconnectSoon());
    this.socket.on('connect_error', () => this.reconnectSoon());
    this.socket.on('offer', (o: { offerId: string; interaction: { id: string } }) => void this.onOffer(o));
    // Work this console held when its connection (or its server) died comes back on reconnect.
    this.socket.on('interaction:state', (s: { interactionId: string; state: string }) => {
      if (s.state === 'active' || s.state === 'wrapup') void this.finish(s.interactionId);
    });
    this.socket.on('state', (s: { state: string }) => {
      if (s.state === 'away') void sleep(100 + rand(200)).then(() => this.emit('state:set', { state: 'available' }));
    });
  }
  private reconnectSoon(): void {
    if (this.stopped) return;
    this.drop();
    setTimeout(() => !this.stopped && this.connect(), 100 + rand(200));
  }
  private emit(event: string, payload: unknown): Promise<any> {
    if (this.stopped) return Promise.resolve({ ok: false });
    // The ack's timeout is a timer that does not hold the process: socket.io's own (`timeout()`)
    // is cleared only if its socket closes while connected, and acks emitted on a socket its
    // server had dropped kept the test's worker alive for 10 s past the test's end.
    const timedOut = new Promise((resolve) => setTimeout(() => resolve({ ok: false }), 10000).unref());
    return Promise.race([this.socket.emitWithAck(event, payload).catch(() => ({ ok: false })), timedOut]);
  }
  private async onOffer(o: { offerId: string; interaction: { id: string } }): Promise<void> {
    await sleep(rand(100));
    const r = Math.random();
    if (r < 0.1) return; // ignore: ring-no-answer
    if (r < 0.25) {
      await this.emit('offer:reject', { offerId: o.offerId });
      return;
    }
    const ack = await this.emit('offer:accept', { offerId: o.offerId });
    if (!ack.ok) return;
    await this.finish(o.interaction.id);
  }
  private async finish(interactionId: string): Promise<void> {
    await sleep(rand(300));
    await this.emit('interaction:end', { interactionId });
    if (Math.random() < 0.8) {
      await sleep(rand(200));
      await this.emit('interaction:wrapup', { interactionId, disposition: 'done' });
    } // else: the wrap-up timeout closes it
  }
  stop(): void {
    this.stopped = true;
    this.drop();
  }
  private drop(): void {
    this.socket.removeAllListeners();
    this.socket.close();
  }
}

describe('ACD under contention, across processes, with a crash', () => {
  const env = testEnv({
    LOG_LEVEL: 'warn',
    OFFER_TIMEOUT_SECONDS: '2',
    AGENT_GRACE_SECONDS: '3',
    ROUTER_SWEEP_MS: '250',
    DB_POOL_SIZE: '10',
  });
  const procs: Array<{ p: ServiceProcess; url: string; alive: boolean }> = [];
  const agents: RandomAgent[] = [];
  let pool: Pool;

  beforeAll(async () => {
    for (let n = 0; n < 2; n++) {
      const port = await freePort();
      procs.push({ p: startService({ ...env, PORT: String(port) }), url: `http://127.0.0.1:${port}`, alive: true });
      // Start them one after the other, so only one creates the database (concurrent boot has its own test).
      const url = procs[n]!.url;
      await waitFor(async () => (await fetch(`${url}/health/ready`).then((r) => r.status, () => 0)) === 200, 60000, `process ${n} ready`);
    }
    pool = new Pool({ connectionString: env.DATABASE_URL, max: 4 });
  }, 120000);

  afterAll(async () => {
    agents.forEach((a) => a.stop());
    await Promise.all(procs.map(({ p }) => p.stop('SIGKILL')));
    if (pool) await endPool(pool);
    await dropDatabase(env.DATABASE_URL!);
    await clearRedisPrefix(loadConfig(env));
  });

  it('accepts each of 500 interactions exactly once with 40 random agents, through a kill -9', async () => {
    const base = procs[0]!.url;
    const admin = (await post(base, '/api/auth/login', null, { username: 'admin', password: ADMIN_PASSWORD })).token;
    const queue = await post(base, '/api/queues', admin, { name: 'contention' });
    await post(base, '/api/entry-points', admin, { channel: 'chat', address: '*', queueId: queue.id });
    const live = () => procs.filter((x) => x.alive).map((x) => x.url);
    for (let n = 0; n < AGENTS; n++) {
      await post(base, '/api/agents', admin, { name: `a${n}`, username: `a${n}`, password: 'agent-password', queueIds: [queue.id], capacity: { chat: CAPACITY }, wrapupSeconds: 1 });
      const token = (await post(base, '/api/auth/login', null, { username: `a${n}`, password: 'agent-password' })).token;
      const agent = new RandomAgent(token, live);
      agent.connect();
      agents.push(agent);
    }

    // 500 customers, spread over both processes, 25 at a time.
    for (let n = 0; n < INTERACTIONS; n += 25) {
      await Promise.all(Array.from({ length: 25 }, async (_, k) => {
        const url = procs[(n + k) % procs.length]!.url;
        const s = ioClient(`${url}/chat`, { transports: ['websocket'], reconnection: false, forceNew: true });
        await new Promise((resolve) => s.once('session', resolve));
        const ack = await s.timeout(15000).emitWithAck('message', { clientMessageId: 'hello', text: `customer ${n + k}` });
        expect(ack.ok).toBe(true);
        s.disconnect();
      }));
    }

    // Mid-run: kill -9 the second process (npm, its shell and node, the whole group).
    const count = async (sql: string) => Number((await pool.query(sql)).rows[0].n);
    await waitFor(async () => (await count("SELECT count(DISTINCT interaction_id) AS n FROM offers WHERE state = 'accepted'")) >= INTERACTIONS / 3, 60000, 'a third accepted');
    await procs[1]!.p.stop('SIGKILL');
    procs[1]!.alive = false;
    const killedAt = Date.now();

    await waitFor(async () => (await count("SELECT count(*) AS n FROM interactions WHERE state = 'closed'")) === INTERACTIONS, 120000, 'every interaction handled').catch(async (err) => {
      const dump = async (sql: string) => JSON.stringify((await pool.query(sql)).rows);
      throw new Error(`${err.message}
interactions: ${await dump('SELECT state, count(*) FROM interactions GROUP BY state')}
agents: ${await dump('SELECT state, state_reason, count(*) FROM agents GROUP BY 1, 2')}
offers: ${await dump('SELECT state, count(*) FROM offers GROUP BY state')}
stuck: ${await dump("SELECT i.state, i.agent_id, a.state AS agent_state, i.updated_at FROM interactions i LEFT JOIN agents a ON a.id = i.agent_id WHERE i.state <> 'closed' LIMIT 10")}
service log: ${procs[0]!.p.lines.slice(-20).join('\n')}`);
    });
    const finishedAfterKillMs = Date.now() - killedAt;

    // Exactly once: one acceptance per interaction, every interaction handled.
    const accepted = (await pool.query("SELECT interaction_id, count(*) FILTER (WHERE state = 'accepted')::int AS n FROM offers GROUP BY interaction_id")).rows;
    expect(accepted).toHaveLength(INTERACTIONS);
    expect(accepted.filter((r) => r.n !== 1)).toEqual([]);
    expect(await count("SELECT count(*) AS n FROM interactions WHERE outcome = 'handled'")).toBe(INTERACTIONS);

    // Never two pending offers for one interaction: each offer was decided before the next was made.
    // Microsecond timestamps (clock_timestamp), as numbers.
    const offers = (
      await pool.query(
        `SELECT id, interaction_id, agent_id, state,
                (extract(epoch FROM created_at) * 1e6)::bigint::text AS created,
                (extract(epoch FROM decided_at) * 1e6)::bigint::text AS decided,
                (extract(epoch FROM released_at) * 1e6)::bigint::text AS released
           FROM offers ORDER BY interaction_id, created_at`,
      )
    ).rows.map((o) => ({ ...o, created: Number(o.created), decided: o.decided && Number(o.decided), released: o.released && Number(o.released) }));
    expect(offers.filter((o) => !o.decided || !o.released)).toEqual([]);
    for (let k = 1; k < offers.length; k++) {
      const [prev, cur] = [offers[k - 1]!, offers[k]!];
      if (prev.interaction_id === cur.interaction_id) expect(cur.created).toBeGreaterThanOrEqual(prev.decided);
    }

    // No agent over capacity at any moment: a sweep over each agent's holds [offered, released).
    const byAgent = new Map<string, Array<[number, number]>>();
    for (const o of offers) {
      const marks = byAgent.get(o.agent_id) ?? [];
      marks.push([o.created, +1], [o.released, -1]);
      byAgent.set(o.agent_id, marks);
    }
    let peak = 0;
    for (const marks of byAgent.values()) {
      marks.sort((x, y) => x[0] - y[0] || x[1] - y[1]); // a release at the same instant comes first
      let held = 0;
      for (const [, d] of marks) {
        held += d;
        peak = Math.max(peak, held);
        expect(held).toBeLessThanOrEqual(CAPACITY);
      }
    }

    // No stranded work after recovery: a new customer with a free agent is offered within about a second.
    const probeQueue = await post(base, '/api/queues', admin, { name: 'probe' });
    await post(base, '/api/entry-points', admin, { channel: 'chat', address: 'probe', queueId: probeQueue.id });
    await post(base, '/api/agents', admin, { name: 'probe', username: 'probe', password: 'agent-password', queueIds: [probeQueue.id] });
    const probeToken = (await post(base, '/api/auth/login', null, { username: 'probe', password: 'agent-password' })).token;
    const probe = ioClient(`${base}/agent`, { auth: { token: probeToken }, transports: ['websocket'], reconnection: false, forceNew: true });
    await new Promise<void>((r) => probe.once('connect', () => r()));
    await probe.emitWithAck('state:set', { state: 'available' });
    const chat = ioClient(`${base}/chat`, { auth: { widget: 'probe' }, transports: ['websocket'], reconnection: false, forceNew: true });
    await new Promise<void>((r) => chat.once('session', () => r()));
    const sentAt = Date.now();
    const offered = new Promise<number>((resolve) => {
      probe.once('offer', () => resolve(Date.now() - sentAt));
    });
    await chat.emitWithAck('message', { clientMessageId: 'probe', text: 'anyone?' });
    const latencyMs = await offered;
    expect(latencyMs).toBeLessThan(1500);
    probe.disconnect();
    chat.disconnect();

    const rona = await count("SELECT count(*) AS n FROM offers WHERE state = 'expired'");
    const rejected = await count("SELECT count(*) AS n FROM offers WHERE state = 'rejected'");
    // How many contacts the live processes claimed ahead of their passes (routing/claim-ahead.ts), and refused so.
    const ahead = await claimsAhead(live());
    // Figures for the issue notes.
    process.stdout.write(`contention: ${offers.length} offers (${rejected} rejected, ${rona} expired), peak load ${peak}/${CAPACITY}, finished ${finishedAfterKillMs} ms after kill -9, probe offered in ${latencyMs} ms; claimed ahead of their pass in the live processes: ${ahead.made} (refused ${ahead.refused})\n`);
  }, 240000);
  // After that run (its agents gone, the killed process replaced by a new one): both processes
  // idle, one agent free (capacity 1) in a queue, and a first message reaching each process at once: each may claim its contact ahead of its pass for that agent (see
  // routing/claim-ahead.ts), and Postgres makes one of the two claims (the routing lock tried, the
  // agent's slot and changes checked in the claim). The other contact waits and is offered once
  // the agent is free again.
  it('makes one offer when both processes claim the one free agent ahead at once, and offers the other contact once the agent is free', async () => {
    const ROUNDS = 8;
    agents.forEach((a) => a.stop());
    const port = await freePort();
    procs.push({ p: startService({ ...env, PORT: String(port) }), url: `http://127.0.0.1:${port}`, alive: true });
    const [p0, p1] = [procs[0]!.url, procs[2]!.url];
    await waitFor(async () => (await fetch(`${p1}/health/ready`).then((r) => r.status, () => 0)) === 200, 60000, 'the new process ready');
    const admin = (await post(p0, '/api/auth/login', null, { username: 'admin', password: ADMIN_PASSWORD })).token;
    const queue = await post(p0, '/api/queues', admin, { name: 'ahead-race' });
    await post(p0, '/api/entry-points', admin, { channel: 'chat', address: 'ahead-race', queueId: queue.id });
    const racer = await post(p0, '/api/agents', admin, { name: 'racer', username: 'racer', password: 'agent-password', queueIds: [queue.id], capacity: { chat: 1 }, wrapupSeconds: 600 });
    const token = (await post(p0, '/api/auth/login', null, { username: 'racer', password: 'agent-password' })).token;
    const agent = ioClient(`${p0}/agent`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    const offers: Array<{ offerId: string; interaction: { id: string } }> = [];
    agent.on('offer', (o) => offers.push(o));
    await new Promise<void>((r) => agent.once('connect', () => r()));
    expect(await agent.emitWithAck('state:set', { state: 'available' })).toMatchObject({ ok: true });
    const handle = async (o: { offerId: string; interaction: { id: string } }) => {
      expect(await agent.emitWithAck('offer:accept', { offerId: o.offerId })).toMatchObject({ ok: true });
      expect(await agent.emitWithAck('interaction:end', { interactionId: o.interaction.id })).toMatchObject({ ok: true });
      expect(await agent.emitWithAck('interaction:wrapup', { interactionId: o.interaction.id, disposition: 'done' })).toMatchObject({ ok: true });
    };
    const metrics = () => claimsAhead([p0, p1]);
    const before = await metrics();
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // Both routers' sweeps (every 250 ms) have read the agent free since its last change.
        await sleep(700);
        const visitors = await Promise.all([p0, p1].map(async (url) => {
          const s = ioClient(`${url}/chat`, { auth: { widget: 'ahead-race' }, transports: ['websocket'], reconnection: false, forceNew: true });
          const session = await new Promise<{ interactionId: string }>((resolve) => s.once('session', resolve));
          return { s, interactionId: session.interactionId };
        }));
        try {
          const acks = await Promise.all(visitors.map(({ s }, k) => s.timeout(15000).emitWithAck('message', { clientMessageId: `race-${round}-${k}`, text: 'hello' })));
          expect(acks.map((a) => a.ok)).toEqual([true, true]);
          await waitFor(() => offers.length === 2 * round + 1, 5000, 'one offer');
          // The agent holds one contact (capacity 1): no second offer while it does.
          await sleep(300);
          expect(offers).toHaveLength(2 * round + 1);
          await handle(offers[2 * round]!);
          await waitFor(() => offers.length === 2 * round + 2, 5000, 'the other contact offered once the agent is free');
          await handle(offers[2 * round + 1]!);
          expect(offers.slice(2 * round).map((o) => o.interaction.id).sort()).toEqual(visitors.map((v) => v.interactionId).sort());
        } finally {
          visitors.forEach(({ s }) => s.disconnect());
        }
      }
    } finally {
      agent.disconnect();
    }
    // One pending offer at a time, ever: each made after the one before was released.
    const made = (await pool.query("SELECT (extract(epoch FROM created_at) * 1e6)::bigint::text AS created, (extract(epoch FROM released_at) * 1e6)::bigint::text AS released FROM offers WHERE agent_id = $1 ORDER BY created_at", [racer.id])).rows;
    expect(made).toHaveLength(2 * ROUNDS);
    for (let k = 1; k < made.length; k++) expect(Number(made[k].created)).toBeGreaterThanOrEqual(Number(made[k - 1].released));
    const after = await metrics();
    const ahead = { made: after.made - before.made, refused: after.refused - before.refused };
    // Claimed ahead in one process or the other (a round whose routers were reading the agents
    // as the messages came, or saw another change, offers from the pass instead).
    expect(ahead.made).toBeGreaterThan(0);
    process.stdout.write(`claims ahead racing across two processes: ${ahead.made} made, ${ahead.refused} refused in ${ROUNDS} rounds\n`);
  }, 120000);
});
