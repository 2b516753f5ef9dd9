import { bearer, login, startApp, waitFor, type TestApp } from '../support/app';
import { createQueue } from '../support/agent';
import { ACCOUNT_SID, AUTH_TOKEN, signedForm, startFakeTwilio, type FakeTwilio } from '../support/fake-twilio';

const PUBLIC = 'https://switchboard.example.com';
const OUR_NUMBER = '+15005550020';

describe('POST /api/interactions (agent-started conversations)', () => {
  let fake: FakeTwilio;
  let t: TestApp;
  let agentToken: string;
  let agentId: string;
  let customerId: string;
  beforeAll(async () => {
    fake = await startFakeTwilio();
    t = await startApp({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_URL: fake.url, PUBLIC_BASE_URL: PUBLIC });
    const q = await createQueue(t, { name: 'outbound' });
    for (const channel of ['sms', 'voice']) {
      await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel, address: OUR_NUMBER, queueId: q } });
    }
    const a = await t.app.inject({ method: 'POST', url: '/api/agents', headers: bearer(t.adminToken), payload: { name: 'Out', username: 'out', password: 'agent-password', queueIds: [q] } });
    agentId = a.json().id;
    agentToken = await login(t.app, 'out', 'agent-password');
    customerId = (await t.app.services.ingest.ingest({
      idempotencyKey: 'seed-customer', type: 'note.added', channel: null, direction: 'internal', occurredAt: new Date(),
      payload: { text: 'known customer' }, customer: { identity: { kind: 'phone', value: '+14155550181' } }, interaction: { kind: 'none' },
    })).customerId;
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });
  const start = (payload: object, token = agentToken) => t.app.inject({ method: 'POST', url: '/api/interactions', headers: bearer(token), payload });

  it('starts an SMS conversation: sent once through the outbox, owned by the agent, in the history', async () => {
    const res = await start({ customerId, channel: 'sms', text: 'Your order is ready.' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ channel: 'sms', direction: 'out', state: 'active', agentId });
    await waitFor(() => fake.messages.length === 1, 10000, 'the SMS at Twilio');
    expect(fake.messages[0]).toMatchObject({ to: '+14155550181', from: OUR_NUMBER, body: 'Your order is ready.' });
    // The customer answers: the same conversation.
    const { headers, body } = signedForm(`${PUBLIC}/twilio/sms`, { MessageSid: `SM${'e'.repeat(32)}`, From: '+14155550181', To: OUR_NUMBER, Body: 'thanks!' });
    await t.app.inject({ method: 'POST', url: '/twilio/sms', headers, payload: body });
    const events = (await t.app.services.db.query('SELECT type FROM events WHERE interaction_id = $1 ORDER BY seq', [res.json().id])).rows.map((r) => r.type);
    expect(events).toEqual(['message.sent', 'message.received']);
    // A second start on the same open conversation is refused.
    expect((await start({ customerId, channel: 'sms', text: 'again' })).statusCode).toBe(409);
  });

  it('starts a call: rings the agent softphone, whose leg dials the customer', async () => {
    const res = await start({ customerId, channel: 'voice' });
    expect(res.statusCode).toBe(201);
    const id = res.json().id;
    expect(fake.calls.at(-1)).toMatchObject({ to: `client:agent-${agentId}`, from: OUR_NUMBER, url: `${PUBLIC}/twilio/voice/agent?interactionId=${id}` });
    const leg = fake.calls.at(-1)!;
    const { headers, body } = signedForm(`${PUBLIC}/twilio/voice/agent?interactionId=${id}`, { CallSid: leg.sid });
    const twiml = await t.app.inject({ method: 'POST', url: `/twilio/voice/agent?interactionId=${id}`, headers, payload: body });
    expect(twiml.body).toContain('<Number>+14155550181</Number>');
    // The leg's completion ends the call: wrap-up for the agent, duration in history.
    const status = signedForm(`${PUBLIC}/twilio/voice/status`, { CallSid: leg.sid, CallStatus: 'completed', CallDuration: '61' });
    expect((await t.app.inject({ method: 'POST', url: '/twilio/voice/status', headers: status.headers, payload: status.body })).statusCode).toBe(204);
    const row = (await t.app.services.db.query('SELECT state FROM interactions WHERE id = $1', [id])).rows[0];
    expect(row.state).toBe('wrapup');
  });

  it('refuses bad requests clearly', async () => {
    expect((await start({ customerId, channel: 'sms' })).json().error.message).toMatch(/text/);
    expect((await start({ customerId: '00000000-0000-0000-0000-000000000000', channel: 'sms', text: 'x' })).statusCode).toBe(404);
    expect((await start({ customerId, channel: 'fax', text: 'x' })).statusCode).toBe(400);
    expect((await start({ customerId, channel: 'sms', text: 'x' }, t.adminToken)).statusCode).toBe(403);
  });
});
