import { io as ioClient } from 'socket.io-client';
import { bearer, chatClient, startApp, waitFor, type TestApp } from '../support/app';
import { chatEntry, createAgent, createQueue, type AgentClient } from '../support/agent';

/** Recompute QueueStats for one queue from raw rows, independently of the server's SQL. */
async function recompute(t: TestApp, queueId: string) {
  const db = t.app.services.db;
  const now = Date.now();
  const interactions = (await db.query('SELECT state, queued_at, outcome, closed_at FROM interactions WHERE queue_id = $1', [queueId])).rows;
  const offers = (await db.query("SELECT o.queued_at, o.decided_at, o.released_at FROM offers o WHERE o.queue_id = $1 AND o.state = 'accepted'", [queueId])).rows;
  const sla = (await db.query('SELECT sla_seconds FROM queues WHERE id = $1', [queueId])).rows[0].sla_seconds;
  const agents = (await db.query(
    `SELECT a.state, (SELECT count(*)::int FROM interactions i WHERE i.agent_id = a.id AND i.state IN ('offered','active','wrapup')) AS load
       FROM agents a JOIN agent_queues aq ON aq.agent_id = a.id WHERE aq.queue_id = $1`, [queueId])).rows;
  const day = 24 * 3600 * 1000;
  const answered = offers.filter((o) => now - o.decided_at.getTime() < day);
  const waits = answered.map((o) => (o.decided_at.getTime() - o.queued_at.getTime()) / 1000);
  const handles = offers.filter((o) => o.released_at && now - o.released_at.getTime() < day).map((o) => (o.released_at.getTime() - o.decided_at.getTime()) / 1000);
  const queued = interactions.filter((i) => i.state === 'queued');
  const avg = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);
  return {
    waiting: queued.length,
    longestWaitSeconds: queued.length ? Math.floor((now - Math.min(...queued.map((i) => i.queued_at.getTime()))) / 1000) : 0,
    offered: interactions.filter((i) => i.state === 'offered').length,
    active: interactions.filter((i) => i.state === 'active').length,
    wrapup: interactions.filter((i) => i.state === 'wrapup').length,
    agentsAvailable: agents.filter((a) => a.state === 'available' && a.load === 0).length,
    agentsBusy: agents.filter((a) => a.state !== 'offline' && a.load > 0).length,
    agentsAway: agents.filter((a) => a.state === 'away' && a.load === 0).length,
    answered: answered.length,
    abandoned: interactions.filter((i) => i.outcome === 'abandoned' && now - i.closed_at.getTime() < day).length,
    serviceLevel: answered.length ? waits.filter((w) => w <= sla).length / answered.length : null,
    avgWaitSeconds: avg(waits),
    avgHandleSeconds: avg(handles),
  };
}

describe('supervisor statistics', () => {
  let t: TestApp;
  const agents: AgentClient[] = [];
  beforeAll(async () => {
    t = await startApp({ OFFER_TIMEOUT_SECONDS: '5', ROUTER_SWEEP_MS: '200' });
  });
  afterAll(async () => {
    agents.forEach((a) => a.close());
    await t.close();
  });

  it('GET /api/stats/queues equals the figures recomputed from raw rows after a scripted scenario', async () => {
    const q = await createQueue(t, { name: 'stats', slaSeconds: 1 });
    await chatEntry(t, 'stats', q);
    const a = await createAgent(t, [q], { capacity: { chat: 2 } });
    const b = await createAgent(t, [q], { capacity: { chat: 1 } });
    const idle = await createAgent(t, [q]);
    agents.push(a, b, idle);
    await idle.emit('state:set', { state: 'away', reason: 'lunch' });

    // Five customers: two answered fast, one answered after a wait past the SLA, one abandoned, one waiting.
    const customers = [];
    for (let n = 0; n < 5; n++) {
      const c = await chatClient(t.url, { widget: 'stats' });
      await c.send('m', `customer ${n}`);
      customers.push(c);
    }
    await customers[3]!.emitAck('end', {}); // abandoned while waiting
    await new Promise((r) => setTimeout(r, 1200)); // the rest now wait past the 1 s SLA
    await a.emit('state:set', { state: 'available' });
    await waitFor(() => a.offers.length === 2, 5000, 'two offers to a');
    for (const o of a.offers) await a.emit('offer:accept', { offerId: o.offerId });
    const first = a.offers[0]!.interaction.id;
    await a.emit('interaction:end', { interactionId: first });
    await a.emit('interaction:wrapup', { interactionId: first, disposition: 'done' });
    await waitFor(() => a.offers.length === 3, 5000, 'third offer to a');
    await a.emit('offer:accept', { offerId: a.offers[2]!.offerId });
    await a.emit('interaction:end', { interactionId: a.offers[1]!.interaction.id }); // in wrap-up
    // b never goes available: one customer keeps waiting.

    const res = await t.app.inject({ method: 'GET', url: '/api/stats/queues', headers: bearer(t.adminToken) });
    expect(res.statusCode).toBe(200);
    const stats = res.json().find((s: { queueId: string }) => s.queueId === q);
    const expected = await recompute(t, q);
    const { longestWaitSeconds, serviceLevel, avgWaitSeconds, avgHandleSeconds, ...counts } = stats;
    const { longestWaitSeconds: lw, serviceLevel: sl, avgWaitSeconds: aw, avgHandleSeconds: ah, ...expectedCounts } = expected;
    expect(counts).toMatchObject(expectedCounts);
    expect(Math.abs(longestWaitSeconds - lw)).toBeLessThanOrEqual(1);
    expect(serviceLevel).toBeCloseTo(sl!, 3);
    expect(avgWaitSeconds).toBeCloseTo(aw!, 1);
    expect(avgHandleSeconds).toBeCloseTo(ah!, 1);
    // And the scenario is what we think it is.
    expect(expectedCounts).toMatchObject({ waiting: 1, active: 1, wrapup: 1, answered: 3, abandoned: 1, agentsAway: 1, agentsBusy: 1 });
    expect(sl).toBe(0); // everyone waited past the 1 s SLA
    customers.forEach((c) => c.close());
  });

  it('pushes stats to /supervisor on connect and every second while watched', async () => {
    const supervisor = ioClient(`${t.url}/supervisor`, { auth: { token: t.adminToken }, transports: ['websocket'], reconnection: false, forceNew: true });
    const received: Array<{ queues: Array<{ name: string; waiting: number }>; agents: unknown[]; at: string }> = [];
    supervisor.on('stats', (s) => received.push(s));
    await waitFor(() => received.length >= 2, 5000, 'two pushes');
    expect(received[0]!.queues.map((q) => q.name)).toContain('stats');
    expect(received[0]!.agents.length).toBeGreaterThanOrEqual(3);
    supervisor.disconnect();
  });
});
