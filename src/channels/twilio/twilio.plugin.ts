/**
 * The Twilio webhook scope: form bodies, and every request signed by Twilio
 * (X-Twilio-Signature over PUBLIC_BASE_URL + path and the form parameters), or 403.
 * When Twilio is not configured the routes answer 503.
 */
import { timingSafeEqual } from 'node:crypto';
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
      if (typeof signature !== 'string' || !validSignature(opts.authToken!, signature, url, params)) {
        throw new AppError('SB_FORBIDDEN', 'missing or invalid X-Twilio-Signature');
      }
    });
    routes(scope);
  });
}

/**
 * Twilio's own check, with the URL exactly as configured tried first: `validateRequest` tries
 * it without its port first (one HMAC wasted per webhook when PUBLIC_BASE_URL has a port), then
 * with the default port added, then normalized spellings. The URL as configured is always among
 * its candidates, so this accepts exactly what it accepts.
 */
export function validSignature(authToken: string, signature: string, url: string, params: Record<string, string>): boolean {
  const given = Buffer.from(signature);
  const expected = Buffer.from(twilio.getExpectedTwilioSignature(authToken, url, params));
  if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
  return twilio.validateRequest(authToken, signature, url, params);
}

export function twiml(reply: FastifyReply, xml: string): FastifyReply {
  return reply.header('content-type', 'text/xml; charset=utf-8').send(xml);
}

export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
