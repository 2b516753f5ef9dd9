import jwt from 'jsonwebtoken';
import { bearer, seedQueueAndAgent, startApp } from '../support/app';
import { ACCOUNT_SID, AUTH_TOKEN } from '../support/fake-twilio';

describe('GET /api/softphone/token', () => {
  it('issues a Voice access token for the agent, signed with the API secret', async () => {
    const t = await startApp({
      TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_KEY: `SK${'1'.repeat(32)}`, TWILIO_API_SECRET: 'api-secret-0123456789', TWILIO_TWIML_APP_SID: `AP${'2'.repeat(32)}`,
    });
    try {
      const { agentId, agentToken } = await seedQueueAndAgent(t, 'phone');
      const res = await t.app.inject({ method: 'GET', url: '/api/softphone/token', headers: bearer(agentToken) });
      expect(res.statusCode).toBe(200);
      expect(res.json().identity).toBe(`agent-${agentId}`);
      const claims = jwt.verify(res.json().token, 'api-secret-0123456789') as { iss: string; sub: string; grants: { identity: string; voice: { incoming: { allow: boolean }; outgoing: { application_sid: string } } } };
      expect(claims).toMatchObject({ iss: `SK${'1'.repeat(32)}`, sub: ACCOUNT_SID, grants: { identity: `agent-${agentId}`, voice: { incoming: { allow: true }, outgoing: { application_sid: `AP${'2'.repeat(32)}` } } } });
      // Admins have no softphone; no token is 401.
      expect((await t.app.inject({ method: 'GET', url: '/api/softphone/token', headers: bearer(t.adminToken) })).statusCode).toBe(403);
      expect((await t.app.inject({ method: 'GET', url: '/api/softphone/token' })).statusCode).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('answers 503 naming what is missing when the softphone is not configured', async () => {
    const t = await startApp();
    try {
      const { agentToken } = await seedQueueAndAgent(t, 'nophone');
      const res = await t.app.inject({ method: 'GET', url: '/api/softphone/token', headers: bearer(agentToken) });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.message).toContain('TWILIO_API_KEY');
    } finally {
      await t.close();
    }
  });
});
