import { bearer, chatClient, login, startApp, type TestApp } from '../support/app';

describe('admin REST: queues, agents, entry points', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });
  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) => t.app.inject({ method, url, payload, headers: bearer(t.adminToken) });

  it('creates queues with defaults and refuses a duplicate name', async () => {
    const res = await call('POST', '/api/queues', { name: 'Sales', skills: { spanish: 3 }, priority: 5, slaSeconds: 30, channels: ['chat', 'sms'], script: 'Greet warmly.' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ name: 'Sales', skills: { spanish: 3 }, priority: 5, slaSeconds: 30, channels: ['chat', 'sms'], script: 'Greet warmly.', strategy: 'longest-idle' });
    const plain = await call('POST', '/api/queues', { name: 'General' });
    expect(plain.json()).toMatchObject({ priority: 0, slaSeconds: 20, channels: ['voice', 'sms', 'email', 'chat'], skills: {} });
    const dup = await call('POST', '/api/queues', { name: 'Sales' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('SB_ALREADY_EXISTS');
    expect((await call('GET', '/api/queues')).json().map((q: { name: string }) => q.name)).toEqual(['General', 'Sales']);
  });

  it('creates an agent with a login, skills, queues and capacity; patches and sets state', async () => {
    const queues = (await call('GET', '/api/queues')).json();
    const res = await call('POST', '/api/agents', { name: 'Ana', username: 'ana', password: 'ana-password', skills: { spanish: 4 }, queueIds: [queues[1].id], capacity: { chat: 5 } });
    expect(res.statusCode).toBe(201);
    const agent = res.json();
    expect(agent).toMatchObject({ name: 'Ana', username: 'ana', role: 'agent', skills: { spanish: 4 }, queueIds: [queues[1].id], capacity: { voice: 1, chat: 5, sms: 3, email: 5 }, state: 'offline', load: { voice: 0, chat: 0, sms: 0, email: 0 } });
    const token = await login(t.app, 'ana', 'ana-password');
    expect(token).toEqual(expect.any(String));

    const dup = await call('POST', '/api/agents', { name: 'Other', username: 'ana', password: 'other-password', queueIds: [] });
    expect(dup.statusCode).toBe(409);
    expect((await t.app.services.db.query("SELECT count(*)::int AS n FROM agents WHERE name = 'Other'")).rows[0].n).toBe(0);

    const patched = await call('PATCH', `/api/agents/${agent.id}`, { queueIds: [queues[0].id, queues[1].id], capacity: { email: 2 }, password: 'new-password-1' });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ capacity: { chat: 5, email: 2 }, queueIds: [queues[0].id, queues[1].id].sort() });
    await login(t.app, 'ana', 'new-password-1');

    const away = await call('POST', `/api/agents/${agent.id}/state`, { state: 'away', reason: 'lunch' });
    expect(away.json()).toMatchObject({ state: 'away', stateReason: 'lunch' });
    const list = await call('GET', '/api/agents');
    expect(list.json()).toHaveLength(1);
  });

  it('logs each state change once, with its actor; the same state again changes and logs nothing; an unknown agent is a 404', async () => {
    const res = await call('POST', '/api/agents', { name: 'Bo', username: 'bo', password: 'bo-password', queueIds: [] });
    const bo = res.json();
    const db = t.app.services.db;
    const log = async () => (await db.query('SELECT state, reason, actor FROM agent_state_log WHERE agent_id = $1 ORDER BY id', [bo.id])).rows;
    const row = async () => (await db.query('SELECT state, state_reason, last_idle_at FROM agents WHERE id = $1', [bo.id])).rows[0];

    expect((await call('POST', `/api/agents/${bo.id}/state`, { state: 'available' })).json()).toMatchObject({ state: 'available', stateReason: null });
    const firstIdle = (await row()).last_idle_at;
    // Available again: no change, no log line, and its idle time stands.
    expect((await call('POST', `/api/agents/${bo.id}/state`, { state: 'available' })).json()).toMatchObject({ state: 'available' });
    expect((await row()).last_idle_at).toEqual(firstIdle);
    // Away for lunch, then for a break: each reason is a change of its own.
    await call('POST', `/api/agents/${bo.id}/state`, { state: 'away', reason: 'lunch' });
    await call('POST', `/api/agents/${bo.id}/state`, { state: 'away', reason: 'lunch' });
    await call('POST', `/api/agents/${bo.id}/state`, { state: 'away', reason: 'break' });
    expect(await row()).toMatchObject({ state: 'away', state_reason: 'break', last_idle_at: firstIdle });
    await call('POST', `/api/agents/${bo.id}/state`, { state: 'available' });
    expect((await row()).last_idle_at.getTime()).toBeGreaterThan(firstIdle.getTime());
    const who = expect.stringMatching(/^supervisor:/);
    expect(await log()).toEqual([
      { state: 'available', reason: null, actor: who },
      { state: 'away', reason: 'lunch', actor: who },
      { state: 'away', reason: 'break', actor: who },
      { state: 'available', reason: null, actor: who },
    ]);

    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const state of ['available', 'away', 'offline']) {
      const r = await call('POST', `/api/agents/${unknown}/state`, { state });
      expect(r.statusCode).toBe(404);
      expect(r.json().error.code).toBe('SB_NOT_FOUND');
    }
    expect((await db.query('SELECT count(*)::int AS n FROM agent_state_log WHERE agent_id = $1', [unknown])).rows[0].n).toBe(0);
  });

  it('routes a chat widget to its own queue, and repoints an address with a second POST', async () => {
    const [general, sales] = (await call('GET', '/api/queues')).json();
    const first = await call('POST', '/api/entry-points', { channel: 'chat', address: 'pricing-page', queueId: general.id });
    expect(first.statusCode).toBe(201);
    const again = await call('POST', '/api/entry-points', { channel: 'chat', address: 'pricing-page', queueId: sales.id });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: first.json().id, queueId: sales.id });
    const phone = await call('POST', '/api/entry-points', { channel: 'sms', address: '(415) 555-0123', queueId: sales.id });
    expect(phone.json().address).toBe('+14155550123');
    // A queue that takes only chats refuses an SMS number, naming why; nothing is written.
    const chatOnly = await call('POST', '/api/queues', { name: 'chat-only', channels: ['chat'] });
    const refused = await call('POST', '/api/entry-points', { channel: 'sms', address: '(415) 555-0124', queueId: chatOnly.json().id });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.message).toMatch(/chat-only does not take sms/);
    expect((await call('GET', '/api/entry-points')).json().some((e: { address: string }) => e.address === '+14155550124')).toBe(false);

    const c = await chatClient(t.url, { widget: 'pricing-page' });
    await c.send('w1', 'how much?');
    const { rows } = await t.app.services.db.query('SELECT queue_id, entry_point_id FROM interactions WHERE id = $1', [c.session.interactionId]);
    expect(rows[0]).toEqual({ queue_id: sales.id, entry_point_id: first.json().id });
    c.close();
  });
});
