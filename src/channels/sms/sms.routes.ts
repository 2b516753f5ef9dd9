/** POST /twilio/sms (inbound texts) and POST /twilio/sms/status (delivery callbacks). */
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { AppError } from '../../platform/errors';
import type { IngestService } from '../../interactions/ingest.service';
import { EMPTY_TWIML, twiml } from '../twilio/twilio.plugin';
import { advance } from './delivery';
import { adoptProviderId, findOutbox, findOutboxByProviderId, recordReceipt, setStatus } from '../outbox/outbox.repository';
import { inboundSmsCommand, parseInboundSms, parseStatusCallback } from './sms.mapper';

export interface SmsMenu {
  /** Advance the conversation's IVR flow with the text; the reply to send, or null when it is not in one. */
  answer(interactionId: string, text: string, key: string): Promise<string | null>;
  /** Send a system text on the conversation (once per key). */
  reply(interactionId: string, text: string, key: string): Promise<void>;
}

export function smsRoutes(scope: FastifyInstance, deps: { db: Pool; ingest: IngestService; defaultPhoneRegion: string; menu?: SmsMenu }): void {
  scope.post('/twilio/sms', { config: { auth: 'none' }, schema: { hide: true } }, async (req, reply) => {
    const parsed = parseInboundSms((req.body ?? {}) as Record<string, unknown>, deps.defaultPhoneRegion);
    if (!parsed.ok) throw new AppError('SB_VALIDATION', parsed.message);
    const result = await deps.ingest.ingest(inboundSmsCommand(parsed.value, new Date()));
    // A conversation in an SMS menu: the same flow as on the phone, answered in text. A retried
    // webhook asks again (the first attempt may have stopped before answering; the menu answers a
    // repeated key once), a fresh one only when its conversation is in the menu.
    const interactionId = result.event.interactionId;
    if (deps.menu && interactionId && (result.duplicate || result.interaction?.state === 'ivr')) {
      const answer = await deps.menu.answer(interactionId, parsed.value.body, parsed.value.messageSid);
      if (answer) await deps.menu.reply(interactionId, answer, `ivr-reply:${parsed.value.messageSid}`);
    }
    return twiml(reply, EMPTY_TWIML);
  });

  scope.post('/twilio/sms/status', { config: { auth: 'none' }, schema: { hide: true } }, async (req, reply) => {
    const parsed = parseStatusCallback((req.body ?? {}) as Record<string, unknown>);
    if (!parsed.ok) throw new AppError('SB_VALIDATION', parsed.message);
    const { messageSid, status } = parsed.value;
    const outboxId = (req.query as { outboxId?: string }).outboxId;
    let row = await findOutboxByProviderId(deps.db, messageSid);
    if (!row && outboxId && /^[0-9a-f-]{36}$/i.test(outboxId)) {
      // The callback overtook the send's own record of the provider id.
      await adoptProviderId(deps.db, outboxId, messageSid);
      row = await findOutboxByProviderId(deps.db, messageSid);
    }
    if (!row) {
      req.log.info({ status }, 'status callback for a message we do not know; ignored');
      return reply.code(204).send();
    }
    // Forward-only, whatever order callbacks arrive in; a repeated callback changes nothing.
    for (let tries = 0; tries < 5; tries++) {
      const next = advance(row.status, status);
      if (!next) {
        await recordReceipt(deps.db, messageSid, status, false);
        break;
      }
      if (await setStatus(deps.db, row.id, row.status, next)) {
        await recordReceipt(deps.db, messageSid, status, true);
        break;
      }
      row = (await findOutbox(deps.db, row.id))!;
    }
    return reply.code(204).send();
  });
}
