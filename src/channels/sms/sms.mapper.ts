/** Twilio SMS webhooks → our vocabulary (pure). */
import type { IngestCommand } from '../../interactions/events.types';
import { normalizePhone } from '../../customers/identity';
import { fromTwilioStatus, type DeliveryStatus } from './delivery';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const SID_RE = /^(SM|MM|SMS)?[A-Za-z0-9]{32,34}$/;
export const MAX_SMS_BODY = 1600;

export interface InboundSms {
  messageSid: string;
  from: string;
  to: string;
  body: string;
  numMedia: number;
}

export function parseInboundSms(form: Record<string, unknown>, region: string): Parsed<InboundSms> {
  const sid = form.MessageSid ?? form.SmsSid;
  if (typeof sid !== 'string' || !SID_RE.test(sid)) return { ok: false, message: 'MessageSid is missing or malformed' };
  const from = typeof form.From === 'string' ? normalizePhone(form.From, region) : null;
  if (!from) return { ok: false, message: 'From is not a phone number' };
  const to = typeof form.To === 'string' ? normalizePhone(form.To, region) : null;
  if (!to) return { ok: false, message: 'To is not a phone number' };
  const body = form.Body === undefined ? '' : form.Body;
  if (typeof body !== 'string') return { ok: false, message: 'Body must be text' };
  if (body.length > MAX_SMS_BODY) return { ok: false, message: `Body is longer than ${MAX_SMS_BODY} characters` };
  const numMedia = Number(form.NumMedia ?? 0);
  if (!Number.isInteger(numMedia) || numMedia < 0) return { ok: false, message: 'NumMedia must be a whole number' };
  if (body.trim() === '' && numMedia === 0) return { ok: false, message: 'Body is empty and there is no media' };
  return { ok: true, value: { messageSid: sid, from, to, body, numMedia } };
}

export const smsConversationKey = (customer: string, ours: string): string => `sms:${customer}:${ours}`;

export function inboundSmsCommand(m: InboundSms, now: Date): IngestCommand {
  return {
    idempotencyKey: `twilio:sms:${m.messageSid}`,
    type: 'message.received',
    channel: 'sms',
    direction: 'in',
    occurredAt: now,
    payload: { text: m.body, from: 'customer', providerId: m.messageSid, ...(m.numMedia ? { numMedia: m.numMedia } : {}) },
    customer: { identity: { kind: 'phone', value: m.from } },
    interaction: {
      kind: 'conversation',
      key: smsConversationKey(m.from, m.to),
      open: { direction: 'in', entryAddress: m.to, attributes: { customerAddress: m.from, ourAddress: m.to }, ivr: true },
    },
  };
}

export function parseStatusCallback(form: Record<string, unknown>): Parsed<{ messageSid: string; status: DeliveryStatus; errorCode?: string }> {
  const sid = form.MessageSid ?? form.SmsSid;
  if (typeof sid !== 'string' || !SID_RE.test(sid)) return { ok: false, message: 'MessageSid is missing or malformed' };
  const raw = form.MessageStatus ?? form.SmsStatus;
  const status = typeof raw === 'string' ? fromTwilioStatus(raw) : null;
  if (!status) return { ok: false, message: 'MessageStatus is missing or unknown' };
  return { ok: true, value: { messageSid: sid, status, ...(typeof form.ErrorCode === 'string' ? { errorCode: form.ErrorCode } : {}) } };
}
