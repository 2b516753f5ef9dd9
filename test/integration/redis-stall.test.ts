/**
 * Durable before acknowledged, and no later than that: while Redis does not answer, a signed SMS
 * webhook is still stored and answered 200 at once. Its event reaches the Redis stream once
 * Redis answers again. The app reaches Redis through a proxy the test holds (nothing is dropped,
 * nothing answered), so a write that waited for its stream append would wait for the commands'
 * timeout and log the append as failed before answering.
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/platform/logger';
import { redisKey } from '../../src/platform/redis';
import { startApp, waitFor, type TestApp } from '../support/app';
import { REDIS_URL, testConfig } from '../support/env';
import { ACCOUNT_SID, AUTH_TOKEN, signedForm, startFakeTwilio, type FakeTwilio } from '../support/fake-twilio';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

const PUBLIC = 'https://switchboard.example.com';

describe('ingest while Redis does not answer', () => {
  let proxy: TcpProxy;
  let fake: FakeTwilio;
  let t: TestApp;
  let direct: Redis;
  const logged: string[] = [];

  beforeAll(async () => {
    const url = new URL(REDIS_URL);
    proxy = await startTcpProxy(url.hostname, Number(url.port || 6379));
    fake = await startFakeTwilio();
    direct = new Redis(REDIS_URL);
    const lines = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged.push(chunk.toString());
        done();
      },
    });
    const config = testConfig({
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`, TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_URL: fake.url, PUBLIC_BASE_URL: PUBLIC,
    });
    t = await startApp({}, config, { logger: createLogger('warn', lines) });
  });

  afterAll(async () => {
    proxy.release();
    await t.close();
    await fake.close();
    direct.disconnect();
    await proxy.close();
  });

  it('stores and answers a webhook at once, and streams its event once Redis answers again', async () => {
    const sid = `SM${'7'.repeat(32)}`;
    const { headers, body } = signedForm(`${PUBLIC}/twilio/sms`, { MessageSid: sid, AccountSid: ACCOUNT_SID, From: '+14155550177', To: '+15005550006', Body: 'are you there?', NumMedia: '0' });
    const streamed = async () => (await direct.xrange(redisKey(t.config, 'events'), '-', '+')).filter(([, f]) => f[1]!.includes(sid)).length;

    proxy.hold();
    const res = await t.app.inject({ method: 'POST', url: '/twilio/sms', headers, payload: body });
    expect(res.statusCode).toBe(200);
    const { rows } = await t.app.services.db.query("SELECT count(*)::int AS n FROM events WHERE type = 'message.received' AND payload ->> 'providerId' = $1", [sid]);
    expect(rows[0].n).toBe(1);
    // Answered before its append was: not in the stream yet, and no append gave up on Redis.
    expect(await streamed()).toBe(0);
    expect(logged.filter((l) => l.includes('event stream publish failed'))).toEqual([]);

    proxy.release();
    await waitFor(async () => (await streamed()) === 1, 5000, 'the event in the stream after Redis answers');
  });

  it('ends every Redis connection it opened at shutdown, so none keeps trying once Redis is gone', async () => {
    // The socket.io adapter's stream reader, blocked in a read, used to outlive the app's close
    // and, its Redis gone, reconnect without end (keeping the process alive).
    const url = new URL(REDIS_URL);
    const own = await startTcpProxy(url.hostname, Number(url.port || 6379));
    try {
      const app = await startApp({}, testConfig({ REDIS_URL: `redis://127.0.0.1:${own.port}` }));
      await app.close();
      own.cut();
      await new Promise((r) => setTimeout(r, 2500));
      expect(own.refused).toBe(0);
    } finally {
      await own.close();
    }
  });
});
