import { bearer, seedQueueAndAgent, startApp, type TestApp } from '../support/app';
import { createQueue } from '../support/agent';

describe('GET /api/queues/names', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('gives agents every queue to transfer to (id, name, channels) and nothing of its configuration', async () => {
    const { queueId, agentToken } = await seedQueueAndAgent(t, 'front');
    const billing = await createQueue(t, { name: 'Billing', channels: ['chat', 'email'], script: 'internal script', skills: { billing: 3 } });
    const res = await t.app.inject({ method: 'GET', url: '/api/queues/names', headers: bearer(agentToken) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([
      { id: billing, name: 'Billing', channels: ['chat', 'email'] },
      { id: queueId, name: 'front', channels: ['voice', 'sms', 'email', 'chat'] },
    ]);
    // The full queue list stays with supervisors.
    expect((await t.app.inject({ method: 'GET', url: '/api/queues', headers: bearer(agentToken) })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/api/queues/names' })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/api/queues/names', headers: bearer(t.adminToken) })).statusCode).toBe(200);
  });
});
