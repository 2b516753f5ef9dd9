import { bearer, startApp, waitFor, type TestApp } from '../support/app';
import { createAgent, createQueue, type AgentClient } from '../support/agent';
import { ACCOUNT_SID, AUTH_TOKEN, signedForm, startFakeTwilio, type FakeTwilio } from '../support/fake-twilio';

const PUBLIC = 'https://switchboard.example.com';
const OPEN_NUMBER = '+15005550010';
const CLOSED_NUMBER = '+15005550011';
let n = 0;
const callSid = () => `CA${(++n).toString(16).padStart(32, 'b')}`;
const ALWAYS = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [['00:00', '24:00']]]));

describe('IVR flows on calls', () => {
  let fake: FakeTwilio;
  let t: TestApp;
  let sales: string;
  let voicemail: string;
  let agent: AgentClient;

  beforeAll(async () => {
    fake = await startFakeTwilio();
    t = await startApp({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_URL: fake.url, PUBLIC_BASE_URL: PUBLIC, OFFER_TIMEOUT_SECONDS: '10', VOICEMAIL_GRACE_SECONDS: '1' });
    sales = await createQueue(t, { name: 'ivr-sales' });
    voicemail = await createQueue(t, { name: 'ivr-voicemail' });
    agent = await createAgent(t, [sales, voicemail], { skills: { sales: 2 } });
  });
  afterAll(async () => {
    agent.close();
    await t.close();
    await fake.close();
  });
  const put = (id: string, flow: unknown) => t.app.inject({ method: 'PUT', url: `/api/flows/${id}`, headers: bearer(t.adminToken), payload: flow as object });
  const post = (path: string, params: Record<string, string>, headers: Record<string, string> = {}) => {
    const signed = signedForm(`${PUBLIC}${path}`, params);
    return t.app.inject({ method: 'POST', url: path, headers: { ...signed.headers, ...headers }, payload: signed.body });
  };
  const byCall = async (sid: string) => (await t.app.services.db.query("SELECT * FROM interactions WHERE attributes ->> 'callSid' = $1", [sid])).rows[0];
  const events = async (id: string) => (await t.app.services.db.query('SELECT type, payload FROM events WHERE interaction_id = $1 ORDER BY seq', [id])).rows;

  it('PUT /api/flows/:id lists every problem of a broken flow and stores a valid one', async () => {
    const broken = await put('broken', { start: 'nowhere', nodes: { a: { type: 'say', text: 'hi', next: 'missing' }, b: { type: 'hangup' } } });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().error.code).toBe('SB_VALIDATION');
    expect(broken.json().error.problems.length).toBeGreaterThanOrEqual(2);
    expect(broken.json().error.problems.join('\n')).toMatch(/nowhere/);
    expect(broken.json().error.problems.join('\n')).toMatch(/missing/);
    const menu = {
      start: 'lookup',
      timezone: 'America/New_York',
      nodes: {
        lookup: { type: 'lookup', known: 'hours', unknown: 'hours' },
        hours: { type: 'condition', test: { kind: 'business-hours', hours: ALWAYS }, then: 'main', else: 'closed' },
        main: { type: 'menu', prompt: 'For sales press 1. For a call back press 2.', options: { '1': 'to-sales', '2': 'callback' } },
        'to-sales': { type: 'set', skills: { sales: 1 }, next: 'sales' },
        sales: { type: 'enqueue', queueId: sales },
        callback: { type: 'callback', queueId: sales },
        closed: { type: 'voicemail', prompt: 'We are closed. Leave a message.', queueId: voicemail },
      },
    };
    expect((await put('open', menu)).statusCode).toBe(200);
    expect((await put('closed', { ...menu, nodes: { ...menu.nodes, hours: { type: 'condition', test: { kind: 'business-hours', hours: {} }, then: 'main', else: 'closed' } } })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/flows/open', headers: bearer(t.adminToken) })).json().start).toBe('lookup');
    for (const [address, flowId] of [[OPEN_NUMBER, 'open'], [CLOSED_NUMBER, 'closed']]) {
      const ep = await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'voice', address, flowId } });
      expect(ep.statusCode).toBe(201);
    }
    const unknown = await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'voice', address: '+15005550019', flowId: 'nope' } });
    expect(unknown.statusCode).toBe(400);
  });

  it('call → menu → digit → queue → agent → bridge → completed: history shows the IVR path and the duration', async () => {
    const sid = callSid();
    const first = await post('/twilio/voice', { CallSid: sid, From: '+14155550171', To: OPEN_NUMBER, AccountSid: ACCOUNT_SID });
    expect(first.body).toContain('<Gather');
    expect(first.body).toContain(`action="${PUBLIC}/twilio/voice/gather"`);
    // A timeout re-prompts; the retried digits webhook (same idempotency token) advances the flow once.
    const again = await post('/twilio/voice/gather?timeout=1', { CallSid: sid });
    expect(again.body).toContain('<Gather');
    // An agent without the sales skill the menu choice asks for is not offered the call.
    const junior = await createAgent(t, [sales]);
    await junior.emit('state:set', { state: 'available' });
    const offered = agent.nextOffer();
    await agent.emit('state:set', { state: 'available' });
    const [d1, d2] = await Promise.all([
      post('/twilio/voice/gather', { CallSid: sid, Digits: '1' }, { 'i-twilio-idempotency-token': 'tok-1' }),
      post('/twilio/voice/gather', { CallSid: sid, Digits: '1' }, { 'i-twilio-idempotency-token': 'tok-1' }),
    ]);
    const row = await byCall(sid);
    expect(d1.body).toContain(`>${row.id}</Enqueue>`);
    expect(d2.body).toBe(d1.body);
    const offer = await offered;
    expect(offer.interaction).toMatchObject({ id: row.id, channel: 'voice', queueId: sales });
    expect(junior.offers).toEqual([]);
    await junior.emit('state:set', { state: 'offline' });
    junior.close();
    await agent.emit('offer:accept', { offerId: offer.offerId });
    await waitFor(() => fake.calls.some((c) => c.url?.includes(row.id)), 5000, 'softphone dialled');
    const leg = fake.calls.find((c) => c.url?.includes(row.id))!;
    expect((await post(`/twilio/voice/agent?interactionId=${row.id}`, { CallSid: leg.sid })).body).toContain(`<Queue>${row.id}</Queue>`);
    await post('/twilio/voice/status', { CallSid: sid, CallStatus: 'completed', CallDuration: '95' });
    const history = (await events(row.id)).map((e) => e.type);
    expect(history.filter((t_) => t_ === 'ivr.step')).toHaveLength(3); // start, timeout, digit (the retry added nothing)
    const steps = (await events(row.id)).filter((e) => e.type === 'ivr.step');
    expect(steps.at(-1)!.payload).toMatchObject({ input: '1', path: expect.arrayContaining(['lookup', 'hours', 'main', 'to-sales', 'sales']) });
    expect((await events(row.id)).find((e) => e.type === 'call.completed')!.payload).toMatchObject({ durationSeconds: 95, outcome: 'answered' });
    await agent.emit('interaction:wrapup', { interactionId: row.id });
  });

  it('a callback request keeps the caller’s work after they hang up; the agent leg calls them back', async () => {
    const sid = callSid();
    await post('/twilio/voice', { CallSid: sid, From: '+14155550172', To: OPEN_NUMBER, AccountSid: ACCOUNT_SID });
    await agent.emit('state:set', { state: 'away', reason: 'hold' });
    const res = await post('/twilio/voice/gather', { CallSid: sid, Digits: '2' });
    expect(res.body).toContain('<Hangup/>');
    await post('/twilio/voice/status', { CallSid: sid, CallStatus: 'completed', CallDuration: '20' });
    const row = await byCall(sid);
    expect(row).toMatchObject({ state: 'queued', queue_id: sales });
    expect(row.attributes.callback).toBe(true);
    const offered = agent.nextOffer();
    await agent.emit('state:set', { state: 'available' });
    const offer = await offered;
    await agent.emit('offer:accept', { offerId: offer.offerId });
    await waitFor(() => fake.calls.some((c) => c.url?.includes(row.id)), 5000, 'softphone dialled');
    const leg = fake.calls.find((c) => c.url?.includes(row.id))!;
    const twiml = (await post(`/twilio/voice/agent?interactionId=${row.id}`, { CallSid: leg.sid })).body;
    expect(twiml).toContain('<Number>+14155550172</Number>');
    expect(twiml).toContain(`callerId="${OPEN_NUMBER}"`);
    await agent.emit('interaction:wrapup', { interactionId: row.id });
  });

  it('after hours: voicemail, which becomes work in the voicemail queue', async () => {
    await agent.emit('state:set', { state: 'away', reason: 'hold' });
    const sid = callSid();
    const res = await post('/twilio/voice', { CallSid: sid, From: '+14155550173', To: CLOSED_NUMBER, AccountSid: ACCOUNT_SID });
    expect(res.body).toContain('We are closed. Leave a message.');
    expect(res.body).toContain(`<Record`);
    const rec = await post('/twilio/voice/recording', { CallSid: sid, RecordingSid: `RE${'2'.repeat(32)}`, RecordingUrl: 'https://api.twilio.com/rec/RE2', RecordingDuration: '12' });
    expect(rec.body).toContain('Thank you');
    await post('/twilio/voice/status', { CallSid: sid, CallStatus: 'completed', CallDuration: '30' });
    const row = await byCall(sid);
    expect(row).toMatchObject({ state: 'queued', queue_id: voicemail });
    expect((await events(row.id)).find((e) => e.type === 'recording.completed')!.payload).toMatchObject({ voicemail: true, durationSeconds: 12 });
  });

  it('after hours: a caller who hangs up without leaving a message is abandoned once the recording grace period passes', async () => {
    const sid = callSid();
    const res = await post('/twilio/voice', { CallSid: sid, From: '+14155550174', To: CLOSED_NUMBER, AccountSid: ACCOUNT_SID });
    expect(res.body).toContain('<Record');
    await post('/twilio/voice/status', { CallSid: sid, CallStatus: 'completed', CallDuration: '4' });
    const row = await byCall(sid);
    expect(row.state).toBe('ivr'); // a recording may still be on its way
    await waitFor(async () => (await byCall(sid)).state === 'closed', 8000, 'the silent voicemail caller closed');
    const closed = await byCall(sid);
    expect(closed.outcome).toBe('abandoned');
    expect((await events(row.id)).map((e) => e.type)).toContain('interaction.closed');
  });
});
