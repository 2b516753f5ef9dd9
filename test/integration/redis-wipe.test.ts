/**
 * Redis comes back without the service's keys: empty (a restart of a Redis that keeps nothing
 * on disk, a failover, a flush), or, after being out of reach for longer than the grace period,
 * with the presence keys expired meanwhile. In the first case every key the service kept there
 * is gone at once, the agents' presence among them. Presence is
 * refreshed by the processes that hold the consoles, so it is back within a refresh; an agent
 * whose console is still connected must not be signed out in between, while one whose console
 * is really gone still is. The test removes the service's own keys (its prefix, BullMQ's
 * included), which is what such a restart does to it, without touching the other test files' keys.
 */
import { Redis } from 'ioredis';
import { bearer, chatClient, clearRedisPrefix, startApp, waitFor, type ChatClient, type TestApp } from '../support/app';
import { chatEntry, createAgent, createQueue, type AgentClient } from '../support/agent';
import { REDIS_URL, testConfig } from '../support/env';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { ACCOUNT_SID, AUTH_TOKEN, signedForm, startFakeTwilio, type FakeTwilio } from '../support/fake-twilio';

const PUBLIC = 'https://switchboard.example.com';
const OUR_NUMBER = '+15005550009';

const GRACE_SECONDS = 1;

describe('Redis comes back empty', () => {
  let t: TestApp;
  let redis: Redis;
  let fake: FakeTwilio;
  const open: Array<AgentClient | ChatClient> = [];

  beforeAll(async () => {
    // No sweep of its own: the test runs each sweep when it wants one.
    fake = await startFakeTwilio();
    t = await startApp({
      AGENT_GRACE_SECONDS: String(GRACE_SECONDS), ROUTER_SWEEP_MS: '60000', OFFER_TIMEOUT_SECONDS: '1',
      TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_URL: fake.url, PUBLIC_BASE_URL: PUBLIC,
    });
    redis = new Redis(REDIS_URL);
  });
  afterEach(() => {
    for (const a of open.splice(0)) a.close();
  });
  afterAll(async () => {
    redis.disconnect();
    await t.close();
    await fake.close();
  });

  const wipe = (): Promise<number> => clearRedisPrefix(t.config);
  const stateOf = async (agentId: string) => (await t.app.services.db.query<{ state: string }>('SELECT state FROM agents WHERE id = $1', [agentId])).rows[0]!.state;
  const sweep = () => t.app.services.router.sweepOnce();

  it('signs out no connected agent when presence is wiped, and still signs out one whose console is gone', async () => {
    const q = await createQueue(t, { name: 'wipe' });
    const staying = await createAgent(t, [q]);
    const leaving = await createAgent(t, [q]);
    open.push(staying, leaving);
    for (const a of [staying, leaving]) expect(await a.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    // Past the grace period since their last state change: the presence check covers them.
    await new Promise((r) => setTimeout(r, GRACE_SECONDS * 1000 + 200));
    leaving.close();
    const pushed = staying.states.length;

    expect(await wipe()).toBeGreaterThan(0);
    await sweep();
    expect(await stateOf(staying.agentId)).toBe('available');
    // Sweeps while the presence of the connected agent comes back and the other's stays away.
    const deadline = Date.now() + (GRACE_SECONDS + 5) * 1000;
    while ((await stateOf(leaving.agentId)) !== 'offline' && Date.now() < deadline) {
      await sweep();
      expect(await stateOf(staying.agentId)).toBe('available');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await stateOf(leaving.agentId)).toBe('offline');
    expect(await stateOf(staying.agentId)).toBe('available');
    expect(staying.states.slice(pushed)).toEqual([]);
  });

  /** A chat queue `name` with one available agent. */
  const availableAgentIn = async (name: string): Promise<AgentClient> => {
    const q = await createQueue(t, { name });
    await chatEntry(t, name, q);
    const agent = await createAgent(t, [q]);
    open.push(agent);
    expect(await agent.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    return agent;
  };
  const visitorWritesIn = async (name: string): Promise<void> => {
    const visitor = await chatClient(t.url, { widget: name });
    open.push(visitor);
    expect(await visitor.send('m1', 'hello')).toMatchObject({ ok: true });
  };

  it('still rings offers out with timers scheduled after the wipe (no sweep runs here)', async () => {
    const agent = await availableAgentIn('wipe-timers');
    expect(await wipe()).toBeGreaterThan(0);
    await visitorWritesIn('wipe-timers');
    const offer = await agent.nextOffer();
    await waitFor(() => agent.revoked.some((r) => r.offerId === offer.offerId && r.reason === 'timeout'), 5000, 'the offer rung out');
    expect(await stateOf(agent.agentId)).toBe('away');
  });

  it('rings out, at the next sweep, an offer whose timer Redis lost', async () => {
    const agent = await availableAgentIn('wipe-lost-timer');
    await visitorWritesIn('wipe-lost-timer');
    const offer = await agent.nextOffer();
    expect(await wipe()).toBeGreaterThan(0);
    // Past its ring time (1 s) nothing happens: the timer is gone and no sweep has run.
    await new Promise((r) => setTimeout(r, 1500));
    expect(agent.revoked).toEqual([]);
    await sweep();
    await waitFor(() => agent.revoked.length > 0, 2000, 'the offer rung out');
    expect(agent.revoked).toEqual([{ offerId: offer.offerId, reason: 'timeout' }]);
    expect(await stateOf(agent.agentId)).toBe('away');
  });

  it('sends an SMS reply whose retry was waiting in Redis', async () => {
    const q = await createQueue(t, { name: 'wipe-sms' });
    await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'sms', address: OUR_NUMBER, queueId: q } });
    const agent = await createAgent(t, [q]);
    open.push(agent);
    expect(await agent.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    const params = { MessageSid: `SM${'e'.repeat(32)}`, AccountSid: ACCOUNT_SID, From: '+14155550177', To: OUR_NUMBER, Body: 'my order?', NumMedia: '0' };
    const { headers, body } = signedForm(`${PUBLIC}/twilio/sms`, params);
    expect((await t.app.inject({ method: 'POST', url: '/twilio/sms', headers, payload: body })).statusCode).toBe(200);
    const offer = await agent.nextOffer();
    expect(await agent.emit('offer:accept', { offerId: offer.offerId })).toMatchObject({ ok: true });

    // Twilio fails the first attempt: the outbox job waits in Redis for its retry.
    fake.failMessages = true;
    expect(await agent.emit('interaction:reply', { interactionId: offer.interaction.id, clientMessageId: 'r1', text: 'On its way.' })).toMatchObject({ ok: true });
    const row = async () => (await t.app.services.db.query('SELECT status, attempts, provider_id, last_error FROM outbox WHERE interaction_id = $1', [offer.interaction.id])).rows[0];
    await waitFor(async () => (await row())?.last_error != null, 5000, 'a failed attempt');
    const delayed = async () => redis.zcard(`${t.config.redisKeyPrefix}-bull:outbox:delayed`);
    await waitFor(async () => (await delayed()) > 0, 5000, 'the retry waiting in Redis');
    expect(await wipe()).toBeGreaterThan(0);
    fake.failMessages = false;
    await waitFor(async () => (await row()).provider_id !== null, 20000, 'the reply sent after the wipe');
    expect(await row()).toMatchObject({ status: 'queued' });
    expect(fake.messages.filter((m) => m.body === 'On its way.')).toHaveLength(1);
  }, 30000);
});

