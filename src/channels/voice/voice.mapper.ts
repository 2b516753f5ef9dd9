/** Twilio Voice webhooks → our vocabulary (pure). */
import type { IngestCommand } from '../../interactions/events.types';
import { normalizePhone } from '../../customers/identity';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const CALL_SID_RE = /^CA[0-9a-fA-F]{32}$/;
const FINAL = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);
const KNOWN = new Set(['queued', 'initiated', 'ringing', 'in-progress', ...FINAL]);

export interface IncomingCall {
  callSid: string;
  from: string;
  to: string;
}

export function parseIncomingCall(form: Record<string, unknown>, region: string): Parsed<IncomingCall> {
  if (typeof form.CallSid !== 'string' || !CALL_SID_RE.test(form.CallSid)) return { ok: false, message: 'CallSid is missing or malformed' };
  const from = typeof form.From === 'string' ? normalizePhone(form.From, region) : null;
  if (!from) return { ok: false, message: 'From is not a phone number' };
  const to = typeof form.To === 'string' ? normalizePhone(form.To, region) : null;
  if (!to) return { ok: false, message: 'To is not a phone number' };
  return { ok: true, value: { callSid: form.CallSid, from, to } };
}

export const voiceConversationKey = (callSid: string): string => `voice:${callSid}`;

export function incomingCallCommand(c: IncomingCall, now: Date): IngestCommand {
  return {
    idempotencyKey: `twilio:call:${c.callSid}`,
    type: 'call.received',
    channel: 'voice',
    direction: 'in',
    occurredAt: now,
    payload: { from: 'customer', providerId: c.callSid },
    customer: { identity: { kind: 'phone', value: c.from } },
    interaction: {
      kind: 'conversation',
      key: voiceConversationKey(c.callSid),
      open: { direction: 'in', entryAddress: c.to, attributes: { callSid: c.callSid, customerAddress: c.from, ourAddress: c.to }, ivr: true },
    },
  };
}

export interface CallStatus {
  callSid: string;
  status: string;
  final: boolean;
  durationSeconds: number | null;
}

export function parseCallStatus(form: Record<string, unknown>): Parsed<CallStatus> {
  if (typeof form.CallSid !== 'string' || !CALL_SID_RE.test(form.CallSid)) return { ok: false, message: 'CallSid is missing or malformed' };
  if (typeof form.CallStatus !== 'string' || !KNOWN.has(form.CallStatus)) return { ok: false, message: 'CallStatus is missing or unknown' };
  const raw = form.CallDuration;
  const duration = typeof raw === 'string' && /^\d{1,7}$/.test(raw) ? Number(raw) : null;
  return { ok: true, value: { callSid: form.CallSid, status: form.CallStatus, final: FINAL.has(form.CallStatus), durationSeconds: duration } };
}

export interface Recording {
  callSid: string;
  recordingSid: string;
  url: string;
  durationSeconds: number | null;
  status: string;
}

export function parseRecording(form: Record<string, unknown>): Parsed<Recording> {
  if (typeof form.CallSid !== 'string' || !CALL_SID_RE.test(form.CallSid)) return { ok: false, message: 'CallSid is missing or malformed' };
  if (typeof form.RecordingSid !== 'string' || !/^RE[0-9a-fA-F]{32}$/.test(form.RecordingSid)) return { ok: false, message: 'RecordingSid is missing or malformed' };
  if (typeof form.RecordingUrl !== 'string' || !/^https:\/\//.test(form.RecordingUrl)) return { ok: false, message: 'RecordingUrl must be an https URL' };
  const status = typeof form.RecordingStatus === 'string' ? form.RecordingStatus : 'completed';
  const d = form.RecordingDuration;
  return { ok: true, value: { callSid: form.CallSid, recordingSid: form.RecordingSid, url: form.RecordingUrl, status, durationSeconds: typeof d === 'string' && /^\d+$/.test(d) ? Number(d) : null } };
}

/** "You are number 2 in line. The estimated wait is about 3 minutes." */
export function waitAnnouncement(position: number, estimatedSeconds: number | null): string {
  const place = position <= 1 ? 'You are next in line.' : `You are number ${position} in line.`;
  if (estimatedSeconds === null) return `${place} Please stay on the line.`;
  const minutes = Math.max(1, Math.round(estimatedSeconds / 60));
  return `${place} The estimated wait is about ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}
