/**
 * Identity normalization (pure): one spelling per address, so "(415) 555-0100" and
 * "+1 415 555 0100" are the same customer.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import type { Identity, IdentityKind } from '../interactions/events.types';

export type NormalizeResult = { ok: true; identity: Identity } | { ok: false; message: string };

const EMAIL_RE = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;
const CHAT_RE = /^[A-Za-z0-9_-]{8,64}$/;

export function normalizePhone(raw: string, defaultRegion: string): string | null {
  const trimmed = raw.trim();
  if (trimmed.length === 0 || trimmed.length > 40) return null;
  // "00" international prefix is common outside North America.
  const candidate = trimmed.startsWith('00') ? `+${trimmed.slice(2)}` : trimmed;
  const parsed = parsePhoneNumberFromString(candidate, defaultRegion as CountryCode);
  if (!parsed || !parsed.isPossible()) return null;
  return parsed.number;
}

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
