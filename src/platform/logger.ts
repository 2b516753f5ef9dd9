/**
 * pino with PII kept out: known personal fields are redacted by path, and free text that is
 * logged anyway (error messages) is masked for phone numbers and email addresses.
 */
import pino, { type Logger, type LoggerOptions } from 'pino';

const PII_KEYS = ['phone', 'email', 'text', 'body', 'subject', 'from', 'to', 'value', 'name', 'password', 'token', 'visitorToken', 'address', 'identities', 'notes', 'Body', 'From', 'To'];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-twilio-signature"]',
  ...PII_KEYS.flatMap((k) => [k, `*.${k}`]),
];

const EMAIL_RE = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const PHONE_RE = /\+?\d[\d\s()-]{6,}\d/g;

/** Replace email addresses and phone-number-like runs in free text. */
export function maskPii(text: string): string {
  return text.replace(EMAIL_RE, '[email]').replace(PHONE_RE, '[phone]');
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      err: (err: Error) => {
        const s = pino.stdSerializers.err(err);
        // A Postgres error's detail may quote a whole row ("Failing row contains (…)"): never logged.
        const detail = typeof s.detail === 'string' ? { detail: '[redacted]' } : {};
        return { ...s, ...detail, message: maskPii(s.message), stack: s.stack ? maskPii(s.stack) : undefined };
      },
      req: (req: { method: string; url: string; id: string }) => ({ id: req.id, method: req.method, url: maskPii(req.url.split('?')[0] ?? '') }),
    },
    hooks: {
      logMethod(args, method) {
        const masked = args.map((a) => (typeof a === 'string' ? maskPii(a) : a)) as Parameters<typeof method>;
        method.apply(this, masked);
      },
    },
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}

export type { Logger };
