import { bearer, startApp, waitFor, type TestApp } from '../support/app';
import { createAgent, createQueue, type AgentClient } from '../support/agent';
import { ACCOUNT_SID, AUTH_TOKEN, signedForm, startFakeTwilio, type FakeTwilio } from '../support/fake-twilio';

const PUBLIC = 'https://switchboard.example.com';
const OUR_NUMBER = '+15005550008';
let n = 0;
const callSid = () => `CA${(++n).toString(16).padStart(32, 'a')}`;

describe('voice calls through Twilio', () => {
  let fake: FakeTwilio;
  let t: TestApp;
  let agent: AgentClient;
  beforeAll(async () => {
    fake = await startFakeTwilio();
    t = await startApp({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_URL: fake.url, PUBLIC_BASE_URL: PUBLIC, OFFER_TIMEOUT_SECONDS: '10' });
    const q = await createQueue(t, { name: 'calls' });
    await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'voice', address: OUR_NUMBER, queueId: q } });
    agent = await createAgent(t, [q]);
  });
  afterAll(async () => {
    agent.close();
    await t.close();
    await fake.close();
  });
  const post = (path: string, params: Record<string, string>) => {
    const { headers, body } = signedForm(`${PUBLIC}${path}`, params);
    return t.app.inject({ method: 'POST', url: path, headers, payload: body });
  };
  const types = async (id: string) => (await t.app.services.db.query('SELECT type, payload FROM events WHERE interaction_id = $1 ORDER BY seq', [id])).rows;

  it('call → queue with position announcements → agent accepts → softphone dialled → bridge → completed with duration and recording', async () => {
    const sid = callSid();
    const res = await post('/twilio/voice', { CallSid: sid, From: '+14155550161', To: OUR_NUMBER, CallStatus: 'ringing', AccountSid: ACCOUNT_SID });
    expect(res.statusCode).toBe(200);
    const interactionId = /<Enqueue[^>]*>([0-9a-f-]{36})<\/Enqueue>/.exec(res.body)?.[1];
    expect(interactionId).toBeDefined();
    expect(res.body).toContain(`waitUrl="${PUBLIC}/twilio/voice/wait"`);
    // A retried webhook does not create a second call.
    expect((await post('/twilio/voice', { CallSid: sid, From: '+14155550161', To: OUR_NUMBER, CallStatus: 'ringing', AccountSid: ACCOUNT_SID })).body).toContain(interactionId!);

    const wait = await post('/twilio/voice/wait', { CallSid: sid, QueuePosition: '1', QueueTime: '3' });
    expect(wait.body).toContain('You are next in line.');

    const offered = agent.nextOffer();
    await agent.emit('state:set', { state: 'available' });
    const offer = await offered;
    expect(offer.interaction).toMatchObject({ id: interactionId, channel: 'voice' });
    expect((await agent.emit('offer:accept', { offerId: offer.offerId })).ok).toBe(true);
    await waitFor(() => fake.calls.length === 1, 5000, 'the softphone dialled');
    expect(fake.calls[0]).toMatchObject({ to: `client:agent-${agent.agentId}`, from: OUR_NUMBER, url: `${PUBLIC}/twilio/voice/agent?interactionId=${interactionId}` });

    const leg = await post(`/twilio/voice/agent?interactionId=${interactionId}`, { CallSid: fake.calls[0]!.sid, From: OUR_NUMBER, To: `client:agent-${agent.agentId}` });
    expect(leg.body).toContain(`<Dial><Queue>${interactionId}</Queue></Dial>`);

    // Status callbacks out of order and repeated.
    for (const [status, duration] of [['completed', '42'], ['in-progress', undefined], ['completed', '42'], ['ringing', undefined]] as const) {
      const r = await post('/twilio/voice/status', { CallSid: sid, CallStatus: status, ...(duration ? { CallDuration: duration } : {}) });
      expect(r.statusCode).toBe(204);
    }
    const rec = await post('/twilio/voice/recording', { CallSid: sid, RecordingSid: `RE${'1'.repeat(32)}`, RecordingUrl: 'https://api.twilio.com/rec/RE1', RecordingStatus: 'completed', RecordingDuration: '40' });
    expect(rec.statusCode).toBe(200); // TwiML, as for a voicemail's <Record> action

    const row = (await t.app.services.db.query('SELECT state FROM interactions WHERE id = $1', [interactionId])).rows[0];
    expect(row.state).toBe('wrapup'); // the agent wraps up after the caller hung up
    const events = await types(interactionId!);
    expect(events.filter((e) => e.type === 'call.completed')).toEqual([{ type: 'call.completed', payload: { status: 'completed', durationSeconds: 42, outcome: 'answered' } }]);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['call.received', 'offer.accepted', 'call.agent-dialed', 'call.bridged', 'interaction.ended', 'recording.completed']));
    const history = await t.app.inject({ method: 'GET', url: `/api/customers/${offer.customer.id}/history`, headers: bearer(t.adminToken) });
    expect(history.json().items.find((i: { type: string }) => i.type === 'call.completed')).toMatchObject({ channel: 'voice', data: { durationSeconds: 42 } });
    await agent.emit('interaction:wrapup', { interactionId, disposition: 'solved' });
  });

  it('a caller who hangs up while queued is abandoned and counted', async () => {
    await agent.emit('state:set', { state: 'away', reason: 'break' });
    const sid = callSid();
    const res = await post('/twilio/voice', { CallSid: sid, From: '+14155550162', To: OUR_NUMBER, CallStatus: 'ringing', AccountSid: ACCOUNT_SID });
    const interactionId = /<Enqueue[^>]*>([0-9a-f-]{36})<\/Enqueue>/.exec(res.body)![1];
    expect((await post('/twilio/voice/status', { CallSid: sid, CallStatus: 'completed', CallDuration: '7' })).statusCode).toBe(204);
    const row = (await t.app.services.db.query('SELECT state, outcome FROM interactions WHERE id = $1', [interactionId])).rows[0];
    expect(row).toEqual({ state: 'closed', outcome: 'abandoned' });
    const completed = (await types(interactionId!)).find((e) => e.type === 'call.completed');
    expect(completed.payload).toMatchObject({ outcome: 'abandoned', durationSeconds: 7 });
    const stats = await t.app.inject({ method: 'GET', url: '/api/stats/queues', headers: bearer(t.adminToken) });
    expect(stats.json().find((s: { name: string }) => s.name === 'calls').abandoned).toBe(1);
  });

  it('transferring an answered call puts the caller on hold in the interaction\'s Twilio queue again', async () => {
    const other = await createQueue(t, { name: 'calls-2' });
    const sid = callSid();
    const res = await post('/twilio/voice', { CallSid: sid, From: '+14155550164', To: OUR_NUMBER, CallStatus: 'ringing', AccountSid: ACCOUNT_SID });
    const interactionId = /<Enqueue[^>]*>([0-9a-f-]{36})<\/Enqueue>/.exec(res.body)![1]!;
    const offered = agent.nextOffer();
    await agent.emit('state:set', { state: 'available' });
    const offer = await offered;
    await agent.emit('offer:accept', { offerId: offer.offerId });
    expect(await agent.emit('interaction:transfer', { interactionId, queueId: other })).toMatchObject({ ok: true, queueId: other });
    await waitFor(() => fake.callUpdates.some((u) => u.sid === sid), 5000, 'the caller redirected');
    const update = fake.callUpdates.find((u) => u.sid === sid)!;
    expect(update.form.Twiml).toContain(`>${interactionId}</Enqueue>`);
    expect(update.form.Twiml).toContain('transfer');
  });

  it('offers voicemail once a caller has waited past the queue limit; the message becomes work', async () => {
    await agent.emit('state:set', { state: 'away', reason: 'busy' });
    const limited = await createQueue(t, { name: 'calls-limited', maxWaitSeconds: 1 });
    await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'voice', address: '+15005550009', queueId: limited } });
    const sid = callSid();
    const res = await post('/twilio/voice', { CallSid: sid, From: '+14155550165', To: '+15005550009', CallStatus: 'ringing', AccountSid: ACCOUNT_SID });
    const interactionId = /<Enqueue[^>]*>([0-9a-f-]{36})<\/Enqueue>/.exec(res.body)![1]!;
    await waitFor(() => fake.callUpdates.some((u) => u.sid === sid), 8000, 'the caller redirected to voicemail');
    expect(fake.callUpdates.find((u) => u.sid === sid)!.form.Twiml).toContain('<Record');
    await post('/twilio/voice/recording', { CallSid: sid, RecordingSid: `RE${'3'.repeat(32)}`, RecordingUrl: 'https://api.twilio.com/rec/RE3', RecordingDuration: '9' });
    await post('/twilio/voice/status', { CallSid: sid, CallStatus: 'completed', CallDuration: '80' });
    const row = (await t.app.services.db.query('SELECT state, queue_id FROM interactions WHERE id = $1', [interactionId])).rows[0];
    expect(row).toEqual({ state: 'queued', queue_id: limited });
    const types_ = (await types(interactionId)).map((e) => e.type);
    expect(types_).toEqual(expect.arrayContaining(['ivr.step', 'recording.completed', 'call.completed']));
  });

  it('a waiting caller can ask for a call back and keep their place', async () => {
    await agent.emit('state:set', { state: 'away', reason: 'busy' });
    const q = await createQueue(t, { name: 'calls-callback' });
    await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'voice', address: '+15005550012', queueId: q } });
    const sid = callSid();
    const res = await post('/twilio/voice', { CallSid: sid, From: '+14155550166', To: '+15005550012', CallStatus: 'ringing', AccountSid: ACCOUNT_SID });
    const interactionId = /<Enqueue[^>]*>([0-9a-f-]{36})<\/Enqueue>/.exec(res.body)![1]!;
    const before = (await t.app.services.db.query('SELECT queued_at FROM interactions WHERE id = $1', [interactionId])).rows[0];
    const wait = await post('/twilio/voice/wait', { CallSid: sid });
    expect(wait.body).toContain(`action="${PUBLIC}/twilio/voice/wait/choice"`);
    const choice = await post('/twilio/voice/wait/choice', { CallSid: sid, Digits: '1' });
    expect(choice.body).toContain('keep your place');
    await post('/twilio/voice/status', { CallSid: sid, CallStatus: 'completed', CallDuration: '50' });
    const row = (await t.app.services.db.query('SELECT state, queued_at, attributes FROM interactions WHERE id = $1', [interactionId])).rows[0];
    expect(row.state).toBe('queued');
    expect(row.queued_at).toEqual(before.queued_at);
    expect(row.attributes.callback).toBe(true);
  });

  it('a call whose agent cannot be rung goes back to its queue', async () => {
    const q = await createQueue(t, { name: 'calls-dial-fail' });
    await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'voice', address: '+15005550013', queueId: q } });
    const a = await createAgent(t, [q]);
    const sid = callSid();
    const res = await post('/twilio/voice', { CallSid: sid, From: '+14155550167', To: '+15005550013', CallStatus: 'ringing', AccountSid: ACCOUNT_SID });
    const interactionId = /<Enqueue[^>]*>([0-9a-f-]{36})<\/Enqueue>/.exec(res.body)![1]!;
    fake.failCalls = true;
    const offered = a.nextOffer();
    await a.emit('state:set', { state: 'available' });
    await a.emit('offer:accept', { offerId: (await offered).offerId });
    await waitFor(async () => (await types(interactionId)).some((e) => e.type === 'interaction.requeued'), 5000, 'requeued');
    expect((await types(interactionId)).find((e) => e.type === 'interaction.requeued')!.payload).toMatchObject({ reason: 'softphone-unreachable' });
    fake.failCalls = false;
    await a.emit('state:set', { state: 'offline' });
    a.close();
  });

  it('a call offered (or answered) before its webhook is answered is still held in its Twilio queue', async () => {
    // With an agent free, routing can offer the call before the webhook's reply is written; and
    // Twilio retries a webhook whose reply it did not get. Either way the caller must be held in
    // the queue the agent's leg dequeues from, never told that no one can take the call.
    const q = await createQueue(t, { name: 'calls-fast' });
    await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'voice', address: '+15005550014', queueId: q } });
    const a = await createAgent(t, [q]);
    const offered = a.nextOffer();
    await a.emit('state:set', { state: 'available' });
    const sid = callSid();
    const params = { CallSid: sid, From: '+14155550168', To: '+15005550014', CallStatus: 'ringing', AccountSid: ACCOUNT_SID };
    const first = await post('/twilio/voice', params);
    const interactionId = /<Enqueue[^>]*>([0-9a-f-]{36})<\/Enqueue>/.exec(first.body)?.[1];
    expect(interactionId).toBeDefined();
    const offer = await offered;
    expect(offer.interaction.id).toBe(interactionId);
    expect((await post('/twilio/voice', params)).body).toContain(`>${interactionId}</Enqueue>`); // offered
    expect((await a.emit('offer:accept', { offerId: offer.offerId })).ok).toBe(true);
    expect((await post('/twilio/voice', params)).body).toContain(`>${interactionId}</Enqueue>`); // active
    await post('/twilio/voice/status', { CallSid: sid, CallStatus: 'completed', CallDuration: '5' });
    await waitFor(async () => (await t.app.services.db.query('SELECT state FROM interactions WHERE id = $1', [interactionId])).rows[0].state === 'wrapup', 5000, 'wrap-up');
    const ended = await post('/twilio/voice', params);
    expect(ended.body).not.toContain('<Enqueue');
    expect(ended.body).toContain('<Hangup/>');
    await a.emit('interaction:wrapup', { interactionId, disposition: 'solved' });
    await a.emit('state:set', { state: 'offline' });
    a.close();
  });

  it('rejects unsigned voice webhooks and malformed ones', async () => {
    const unsigned = await t.app.inject({ method: 'POST', url: '/twilio/voice', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'CallSid=x' });
    expect(unsigned.statusCode).toBe(403);
    const bad = await post('/twilio/voice', { CallSid: 'nope', From: '+14155550163', To: OUR_NUMBER });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/CallSid/);
  });
});
