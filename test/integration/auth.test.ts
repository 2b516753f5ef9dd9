import jwt from 'jsonwebtoken';
import { io as ioClient } from 'socket.io-client';
import { JWT_SECRET } from '../support/env';
import { bearer, login, seedQueueAndAgent, startApp, type TestApp } from '../support/app';

describe('authentication and roles', () => {
  let t: TestApp;
  let agentToken: string;
  let supervisorToken: string;

  beforeAll(async () => {
    t = await startApp();
    const seeded = await seedQueueAndAgent(t, 'auth');
    agentToken = seeded.agentToken;
    const sup = await t.app.inject({
      method: 'POST',
      url: '/api/agents',
      headers: bearer(t.adminToken),
      payload: { name: 'Sue', username: 'sue', password: 'supervisor-pw', role: 'supervisor', queueIds: [seeded.queueId] },
    });
    expect(sup.statusCode).toBe(201);
    supervisorToken = await login(t.app, 'sue', 'supervisor-pw');
  });
  afterAll(async () => {
    await t.close();
  });

  it('logs in with the bootstrap admin and refuses a wrong password without saying which part was wrong', async () => {
    const ok = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'admin-password-1' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().user).toMatchObject({ username: 'admin', role: 'admin' });
    for (const payload of [{ username: 'admin', password: 'nope' }, { username: 'ghost', password: 'nope' }]) {
      const bad = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload });
      expect(bad.statusCode).toBe(401);
      expect(bad.json().error).toEqual({ code: 'SB_INVALID_CREDENTIALS', message: 'unknown username or wrong password' });
    }
    const { rows } = await t.app.services.db.query("SELECT password_hash FROM users WHERE username = 'admin'");
    expect(rows[0].password_hash).toMatch(/^scrypt\$/);
  });

  it('answers 401 without a token, with a bad or expired token, and for a visitor token', async () => {
    const expired = jwt.sign({ typ: 'staff', role: 'admin', username: 'admin' }, JWT_SECRET, { subject: 'x', expiresIn: -10 });
    const forged = jwt.sign({ typ: 'staff', role: 'admin', username: 'admin' }, 'another-secret-entirely', { subject: 'x' });
    const visitor = t.app.services.tokens.signVisitor('visitor-123456', '00000000-0000-0000-0000-000000000000');
    for (const headers of [{}, bearer('garbage'), bearer(expired), bearer(forged), bearer(visitor), { authorization: 'Basic abc' }]) {
      const res = await t.app.inject({ method: 'GET', url: '/api/queues', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('SB_UNAUTHORIZED');
    }
  });

  it('answers 403 when an agent calls an admin or supervisor route, and lets higher roles through', async () => {
    const cases: Array<[string, string, unknown]> = [
      ['POST', '/api/queues', { name: 'sneaky' }],
      ['POST', '/api/agents', { name: 'x', username: 'x', password: 'xxxxxxxx', queueIds: [] }],
      ['POST', '/api/entry-points', { channel: 'chat', address: '*', queueId: '00000000-0000-0000-0000-000000000000' }],
      ['GET', '/api/agents', undefined],
      ['GET', '/api/queues', undefined],
    ];
    for (const [method, url, payload] of cases) {
      const res = await t.app.inject({ method: method as 'GET', url, headers: bearer(agentToken), payload: payload as object });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('SB_FORBIDDEN');
    }
    expect((await t.app.inject({ method: 'GET', url: '/api/queues', headers: bearer(supervisorToken) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/api/queues', headers: bearer(supervisorToken), payload: { name: 'nope' } })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/api/customers', headers: bearer(agentToken) })).statusCode).toBe(200);
    const { rows } = await t.app.services.db.query("SELECT count(*)::int AS n FROM queues WHERE name IN ('sneaky', 'nope')");
    expect(rows[0].n).toBe(0);
  });

  it('enforces roles on socket namespaces', async () => {
    const connect = (ns: string, auth: object) =>
      new Promise<{ ok: boolean; code?: string }>((resolve) => {
        const s = ioClient(`${t.url}${ns}`, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
        s.once('connect', () => {
          s.disconnect();
          resolve({ ok: true });
        });
        s.once('connect_error', (err: Error & { data?: { code: string } }) => {
          s.disconnect();
          resolve({ ok: false, code: err.data?.code });
        });
      });
    expect(await connect('/agent', {})).toEqual({ ok: false, code: 'SB_UNAUTHORIZED' });
    expect(await connect('/agent', { token: 'garbage' })).toEqual({ ok: false, code: 'SB_UNAUTHORIZED' });
    expect(await connect('/agent', { token: agentToken })).toEqual({ ok: true });
    expect(await connect('/agent', { token: t.adminToken })).toEqual({ ok: false, code: 'SB_FORBIDDEN' }); // no agent profile
    expect(await connect('/supervisor', { token: agentToken })).toEqual({ ok: false, code: 'SB_FORBIDDEN' });
    expect(await connect('/supervisor', { token: supervisorToken })).toEqual({ ok: true });
  });

  it('lets agents read only interactions they own', async () => {
    const { rows } = await t.app.services.db.query(
      `WITH c AS (INSERT INTO customers DEFAULT VALUES RETURNING id)
       INSERT INTO interactions (customer_id, channel, direction, state) SELECT id, 'chat', 'in', 'queued' FROM c RETURNING id`,
    );
    const url = `/api/interactions/${rows[0].id}`;
    expect((await t.app.inject({ method: 'GET', url, headers: bearer(agentToken) })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url, headers: bearer(supervisorToken) })).statusCode).toBe(200);
  });
});
