import { bearer, startApp, type TestApp } from '../support/app';

/** Every table a write could touch; bad input must leave all of them unchanged. */
const TABLES = ['queues', 'agents', 'users', 'agent_queues', 'entry_points', 'customers', 'customer_identities', 'interactions', 'events', 'customer_merges'];

describe('bad input', () => {
  let t: TestApp;
  let queueId: string;
  let customerId: string;

  beforeAll(async () => {
    t = await startApp({ BODY_LIMIT_BYTES: '65536' });
    const q = await t.app.inject({ method: 'POST', url: '/api/queues', headers: bearer(t.adminToken), payload: { name: 'billing' } });
    queueId = q.json().id;
    customerId = (
      await t.app.services.ingest.ingest({
        idempotencyKey: 'seed',
        type: 'note.added',
        channel: null,
        direction: 'internal',
        occurredAt: new Date(),
        payload: { text: 'seed' },
        customer: { identity: { kind: 'email', value: 'seed@example.com' } },
        interaction: { kind: 'none' },
      })
    ).customerId;
  });
  afterAll(async () => {
    await t.close();
  });

  const snapshot = async () => {
    const counts: Record<string, number> = {};
    for (const table of TABLES) counts[table] = (await t.app.services.db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
    const customer = (await t.app.services.db.query('SELECT name, attributes, tags FROM customers WHERE id = $1', [customerId])).rows[0];
    return { counts, customer };
  };

  const json = { 'content-type': 'application/json' };
  type Case = [string, 'GET' | 'POST' | 'PATCH', string, { body?: string; headers?: Record<string, string> }, number, string, RegExp?];
  const cases = (): Case[] => [
    ['malformed JSON', 'POST', '/api/queues', { body: '{"name": ', headers: json }, 400, 'SB_MALFORMED_JSON'],
    ['empty JSON body', 'POST', '/api/queues', { body: '', headers: json }, 400, 'SB_EMPTY_BODY'],
    ['missing field', 'POST', '/api/queues', { body: '{}', headers: json }, 400, 'SB_VALIDATION', /name/],
    ['mistyped field', 'POST', '/api/queues', { body: '{"name":"x","priority":"high"}', headers: json }, 400, 'SB_VALIDATION', /priority/],
    ['number as string', 'POST', '/api/queues', { body: '{"name":"x","slaSeconds":"30"}', headers: json }, 400, 'SB_VALIDATION', /slaSeconds/],
    ['unknown field', 'POST', '/api/queues', { body: '{"name":"x","colour":"red"}', headers: json }, 400, 'SB_VALIDATION', /colour/],
    ['unknown channel', 'POST', '/api/queues', { body: '{"name":"x","channels":["fax"]}', headers: json }, 400, 'SB_VALIDATION', /channels/],
    ['array instead of object', 'POST', '/api/queues', { body: '[1,2]', headers: json }, 400, 'SB_VALIDATION'],
    ['oversized body', 'POST', '/api/queues', { body: JSON.stringify({ name: 'x', script: 'y'.repeat(70000) }), headers: json }, 413, 'SB_BODY_TOO_LARGE'],
    ['wrong content type', 'POST', '/api/queues', { body: 'name=x', headers: { 'content-type': 'text/plain' } }, 415, 'SB_UNSUPPORTED_MEDIA_TYPE'],
    ['form content type', 'POST', '/api/queues', { body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'SB_UNSUPPORTED_MEDIA_TYPE'],
    ['agent with unknown queue', 'POST', '/api/agents', { body: JSON.stringify({ name: 'A', username: 'a1', password: 'password1', queueIds: ['11111111-1111-1111-1111-111111111111'] }), headers: json }, 400, 'SB_VALIDATION', /queueIds/],
    ['agent with a short password', 'POST', '/api/agents', { body: JSON.stringify({ name: 'A', username: 'a2', password: 'short', queueIds: [] }), headers: json }, 400, 'SB_VALIDATION', /password/],
    ['agent capacity negative', 'POST', '/api/agents', { body: JSON.stringify({ name: 'A', username: 'a3', password: 'password1', queueIds: [], capacity: { chat: -1 } }), headers: json }, 400, 'SB_VALIDATION', /capacity/],
    ['entry point bad number', 'POST', '/api/entry-points', { body: JSON.stringify({ channel: 'sms', address: 'not-a-number', queueId: 'QUEUE' }), headers: json }, 400, 'SB_VALIDATION', /address/],
    ['entry point unknown queue', 'POST', '/api/entry-points', { body: JSON.stringify({ channel: 'chat', address: '*', queueId: '22222222-2222-2222-2222-222222222222' }), headers: json }, 400, 'SB_VALIDATION', /queueId/],
    ['unknown customer', 'GET', '/api/customers/33333333-3333-3333-3333-333333333333', {}, 404, 'SB_NOT_FOUND'],
    ['malformed customer id', 'GET', '/api/customers/not-a-uuid', {}, 404, 'SB_NOT_FOUND'],
    ['unknown agent', 'PATCH', '/api/agents/44444444-4444-4444-4444-444444444444', { body: '{"name":"n"}', headers: json }, 404, 'SB_NOT_FOUND'],
    ['unknown interaction', 'GET', '/api/interactions/55555555-5555-5555-5555-555555555555', {}, 404, 'SB_NOT_FOUND'],
    ['unknown route', 'GET', '/api/nothing-here', {}, 404, 'SB_ROUTE_NOT_FOUND'],
    ['bad phone query', 'GET', '/api/customers?phone=abc', {}, 400, 'SB_VALIDATION', /phone/],
    ['bad history limit', 'GET', '/api/customers/CUSTOMER/history?limit=0', {}, 400, 'SB_VALIDATION', /limit/],
    ['bad history cursor', 'GET', '/api/customers/CUSTOMER/history?before=abc', {}, 400, 'SB_VALIDATION', /before/],
    ['empty patch', 'PATCH', '/api/customers/CUSTOMER', { body: '{}', headers: json }, 400, 'SB_VALIDATION'],
    ['patch mistyped tags', 'PATCH', '/api/customers/CUSTOMER', { body: '{"tags":"vip"}', headers: json }, 400, 'SB_VALIDATION', /tags/],
    ['blank note', 'POST', '/api/customers/CUSTOMER/notes', { body: '{"text":"   "}', headers: json }, 400, 'SB_VALIDATION', /text/],
    ['note on unknown customer', 'POST', '/api/customers/66666666-6666-6666-6666-666666666666/notes', { body: '{"text":"hi"}', headers: json }, 404, 'SB_NOT_FOUND'],
    ['merge with itself', 'POST', '/api/customers/CUSTOMER/merge', { body: '{"sourceId":"CUSTOMER"}', headers: json }, 400, 'SB_VALIDATION'],
    ['merge unknown source', 'POST', '/api/customers/CUSTOMER/merge', { body: '{"sourceId":"77777777-7777-7777-7777-777777777777"}', headers: json }, 404, 'SB_NOT_FOUND'],
    ['bad login body', 'POST', '/api/auth/login', { body: '{"username":1}', headers: json }, 400, 'SB_VALIDATION'],
  ];

  it.each(cases().map((c) => [c[0], c] as const))('%s → 4xx with an SB_ code, nothing written', async (_name, c) => {
    const [, method, rawUrl, { body, headers }, status, code, messagePattern] = c;
    const fill = (s: string) => s.replace(/CUSTOMER/g, customerId).replace(/QUEUE/g, queueId);
    const before = await snapshot();
    const res = await t.app.inject({ method, url: fill(rawUrl), payload: body === undefined ? undefined : fill(body), headers: { ...bearer(t.adminToken), ...headers } });
    expect({ status: res.statusCode, code: res.json().error?.code }).toEqual({ status, code });
    expect(res.json().error.message).toEqual(expect.any(String));
    if (messagePattern) expect(res.json().error.message).toMatch(messagePattern);
    expect(await snapshot()).toEqual(before);
  });

  it('never answers 500 to a burst of random junk', async () => {
    const urls = ['/api/queues', '/api/agents', '/api/entry-points', `/api/customers/${customerId}`, `/api/customers/${customerId}/notes`, '/api/auth/login'];
    const junk = ['null', 'true', '"x"', '{"a":{"b":[1,2,{"c":null}]}}', '{"name":null}', '{"name":"\\u0000"}', '{'.repeat(500), '1e309', '{"__proto__":{"admin":true}}'];
    for (const url of urls) {
      for (const body of junk) {
        const res = await t.app.inject({ method: url.endsWith('notes') || !url.includes(customerId) ? 'POST' : 'PATCH', url, payload: body, headers: { ...bearer(t.adminToken), ...json } });
        expect(res.statusCode).toBeLessThan(500);
      }
    }
  });
});
