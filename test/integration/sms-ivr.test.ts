import { bearer, startApp, waitFor, type TestApp } from '../support/app';
import { createQueue } from '../support/agent';
import { ACCOUNT_SID, AUTH_TOKEN, signedForm, startFakeTwilio, type FakeTwilio } from '../support/fake-twilio';

const PUBLIC = 'https://switchboard.example.com';
const OUR_NUMBER = '+15005550030';

describe('the same IVR flow as an SMS menu', () => {
  let fake: FakeTwilio;
  let t: TestApp;
  let queue: string;
  beforeAll(async () => {
    fake = await startFakeTwilio();
    t = await startApp({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_URL: fake.url, PUBLIC_BASE_URL: PUBLIC });
    queue = await createQueue(t, { name: 'sms-ivr' });
    const flow = {
      start: 'menu',
      nodes: {
        menu: { type: 'menu', prompt: 'Hi! What do you need?', options: { '1': 'agent', '2': 'bye' }, labels: { '1': 'Talk to us', '2': 'Nothing, thanks' } },
        agent: { type: 'enqueue', queueId: queue },
        bye: { type: 'hangup', text: 'Goodbye.' },
      },
    };
    expect((await t.app.inject({ method: 'PUT', url: '/api/flows/sms', headers: bearer(t.adminToken), payload: flow })).statusCode).toBe(200);
    await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'sms', address: OUR_NUMBER, flowId: 'sms' } });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });
  let n = 0;
  const text = (from: string, body: string, sid = `SM${(++n).toString(16).padStart(32, 'f')}`) => {
    const { headers, body: form } = signedForm(`${PUBLIC}/twilio/sms`, { MessageSid: sid, From: from, To: OUR_NUMBER, Body: body });
    return t.app.inject({ method: 'POST', url: '/twilio/sms', headers, payload: form });
  };
  const sentTo = (to: string) => fake.messages.filter((m) => m.to === to).map((m) => m.body);

  it('answers the first text with the menu, and a choice puts the conversation in the queue', async () => {
    const first = await text('+14155550191', 'hello?');
    expect(first.statusCode).toBe(200);
    await waitFor(() => sentTo('+14155550191').length === 1, 10000, 'the menu by SMS');
    expect(sentTo('+14155550191')[0]).toContain('Hi! What do you need?');
    expect(sentTo('+14155550191')[0]).toContain('Reply 1 for Talk to us.');
    const sid = `SM${'9'.repeat(32)}`;
    await Promise.all([text('+14155550191', '1', sid), text('+14155550191', '1', sid)]); // a retried webhook
    await waitFor(() => sentTo('+14155550191').length === 2, 10000, 'the confirmation');
    await new Promise((r) => setTimeout(r, 300));
    expect(sentTo('+14155550191')).toHaveLength(2);
    const { rows } = await t.app.services.db.query("SELECT id, state, queue_id FROM interactions WHERE channel = 'sms' AND attributes ->> 'customerAddress' = '+14155550191'");
    expect(rows).toEqual([{ id: expect.any(String), state: 'queued', queue_id: queue }]);
    const steps = (await t.app.services.db.query("SELECT payload FROM events WHERE interaction_id = $1 AND type = 'ivr.step' ORDER BY seq", [rows[0].id])).rows;
    expect(steps.map((s) => s.payload.input)).toEqual(['hello?', '1']);
  });

  it('a goodbye closes the conversation; the next text starts the menu again', async () => {
    await text('+14155550192', 'hey');
    await waitFor(() => sentTo('+14155550192').length === 1, 10000, 'menu');
    await text('+14155550192', '2');
    await waitFor(() => sentTo('+14155550192').length === 2, 10000, 'goodbye');
    expect(sentTo('+14155550192')[1]).toContain('Goodbye.');
    await text('+14155550192', 'back again');
    await waitFor(() => sentTo('+14155550192').length === 3, 10000, 'menu again');
    expect(sentTo('+14155550192')[2]).toContain('Hi! What do you need?');
    const { rows } = await t.app.services.db.query("SELECT state, outcome FROM interactions WHERE attributes ->> 'customerAddress' = '+14155550192' ORDER BY created_at");
    expect(rows).toEqual([{ state: 'closed', outcome: 'cancelled' }, { state: 'ivr', outcome: null }]);
    const closed = await t.app.services.db.query("SELECT e.payload FROM events e JOIN interactions i ON i.id = e.interaction_id WHERE i.attributes ->> 'customerAddress' = '+14155550192' AND e.type = 'interaction.closed'");
    expect(closed.rows).toEqual([{ payload: { reason: 'ivr-hangup', outcome: 'cancelled' } }]);
  });
});
