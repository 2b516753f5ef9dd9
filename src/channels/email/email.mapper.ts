/**
 * Inbound email facts (pure): who wrote, what it answers, whether it is automatic, and the
 * subject tag that threads replies to our messages. Works on plain values extracted from the
 * parsed message, so it is testable without MIME.
 */
export interface EmailFacts {
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  from: string | null;
  fromName: string | null;
  subject: string;
  text: string;
  headers: Record<string, string>;
}

const ID_RE = /<[^<>\s]+>/g;

/** Message-ID lists come as "<a@x> <b@y>", arrays, or without brackets; normalize to "<…>". */
export function messageIds(value: unknown): string[] {
  const raw = Array.isArray(value) ? value.join(' ') : typeof value === 'string' ? value : '';
  const bracketed = raw.match(ID_RE);
  if (bracketed) return bracketed.map((s) => s.toLowerCase());
  return raw.split(/\s+/).filter((s) => /^[^<>\s]+@[^<>\s]+$/.test(s)).map((s) => `<${s.toLowerCase()}>`);
}

/** Auto-replies, bounces and bulk mail are recorded but create no work. */
export function isAutomatic(f: Pick<EmailFacts, 'from' | 'headers'>): string | null {
  const h = f.headers;
  const auto = h['auto-submitted'];
  if (auto && auto.toLowerCase() !== 'no') return `auto-submitted: ${auto}`;
  const precedence = h['precedence']?.toLowerCase();
  if (precedence && ['bulk', 'junk', 'list', 'auto_reply'].includes(precedence)) return `precedence: ${precedence}`;
  if (h['x-autoreply'] || h['x-autorespond'] || h['x-auto-response-suppress']?.toLowerCase().includes('all')) return 'auto-responder';
  if (h['list-id'] || h['list-unsubscribe']) return 'mailing list';
  const from = f.from ?? '';
  if (/^(mailer-daemon|postmaster|no-?reply)@/i.test(from)) return 'system sender';
  if (h['content-type']?.toLowerCase().includes('multipart/report')) return 'delivery report';
  return null;
}

/** The short interaction tag we put in subjects: "[#1a2b3c4d]". */
export const subjectTag = (interactionId: string): string => `[#${interactionId.slice(0, 8)}]`;

export function tagFromSubject(subject: string): string | null {
  const m = /\[#([0-9a-f]{8})\]/i.exec(subject);
  return m ? m[1]!.toLowerCase() : null;
}

/** "Re: <subject> [#tag]" without piling up prefixes or tags. */
export function replySubject(subject: string | null, interactionId: string): string {
  const base = (subject ?? '').replace(/\s*\[#[0-9a-f]{8}\]/gi, '').replace(/^\s*((re|fwd?|aw|sv)\s*:\s*)+/i, '').trim() || 'Your message';
  return `Re: ${base} ${subjectTag(interactionId)}`;
}
