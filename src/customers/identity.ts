/**
 * Identity normalization (pure): one spelling per address, so "(415) 555-0100" and
 * "+1 415 555 0100" are the same customer.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import type { Identity, IdentityKind } from '../interactions/events.types';
import { boundedMemo } from '../platform/bounded-memo';

export type NormalizeResult = { ok: true; identity: Identity } | { ok: false; message: string };

const EMAIL_RE = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;
const CHAT_RE = /^[A-Za-z0-9_-]{8,64}$/;

/**
 * The E.164 spelling of a phone number, or null when it is not one. Parsing with the full
 * metadata costs tens of microseconds, and every webhook carries two numbers that mostly repeat
 * (our own, the customer's), so results are kept for at least the last 10,000 distinct spellings.
 */
export function normalizePhone(raw: string, defaultRegion: string): string | null {
  const trimmed = raw.trim();
  if (trimmed.length === 0 || trimmed.length > 40) return null;
  return parsedPhone(`${defaultRegion}\u0000${trimmed}`);
}

const parsedPhone = boundedMemo(20_000, (key: string): string | null => {
  const cut = key.indexOf('\u0000');
  const region = key.slice(0, cut);
  const trimmed = key.slice(cut + 1);
  // "00" international prefix is common outside North America.
  const candidate = trimmed.startsWith('00') ? `+${trimmed.slice(2)}` : trimmed;
  const parsed = parsePhoneNumberFromString(candidate, region as CountryCode);
  if (!parsed || !parsed.isPossible()) return null;
  return parsed.number;
});

export function normalizeEmail(raw: string): string | null {
  const v = raw.trim().toLowerCase();
  return v.length <= 254 && EMAIL_RE.test(v) ? v : null;
}

export function normalizeIdentity(kind: IdentityKind, raw: string, defaultRegion: string): NormalizeResult {
  switch (kind) {
    case 'phone': {
      const v = normalizePhone(raw, defaultRegion);
      return v ? { ok: true, identity: { kind, value: v } } : { ok: false, message: 'phone is not a valid phone number' };
    }
    case 'email': {
      const v = normalizeEmail(raw);
      return v ? { ok: true, identity: { kind, value: v } } : { ok: false, message: 'email is not a valid email address' };
    }
    case 'chat':
      return CHAT_RE.test(raw) ? { ok: true, identity: { kind, value: raw } } : { ok: false, message: 'chat visitor id is malformed' };
  }
}
