import { chatClient, bearer, seedQueueAndAgent, startApp, waitFor, type TestApp } from '../support/app';

describe('/chat namespace', () => {
  let t: TestApp;
  let queueId: string;

  beforeAll(async () => {
    t = await startApp();
    ({ queueId } = await seedQueueAndAgent(t, 'chat'));
    const ep = await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'chat', address: '*', queueId } });
    expect(ep.statusCode).toBe(201);
  });
  afterAll(async () => {
    await t.close();
  });

  const count = async (sql: string, params: unknown[] = []) => Number((await t.app.services.db.query(sql, params)).rows[0].n);

  it('issues a resumable visitor token and lands the first message in the entry point queue', async () => {
    const c = await chatClient(t.url);
    expect(c.session.visitorToken).toEqual(expect.any(String));
    const ack = await c.send('m1', 'hello, I need help');
    expect(ack).toMatchObject({ ok: true, duplicate: false, interactionId: c.session.interactionId });
    const { rows } = await t.app.services.db.query('SELECT state, queue_id, channel, customer_id FROM interactions WHERE id = $1', [c.session.interactionId]);
    expect(rows[0]).toMatchObject({ state: 'queued', queue_id: queueId, channel: 'chat', customer_id: c.session.customerId });
    c.close();

    const resumed = await chatClient(t.url, { visitorToken: c.session.visitorToken });
    expect(resumed.session).toMatchObject({ customerId: c.session.customerId, interactionId: c.session.interactionId });
    await waitFor(() => resumed.messages.length === 1, 5000, 'replayed message');
    expect(resumed.messages[0]).toMatchObject({ text: 'hello, I need help', from: 'customer', seq: 2 });
    resumed.close();
  });

  it('stores 50 concurrent sends of one clientMessageId once; 49 acks say duplicate', async () => {
    const c = await chatClient(t.url);
    const acks = await Promise.all(Array.from({ length: 50 }, () => c.send('same-id', 'only once please')));
    expect(acks.every((a) => a.ok === true)).toBe(true);
    expect(acks.filter((a) => a.duplicate === true)).toHaveLength(49);
    expect(new Set(acks.map((a) => a.messageId)).size).toBe(1);
    expect(await count("SELECT count(*) AS n FROM events WHERE interaction_id = $1 AND type = 'message.received'", [c.session.interactionId])).toBe(1);
    const history = await t.app.inject({ method: 'GET', url: `/api/customers/${c.session.customerId}/history`, headers: bearer(t.adminToken) });
    expect(history.json().items.filter((i: { type: string }) => i.type === 'message.received')).toHaveLength(1);
    c.close();
  });

  it('delivers concurrent sends from five tabs of one visitor into one conversation, seen by every tab', async () => {
    const first = await chatClient(t.url);
    const tabs = await Promise.all(Array.from({ length: 5 }, () => chatClient(t.url, { visitorToken: first.session.visitorToken })));
    const acks = await Promise.all(tabs.flatMap((tab, i) => Array.from({ length: 10 }, (_, j) => tab.send(`tab${i}-${j}`, `message ${i}/${j}`))));
    expect(acks.every((a) => a.ok && !a.duplicate)).toBe(true);
    expect(new Set(acks.map((a) => a.interactionId)).size).toBe(1);
    const interactionId = acks[0].interactionId;
    const { rows } = await t.app.services.db.query('SELECT seq FROM events WHERE interaction_id = $1 ORDER BY seq', [interactionId]);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1)); // gapless: queued + 50 messages
    for (const tab of tabs) await waitFor(() => tab.messages.length >= 50, 5000, 'fan-out to every tab');
    [first, ...tabs].forEach((c) => c.close());
  });

  it('replays only what a reconnecting visitor missed (after lastSeq)', async () => {
    const c = await chatClient(t.url);
    for (const [i, text] of ['one', 'two', 'three'].entries()) await c.send(`r${i}`, text);
    c.close();
    // seq 1 is interaction.queued; 'one' is 2, 'two' 3, 'three' 4.
    const resumed = await chatClient(t.url, { visitorToken: c.session.visitorToken, lastSeq: 2 });
    await waitFor(() => resumed.messages.length === 2, 5000, 'replay');
    expect(resumed.messages.map((m) => m.text)).toEqual(['two', 'three']);
    resumed.close();
  });

  it('ends a chat: the interaction closes, and the next message opens a new one for the same customer', async () => {
    const c = await chatClient(t.url);
    await c.send('e1', 'bye soon');
    const ended = new Promise((resolve) => c.socket.once('ended', resolve));
    const ack = await c.emitAck('end', {});
    expect(ack).toMatchObject({ ok: true, interactionId: c.session.interactionId });
    await ended;
    const { rows } = await t.app.services.db.query('SELECT state, closed_at FROM interactions WHERE id = $1', [c.session.interactionId]);
    expect(rows[0].state).toBe('closed');
    expect(rows[0].closed_at).not.toBeNull();
    const again = await c.send('e2', 'one more question');
    expect(again.ok).toBe(true);
    expect(again.interactionId).not.toBe(c.session.interactionId);
    const { rows: cust } = await t.app.services.db.query('SELECT customer_id FROM interactions WHERE id = $1', [again.interactionId]);
    expect(cust[0].customer_id).toBe(c.session.customerId);
    c.close();
  });

  it('never shows one visitor another visitor\'s conversation', async () => {
    const alice = await chatClient(t.url);
    const bob = await chatClient(t.url);
    await alice.send('a1', 'alice private message');
    await bob.send('b1', 'bob message');
    await waitFor(() => bob.messages.length >= 1, 5000, 'bob echo');
    expect(bob.messages.every((m) => m.text !== 'alice private message')).toBe(true);
    expect(alice.session.interactionId).not.toBe(bob.session.interactionId);
    // A token that was not issued by us, or a staff token, is refused.
    await expect(chatClient(t.url, { visitorToken: `${alice.session.visitorToken}x` })).rejects.toMatchObject({ data: { code: 'SB_UNAUTHORIZED' } });
    await expect(chatClient(t.url, { visitorToken: t.adminToken })).rejects.toMatchObject({ data: { code: 'SB_UNAUTHORIZED' } });
    // Bob's resumed session replays only Bob's conversation.
    const bob2 = await chatClient(t.url, { visitorToken: bob.session.visitorToken });
    await waitFor(() => bob2.messages.length === 1, 5000, 'bob replay');
    expect(bob2.messages[0]!.text).toBe('bob message');
    [alice, bob, bob2].forEach((c) => c.close());
  });

  it('answers bad messages with an error ack naming the problem and stores nothing', async () => {
    const c = await chatClient(t.url);
    const before = await count('SELECT count(*) AS n FROM events');
    const cases: Array<[unknown, string]> = [
      ['just a string', 'SB_VALIDATION'],
      [{ text: 'no id' }, 'SB_VALIDATION'],
      [{ clientMessageId: 42, text: 'numeric id' }, 'SB_VALIDATION'],
      [{ clientMessageId: 'x1', text: '   ' }, 'SB_VALIDATION'],
      [{ clientMessageId: 'x2', text: 7 }, 'SB_VALIDATION'],
      [{ clientMessageId: 'x3', text: 'a'.repeat(t.config.maxMessageLength + 1) }, 'SB_MESSAGE_TOO_LONG'],
    ];
    for (const [payload, code] of cases) {
      const ack = await c.emitAck('message', payload);
      expect(ack).toMatchObject({ ok: false, error: { code } });
      expect(ack.error.message).toEqual(expect.any(String));
    }
    expect(await count('SELECT count(*) AS n FROM events')).toBe(before);
    // The socket still works afterwards.
    expect((await c.send('ok1', 'still here')).ok).toBe(true);
    c.close();
  });
});
