import { bearer, startApp, waitFor, type TestApp } from '../support/app';
import { createAgent, createQueue } from '../support/agent';
import { ACCOUNT_SID, AUTH_TOKEN, signedForm, startFakeTwilio, type FakeTwilio } from '../support/fake-twilio';

const PUBLIC = 'https://switchboard.example.com';
const OUR_NUMBER = '+15005550006';
let sidCounter = 0;
const messageSid = () => `SM${(++sidCounter).toString(16).padStart(32, '0')}`;

describe('SMS through Twilio', () => {
  let fake: FakeTwilio;
  let t: TestApp;
  beforeAll(async () => {
    fake = await startFakeTwilio();
    t = await startApp({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_URL: fake.url, PUBLIC_BASE_URL: PUBLIC, OFFER_TIMEOUT_SECONDS: '10' });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });
  const webhook = (path: string, params: Record<string, string>, opts: { sign?: 'ok' | 'none' | 'tampered' | 'wrong-url' } = {}) => {
    const { headers, body } = signedForm(`${PUBLIC}${path}`, params);
    if (opts.sign === 'none') delete (headers as Record<string, string>)['x-twilio-signature'];
    if (opts.sign === 'wrong-url') headers['x-twilio-signature'] = signedForm(`http://evil.example${path}`, params).headers['x-twilio-signature'];
    const payload = opts.sign === 'tampered' ? body.replace('Body=', 'Body=PWNED') : body;
    return t.app.inject({ method: 'POST', url: path, headers, payload });
  };
  const inbound = (from: string, text: string, sid = messageSid()) => ({ MessageSid: sid, AccountSid: ACCOUNT_SID, From: from, To: OUR_NUMBER, Body: text, NumMedia: '0' });
  const events = async () => Number((await t.app.services.db.query('SELECT count(*) AS n FROM events')).rows[0].n);

  it('stores one signed webhook replayed 10 times concurrently once', async () => {
    const params = inbound('+14155550123', 'hello from my phone');
    const results = await Promise.all(Array.from({ length: 10 }, () => webhook('/twilio/sms', params)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    expect(results[0]!.headers['content-type']).toContain('text/xml');
    expect(results[0]!.body).toContain('<Response/>');
    const { rows } = await t.app.services.db.query("SELECT count(*)::int AS n FROM events WHERE type = 'message.received' AND payload ->> 'providerId' = $1", [params.MessageSid]);
    expect(rows[0].n).toBe(1);
  });

  it('refuses unsigned, tampered and wrongly signed webhooks with 403 and stores nothing', async () => {
    const before = await events();
    for (const sign of ['none', 'tampered', 'wrong-url'] as const) {
      const res = await webhook('/twilio/sms', inbound('+14155550124', 'sneaky'), { sign });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('SB_FORBIDDEN');
    }
    const res = await webhook('/twilio/sms', { ...inbound('+14155550124', 'x'), From: 'not a number' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/From/);
    expect(await events()).toBe(before);
  });

  it('answers 503 when Twilio is not configured', async () => {
    const bare = await startApp();
    try {
      const { headers, body } = signedForm(`http://localhost:3000/twilio/sms`, inbound('+14155550125', 'x'));
      const res = await bare.app.inject({ method: 'POST', url: '/twilio/sms', headers, payload: body });
      expect(res.statusCode).toBe(503);
    } finally {
      await bare.close();
    }
  });

  it('round trip: inbound text → agent → reply sent once at Twilio → delivery status, in any order, on the history item', async () => {
    const q = await createQueue(t, { name: 'sms' });
    const ep = await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'sms', address: OUR_NUMBER, queueId: q } });
    expect(ep.statusCode).toBe(201);
    const agent = await createAgent(t, [q]);
    await agent.emit('state:set', { state: 'available' });
    const offered = agent.nextOffer();
    expect((await webhook('/twilio/sms', inbound('(415) 555-0199', 'is my order shipped?'))).statusCode).toBe(200);
    const offer = await offered;
    expect(offer.interaction).toMatchObject({ channel: 'sms', preview: 'is my order shipped?' });
    expect(offer.customer.identities).toEqual([{ kind: 'phone', value: '+14155550199' }]);
    await agent.emit('offer:accept', { offerId: offer.offerId });
    // The customer writes again: same conversation, straight to the agent.
    await webhook('/twilio/sms', inbound('+14155550199', 'order 1234'));
    await waitFor(() => agent.messages.some((m) => m.text === 'order 1234'), 5000, 'second text at the agent');

    const reply = { interactionId: offer.interaction.id, clientMessageId: 'r1', text: 'It ships today.' };
    const [a1, a2] = await Promise.all([agent.emit('interaction:reply', reply), agent.emit('interaction:reply', reply)]);
    expect([a1.ok, a2.ok]).toEqual([true, true]);
    await waitFor(() => fake.messages.length === 1, 10000, 'the reply at Twilio');
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.messages).toHaveLength(1);
    expect(fake.messages[0]).toMatchObject({ to: '+14155550199', from: OUR_NUMBER, body: 'It ships today.' });
    expect(fake.messages[0]!.statusCallback).toMatch(new RegExp(`^${PUBLIC}/twilio/sms/status\\?outboxId=`));
    const sid = fake.messages[0]!.sid;
    await waitFor(async () => (await t.app.services.db.query('SELECT provider_id FROM outbox WHERE provider_id = $1', [sid])).rows.length === 1, 5000, 'provider id recorded');

    // Callbacks out of order and repeated: the status only moves forward.
    for (const status of ['sent', 'delivered', 'sent', 'queued', 'delivered']) expect(await fake.sendStatus(sid, status, t.url)).toBe(204);
    const { rows } = await t.app.services.db.query('SELECT status FROM outbox WHERE provider_id = $1', [sid]);
    expect(rows[0].status).toBe('delivered');
    const history = await t.app.inject({ method: 'GET', url: `/api/customers/${offer.customer.id}/history`, headers: bearer(t.adminToken) });
    const sent = history.json().items.find((i: { type: string }) => i.type === 'message.sent');
    expect(sent).toMatchObject({ channel: 'sms', direction: 'out', text: 'It ships today.', data: { delivery: 'delivered' } });
    const receipts = await t.app.services.db.query('SELECT status, applied FROM delivery_receipts WHERE provider_id = $1 ORDER BY received_at', [sid]);
    expect(receipts.rows).toEqual([{ status: 'sent', applied: true }, { status: 'delivered', applied: true }, { status: 'queued', applied: false }]);
    agent.close();
  });
});
