/**
 * The one place that reads the environment. Everything is validated once, at boot, and
 * every problem is reported together so an operator fixes the whole list in one go.
 */
import { randomBytes } from 'node:crypto';

export type NodeRole = 'api' | 'worker' | 'all';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  redisUrl: string;
  /** Prefix for every Redis key (BullMQ, socket.io adapter, event stream). */
  redisKeyPrefix: string;
  publicBaseUrl: string;
  jwtSecret: string;
  /** True when JWT_SECRET was not set and a random one was generated for this process. */
  jwtSecretGenerated: boolean;
  adminUsername: string;
  /** Undefined means: generate one on an empty database and print it once. */
  adminPassword?: string;
  twilio: {
    accountSid?: string;
    authToken?: string;
    apiUrl: string;
    apiKey?: string;
    apiSecret?: string;
    twimlAppSid?: string;
  };
  imapUrl?: string;
  smtpUrl?: string;
  emailFrom?: string;
  offerTimeoutSeconds: number;
  nodeRole: NodeRole;
  logLevel: string;
  /** Largest accepted HTTP body, bytes. */
  bodyLimitBytes: number;
  /** Longest accepted chat/reply message text, characters. */
  maxMessageLength: number;
  /** Milliseconds a request waits for a Postgres connection before failing with 503. */
  dbConnectTimeoutMs: number;
  /** Milliseconds a statement may run before Postgres cancels it. */
  dbStatementTimeoutMs: number;
  dbPoolSize: number;
  /** Postgres startup options the operator gives (PGOPTIONS, as libpq takes it); DATABASE_URL's `options` parameter wins over it. */
  dbOptions: string | undefined;
  /** Seconds after a voicemail caller hangs up before a missing recording means they left no message. */
  voicemailGraceSeconds: number;
  /** Seconds an agent may be disconnected before going offline (offers revoked, work re-routed). */
  agentGraceSeconds: number;
  /** Milliseconds between routing sweeps (the repair loop behind event-driven routing). */
  routerSweepMs: number;
  /** Seconds an IMAP watcher's mailbox lease lasts without renewal (a dead holder's is taken over after it). */
  emailLeaseSeconds: number;
  /** Attachments larger than this are kept as metadata only (bytes). */
  emailAttachmentMaxBytes: number;
  /** Region assumed for phone numbers written without a country code (ISO 3166 alpha-2). */
  defaultPhoneRegion: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = str(name);
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
      return def;
    }
    return n;
  };
  const url = (name: string, def: string | undefined, protocols: string[]): string | undefined => {
    const raw = str(name) ?? def;
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) {
        problems.push(`${name} must use ${protocols.join(' or ')} (got "${u.protocol}")`);
      }
    } catch {
      problems.push(`${name} is not a valid URL`);
    }
    return raw;
  };

  const nodeRole = (str('NODE_ROLE') ?? 'all') as NodeRole;
  if (!['api', 'worker', 'all'].includes(nodeRole)) {
    problems.push(`NODE_ROLE must be api, worker or all (got "${nodeRole}")`);
  }
  const logLevel = str('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const jwtSecret = str('JWT_SECRET');
  if (jwtSecret !== undefined && jwtSecret.length < 16) {
    problems.push('JWT_SECRET must be at least 16 characters');
  }
  const adminPassword = str('ADMIN_PASSWORD');
  if (adminPassword !== undefined && adminPassword.length < 8) {
    problems.push('ADMIN_PASSWORD must be at least 8 characters');
  }
  const prefix = str('REDIS_KEY_PREFIX') ?? 'sb';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(prefix)) {
    problems.push('REDIS_KEY_PREFIX may contain only letters, digits, "-" and "_" (1-64 characters)');
  }
  const accountSid = str('TWILIO_ACCOUNT_SID');
  const authToken = str('TWILIO_AUTH_TOKEN');
  if ((accountSid === undefined) !== (authToken === undefined)) {
    problems.push('TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set together');
  }
  const smtpUrl = url('SMTP_URL', undefined, ['smtp:', 'smtps:']);
  const emailFrom = str('EMAIL_FROM');
  if (smtpUrl !== undefined && emailFrom === undefined) problems.push('EMAIL_FROM is required when SMTP_URL is set');

  const config: Config = {
    port: int('PORT', 3000, 0, 65535),
    host: str('HOST') ?? '0.0.0.0',
    databaseUrl: url('DATABASE_URL', 'postgres://postgres@localhost:5432/switchboard', ['postgres:', 'postgresql:'])!,
    redisUrl: url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:'])!,
    redisKeyPrefix: prefix,
    publicBaseUrl: (url('PUBLIC_BASE_URL', 'http://localhost:3000', ['http:', 'https:']) ?? '').replace(/\/+$/, ''),
    jwtSecret: jwtSecret ?? randomBytes(32).toString('hex'),
    jwtSecretGenerated: jwtSecret === undefined,
    adminUsername: str('ADMIN_USERNAME') ?? 'admin',
    adminPassword,
    twilio: {
      accountSid,
      authToken,
      apiUrl: url('TWILIO_API_URL', 'https://api.twilio.com', ['http:', 'https:'])!.replace(/\/+$/, ''),
      apiKey: str('TWILIO_API_KEY'),
      apiSecret: str('TWILIO_API_SECRET'),
      twimlAppSid: str('TWILIO_TWIML_APP_SID'),
    },
    imapUrl: url('IMAP_URL', undefined, ['imap:', 'imaps:']),
    smtpUrl,
    emailFrom,
    offerTimeoutSeconds: int('OFFER_TIMEOUT_SECONDS', 20, 1, 600),
    nodeRole,
    logLevel,
    bodyLimitBytes: int('BODY_LIMIT_BYTES', 1024 * 1024, 1024, 50 * 1024 * 1024),
    maxMessageLength: int('MAX_MESSAGE_LENGTH', 10000, 1, 1000000),
    dbConnectTimeoutMs: int('DB_CONNECT_TIMEOUT_MS', 3000, 100, 60000),
    dbStatementTimeoutMs: int('DB_STATEMENT_TIMEOUT_MS', 10000, 100, 600000),
    dbPoolSize: int('DB_POOL_SIZE', 10, 1, 200),
    dbOptions: str('PGOPTIONS'),
    voicemailGraceSeconds: int('VOICEMAIL_GRACE_SECONDS', 60, 1, 3600),
    agentGraceSeconds: int('AGENT_GRACE_SECONDS', 30, 1, 3600),
    routerSweepMs: int('ROUTER_SWEEP_MS', 1000, 50, 60000),
    emailLeaseSeconds: int('EMAIL_LEASE_SECONDS', 15, 2, 600),
    emailAttachmentMaxBytes: int('EMAIL_ATTACHMENT_MAX_BYTES', 5 * 1024 * 1024, 0, 100 * 1024 * 1024),
    defaultPhoneRegion: (str('DEFAULT_PHONE_REGION') ?? 'US').toUpperCase(),
  };
  if (!/^[A-Z]{2}$/.test(config.defaultPhoneRegion)) problems.push('DEFAULT_PHONE_REGION must be a two-letter country code');
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
