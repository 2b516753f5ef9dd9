import { chatClient, startApp, waitFor, type TestApp } from '../support/app';
import { uniqueName } from '../support/env';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

describe('Postgres unreachable', () => {
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    proxy = await startTcpProxy('127.0.0.1', 5432);
    t = await startApp({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${uniqueName('sb_test_outage')}`,
      DB_CONNECT_TIMEOUT_MS: '500',
    });
  });
  afterAll(async () => {
    proxy.restore();
    await t.close();
    await proxy.close();
  });

  const stored = async (clientMessageId: string) =>
    Number(
      (await t.app.services.db.query('SELECT count(*) AS n FROM events WHERE idempotency_key LIKE $1', [`%:msg:${clientMessageId}`])).rows[0].n,
    );

  it('gives an error ack while down, and stores the resend exactly once when it is back', async () => {
    const c = await chatClient(t.url);
    expect((await c.send('before', 'warm up the pool')).ok).toBe(true);

    proxy.cut();
    const failed = await Promise.all([c.send('during-1', 'is anyone there?'), c.send('during-2', 'hello?')]);
    for (const ack of failed) {
      expect(ack.ok).toBe(false);
      expect(ack.error.code).toBe('SB_UNAVAILABLE');
    }
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ error: { code: 'SB_NOT_READY', message: 'down: postgres' }, checks: { postgres: 'down', redis: 'up' } });
    const live = await t.app.inject({ method: 'GET', url: '/health/live' });
    expect(live.statusCode).toBe(200);

    proxy.restore();
    await waitFor(async () => (await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200, 10000, 'ready again');
    // The client retries what was not acknowledged; each lands once, even if retried twice.
    for (const id of ['during-1', 'during-2']) {
      const first = await c.send(id, 'retry');
      const second = await c.send(id, 'retry');
      expect(first).toMatchObject({ ok: true, duplicate: false });
      expect(second).toMatchObject({ ok: true, duplicate: true, messageId: first.messageId });
      expect(await stored(id)).toBe(1);
    }
    c.close();
  });

  it('never acknowledges a message whose transaction was cut off mid-flight', async () => {
    const c = await chatClient(t.url);
    await c.send('prime', 'prime');
    const sends = Array.from({ length: 20 }, (_, i) => c.send(`race-${i}`, `race ${i}`));
    setTimeout(() => proxy.cut(), 5);
    const acks = await Promise.all(sends);
    proxy.restore();
    await waitFor(async () => (await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200, 10000, 'ready again');
    for (const [i, ack] of acks.entries()) {
      // An ok ack means it is stored; an error ack may or may not be (the commit can succeed
      // after the connection drops), which is why retries are deduplicated.
      if (ack.ok) expect(await stored(`race-${i}`)).toBe(1);
      else expect(await stored(`race-${i}`)).toBeLessThanOrEqual(1);
    }
    c.close();
  });
});
