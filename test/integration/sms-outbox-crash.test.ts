/**
 * The crash between "Twilio accepted the message" and "we recorded that": the outbox worker
 * process is killed (-9) while Twilio holds its answer; the retry must find the message at
 * Twilio and not send it again.
 */
import { bearer, startApp, type TestApp, waitFor } from '../support/app';
import { createAgent, createQueue, type AgentClient } from '../support/agent';
import { ACCOUNT_SID, AUTH_TOKEN, signedForm, startFakeTwilio, type FakeTwilio } from '../support/fake-twilio';
import { freePort, startService, type ServiceProcess } from '../support/process';
import { testEnv } from '../support/env';
import { loadConfig } from '../../src/platform/config';

const PUBLIC = 'https://switchboard.example.com';
const OUR_NUMBER = '+15005550007';

describe('SMS outbox worker killed during a send', () => {
  let fake: FakeTwilio;
  let t: TestApp;
  let env: Record<string, string>;
  const workers: ServiceProcess[] = [];
  let agent: AgentClient | undefined;

  beforeAll(async () => {
    fake = await startFakeTwilio();
    env = testEnv({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_URL: fake.url, PUBLIC_BASE_URL: PUBLIC, LOG_LEVEL: 'info' });
    // This process serves the API only; sends happen in separate worker processes.
    t = await startApp({}, loadConfig({ ...env, NODE_ROLE: 'api', LOG_LEVEL: 'silent' }));
  });
  afterAll(async () => {
    agent?.close();
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await t.close();
    await fake.close();
  });

  async function startWorker(): Promise<ServiceProcess> {
    const w = startService({ ...env, NODE_ROLE: 'worker', PORT: String(await freePort()) });
    workers.push(w);
    await w.waitForLog((r) => typeof r.msg === 'string' && r.msg.startsWith('Server listening'), 60000);
    return w;
  }

  it('records the reply at Twilio exactly once after kill -9 and a retry', async () => {
    const q = await createQueue(t, { name: 'sms-crash' });
    await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'sms', address: OUR_NUMBER, queueId: q } });
    agent = await createAgent(t, [q]);
    await agent.emit('state:set', { state: 'available' });
    const offered = agent.nextOffer();
    const params = { MessageSid: `SM${'c'.repeat(32)}`, AccountSid: ACCOUNT_SID, From: '+14155550142', To: OUR_NUMBER, Body: 'help', NumMedia: '0' };
    const { headers, body } = signedForm(`${PUBLIC}/twilio/sms`, params);
    expect((await t.app.inject({ method: 'POST', url: '/twilio/sms', headers, payload: body })).statusCode).toBe(200);
    const offer = await offered;
    await agent.emit('offer:accept', { offerId: offer.offerId });

    const first = await startWorker();
    const hold = fake.holdNextSend();
    const ack = await agent.emit('interaction:reply', { interactionId: offer.interaction.id, clientMessageId: 'only-once', text: 'We are on it.' });
    expect(ack.ok).toBe(true);
    const sent = await hold.sent; // Twilio has the message; the worker awaits the answer
    await first.stop('SIGKILL');
    hold.release();
    const row = async () => (await t.app.services.db.query('SELECT status, provider_id, attempts FROM outbox WHERE interaction_id = $1', [offer.interaction.id])).rows[0];
    expect(await row()).toMatchObject({ status: 'submitted', provider_id: null, attempts: 1 });

    const second = await startWorker();
    await waitFor(async () => (await row()).provider_id !== null, 45000, 'the retry to settle the send');
    expect(await row()).toMatchObject({ provider_id: sent.sid, status: 'queued' });
    expect(fake.messages.filter((m) => m.body === 'We are on it.')).toHaveLength(1);
    // The worker logs after it records the sid: wait for the line rather than race the pipe.
    await second.waitForLog((r) => r.msg === 'interrupted send reconciled with the provider; not sent again', 10000);
  }, 90000);
});
