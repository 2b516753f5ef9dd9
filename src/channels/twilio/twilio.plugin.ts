/**
 * The Twilio webhook scope: form bodies, and every request signed by Twilio
 * (X-Twilio-Signature over PUBLIC_BASE_URL + path and the form parameters), or 403.
 * When Twilio is not configured the routes answer 503.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import twilio from 'twilio';
import { AppError } from '../../platform/errors';

export interface TwilioWebhookOptions {
  authToken?: string;
  publicBaseUrl: string;
}

export async function registerTwilioScope(app: FastifyInstance, opts: TwilioWebhookOptions, routes: (scope: FastifyInstance) => void): Promise<void> {
  await app.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: 64 * 1024 });
    scope.addHook('onRequest', async () => {
      if (!opts.authToken) throw new AppError('SB_UNAVAILABLE', 'Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)');
    });
    scope.addHook('preValidation', async (req: FastifyRequest) => {
      const signature = req.headers['x-twilio-signature'];
      const params = (req.body ?? {}) as Record<string, string>;
      const url = opts.publicBaseUrl + req.url;
      if (typeof signature !== 'string' || !twilio.validateRequest(opts.authToken!, signature, url, params)) {
        throw new AppError('SB_FORBIDDEN', 'missing or invalid X-Twilio-Signature');
      }
    });
    routes(scope);
  });
}

export function twiml(reply: FastifyReply, xml: string): FastifyReply {
  return reply.header('content-type', 'text/xml; charset=utf-8').send(xml);
}

export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
