/** Validation of what an agent console sends (pure). Each parser returns the value or a message naming the field. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CLIENT_ID_RE = /^[\x21-\x7e]{1,100}$/;

const obj = (p: unknown): Record<string, unknown> | null => (typeof p === 'object' && p !== null && !Array.isArray(p) ? (p as Record<string, unknown>) : null);

function uuidField(p: Record<string, unknown>, field: string): string | null {
  const v = p[field];
  return typeof v === 'string' && UUID_RE.test(v) ? v.toLowerCase() : null;
}

export function parseOfferRef(payload: unknown): Parsed<{ offerId: string }> {
  const p = obj(payload);
  const offerId = p && uuidField(p, 'offerId');
  return offerId ? { ok: true, value: { offerId } } : { ok: false, message: 'offerId must be an offer id (uuid)' };
}

export function parseInteractionRef(payload: unknown): Parsed<{ interactionId: string }> {
  const p = obj(payload);
  const interactionId = p && uuidField(p, 'interactionId');
  return interactionId ? { ok: true, value: { interactionId } } : { ok: false, message: 'interactionId must be an interaction id (uuid)' };
}

export function parseStateSet(payload: unknown): Parsed<{ state: 'available' | 'away' | 'offline'; reason: string | null }> {
  const p = obj(payload);
  if (!p || !['available', 'away', 'offline'].includes(p.state as string)) return { ok: false, message: 'state must be available, away or offline' };
  if (p.reason !== undefined && (typeof p.reason !== 'string' || p.reason.length === 0 || p.reason.length > 100)) {
    return { ok: false, message: 'reason must be a string of 1-100 characters' };
  }
  return { ok: true, value: { state: p.state as 'available' | 'away' | 'offline', reason: (p.reason as string | undefined) ?? null } };
}

export function parseReply(payload: unknown, maxLength: number): Parsed<{ interactionId: string; clientMessageId: string; text: string }> {
  const ref = parseInteractionRef(payload);
  if (!ref.ok) return ref;
  const p = payload as Record<string, unknown>;
  if (typeof p.clientMessageId !== 'string' || !CLIENT_ID_RE.test(p.clientMessageId)) return { ok: false, message: 'clientMessageId must be a string of 1-100 printable characters' };
  if (typeof p.text !== 'string' || p.text.trim().length === 0) return { ok: false, message: 'text must be a non-empty string' };
  if (p.text.length > maxLength) return { ok: false, message: `text is longer than ${maxLength} characters` };
  return { ok: true, value: { interactionId: ref.value.interactionId, clientMessageId: p.clientMessageId, text: p.text } };
}

export function parseWrapup(payload: unknown): Parsed<{ interactionId: string; disposition: string | null; notes: string | null }> {
  const ref = parseInteractionRef(payload);
  if (!ref.ok) return ref;
  const p = payload as Record<string, unknown>;
  if (p.disposition !== undefined && (typeof p.disposition !== 'string' || p.disposition.length === 0 || p.disposition.length > 100)) {
    return { ok: false, message: 'disposition must be a string of 1-100 characters' };
  }
  if (p.notes !== undefined && (typeof p.notes !== 'string' || p.notes.length > 10000)) return { ok: false, message: 'notes must be a string of at most 10000 characters' };
  return { ok: true, value: { interactionId: ref.value.interactionId, disposition: (p.disposition as string | undefined) ?? null, notes: (p.notes as string | undefined) || null } };
}

export function parseTransfer(payload: unknown): Parsed<{ interactionId: string; queueId: string }> {
  const ref = parseInteractionRef(payload);
  if (!ref.ok) return ref;
  const queueId = uuidField(payload as Record<string, unknown>, 'queueId');
  return queueId ? { ok: true, value: { interactionId: ref.value.interactionId, queueId } } : { ok: false, message: 'queueId must be a queue id (uuid)' };
}
