/** GET /api/softphone/token: a Twilio Voice access token for the calling agent's softphone. */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import twilio from 'twilio';
import { AppError } from '../../platform/errors';
import { ErrorResponse } from '../../platform/schemas';
import type { Config } from '../../platform/config';

/** The Twilio Client identity an agent's softphone registers as (calls are bridged to it). */
export const softphoneIdentity = (agentId: string): string => `agent-${agentId}`;

const TOKEN_TTL_SECONDS = 3600;

export function softphoneRoutes(app: FastifyInstance, deps: { twilio: Config['twilio'] }): void {
  app.get(
    '/api/softphone/token',
    {
      config: { auth: 'agent' },
      schema: {
        tags: ['agents'],
        response: { 200: Type.Object({ token: Type.String(), identity: Type.String(), expiresInSeconds: Type.Integer() }), 401: ErrorResponse, 403: ErrorResponse, 503: ErrorResponse },
      },
    },
    async (req) => {
      const agentId = req.user!.agentId;
      if (!agentId) throw new AppError('SB_FORBIDDEN', 'only agents have softphones');
      const { accountSid, apiKey, apiSecret, twimlAppSid } = deps.twilio;
      if (!accountSid || !apiKey || !apiSecret || !twimlAppSid) {
        throw new AppError('SB_UNAVAILABLE', 'softphone is not configured (TWILIO_ACCOUNT_SID, TWILIO_API_KEY, TWILIO_API_SECRET, TWILIO_TWIML_APP_SID)');
      }
      const identity = softphoneIdentity(agentId);
      const token = new twilio.jwt.AccessToken(accountSid, apiKey, apiSecret, { identity, ttl: TOKEN_TTL_SECONDS });
      token.addGrant(new twilio.jwt.AccessToken.VoiceGrant({ outgoingApplicationSid: twimlAppSid, incomingAllow: true }));
      return { token: token.toJwt(), identity, expiresInSeconds: TOKEN_TTL_SECONDS };
    },
  );
}