describe('Redis out of reach for longer than the grace period', () => {
  // Two processes against one database and Redis, each through a proxy of its own: the one that
  // sweeps, and the one that holds the agent's console. Alone, a process's refreshes queued while
  // Redis was away go out first when it comes back, ahead of a sweep's read; across processes,
  // the sweeper may reconnect before the console's process does.
  let toSweeper: TcpProxy;
  let toConsoles: TcpProxy;
  let sweeper: TestApp;
  let consoles: TestApp;
  let agent: AgentClient | undefined;

  beforeAll(async () => {
    const url = new URL(REDIS_URL);
    toSweeper = await startTcpProxy(url.hostname, Number(url.port || 6379));
    toConsoles = await startTcpProxy(url.hostname, Number(url.port || 6379));
    const config = testConfig({ AGENT_GRACE_SECONDS: String(GRACE_SECONDS), ROUTER_SWEEP_MS: '60000' });
    sweeper = await startApp({}, { ...config, redisUrl: `redis://127.0.0.1:${toSweeper.port}` });
    consoles = await startApp({}, { ...config, redisUrl: `redis://127.0.0.1:${toConsoles.port}` });
  });
  afterAll(async () => {
    agent?.close();
    toSweeper.restore();
    toConsoles.restore();
    await consoles.app.close();
    await sweeper.close();
    await Promise.all([toSweeper.close(), toConsoles.close()]);
  });

  it("signs out no agent whose presence expired meanwhile, when the sweeper is back before the console's process", async () => {
    const q = await createQueue(sweeper, { name: 'outage' });
    agent = await createAgent(consoles, [q]);
    expect(await agent.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, GRACE_SECONDS * 1000 + 200));
    const stateOf = async () => (await sweeper.app.services.db.query<{ state: string }>('SELECT state FROM agents WHERE id = $1', [agent!.agentId])).rows[0]!.state;
    // The state pushed on connect reads the agent's row, so it may say offline or, if the read came
    // after state:set, available: count what came before the outage.
    const offlineBefore = agent.states.filter((s) => s.state === 'offline').length;
    // Out of reach for longer than the grace period: Redis expires the presence key meanwhile.
    toSweeper.cut();
    toConsoles.cut();
    await new Promise((r) => setTimeout(r, GRACE_SECONDS * 1000 + 500));
    toSweeper.restore();
    await waitFor(() => sweeper.app.services.redis.status === 'ready', 10000, 'the sweeper reconnected');
    // The console's process is back a little later (at its next attempt); the sweeper sweeps all along.
    toConsoles.restore();
    const deadline = Date.now() + 3500;
    while (Date.now() < deadline) {
      await sweeper.app.services.router.sweepOnce();
      expect(await stateOf()).toBe('available');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(agent.states.filter((s) => s.state === 'offline')).toHaveLength(offlineBefore);
  });
});
