import { Writable } from 'node:stream';
import { createLogger } from '../../src/platform/logger';
import { testConfig } from '../support/env';
import { bearer, chatClient, startApp, type TestApp } from '../support/app';

describe('logs keep PII and secrets out', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  let t: TestApp;
  beforeAll(async () => {
    const config = testConfig({ LOG_LEVEL: 'trace' });
    t = await startApp({}, config, { logger: createLogger('trace', sink) });
  });
  afterAll(async () => {
    await t.close();
  });

  it('logs requests and chat traffic without phone numbers, emails, message bodies, passwords or tokens', async () => {
    const c = await chatClient(t.url);
    await c.send('pii-1', 'my number is +1 415 555 0177 and mail jane.secret@example.org');
    await c.send('pii-1', 'retry');
    await c.emitAck('message', { clientMessageId: 'bad id', text: 'Zebra-unique-body' });
    await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'Hunter2-password' } });
    await t.app.inject({ method: 'GET', url: '/api/customers?phone=%2B14155550177&email=jane.secret%40example.org', headers: bearer(t.adminToken) });
    await t.app.inject({ method: 'GET', url: '/api/customers?email=jane.secret@example.org', headers: bearer(t.adminToken) });
    c.close();
    const all = lines.join('');
    expect(lines.length).toBeGreaterThan(5); // it did log
    for (const secret of ['4155550177', '415 555 0177', 'jane.secret', 'Zebra-unique-body', 'Hunter2-password', t.adminToken, c.session.visitorToken]) {
      expect(all).not.toContain(secret);
    }
  });
});
