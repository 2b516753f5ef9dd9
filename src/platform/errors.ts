/**
 * The error-code registry. Every error a client can see has a code here with its HTTP status;
 * the JSON body is always `{ error: { code, message } }` and socket acks use the same shape.
 */
export const ERROR_CODES = {
  SB_VALIDATION: 400,
  SB_MALFORMED_JSON: 400,
  SB_EMPTY_BODY: 400,
  SB_UNAUTHORIZED: 401,
  SB_INVALID_CREDENTIALS: 401,
  SB_FORBIDDEN: 403,
  SB_NOT_FOUND: 404,
  SB_ROUTE_NOT_FOUND: 404,
  SB_METHOD_NOT_ALLOWED: 405,
  SB_CONFLICT: 409,
  SB_ALREADY_EXISTS: 409,
  SB_ALREADY_MERGED: 409,
  SB_INTERACTION_CLOSED: 409,
  SB_OFFER_EXPIRED: 409,
  SB_OFFER_TAKEN: 409,
  SB_OFFER_UNKNOWN: 404,
  SB_INVALID_STATE: 409,
  SB_AGENT_UNAVAILABLE: 409,
  SB_NOT_OWNER: 403,
  SB_BODY_TOO_LARGE: 413,
  SB_MESSAGE_TOO_LONG: 413,
  SB_UNSUPPORTED_MEDIA_TYPE: 415,
  SB_RATE_LIMITED: 429,
  SB_INTERNAL: 500,
  SB_UNAVAILABLE: 503,
  SB_NOT_READY: 503,
  SB_WEB_NOT_BUILT: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

export class AppError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
    this.statusCode = ERROR_CODES[code];
  }
  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

export const notFound = (what: string, id: string): AppError => new AppError('SB_NOT_FOUND', `${what} ${id} not found`);
export const validation = (message: string): AppError => new AppError('SB_VALIDATION', message);

/** Postgres SQLSTATE classes that mean "the database is not reachable right now". */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08003', '08006', '08001', '08004']);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

/** True when an error means a dependency is down (the caller should retry), not a bug. */
export function isUnavailable(err: unknown): boolean {
  // Not `instanceof Error`: errors raised by Node's core (sockets) may come from another realm.
  if (typeof err !== 'object' || err === null || typeof (err as { message?: unknown }).message !== 'string') return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_NODE_CODES.has(code))) return true;
  return /timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error|Connection is closed|Query read timeout/i.test(
    (err as { message: string }).message,
  );
}

/** Map anything thrown to what a client may see: known codes pass, outages are 503, the rest 500 without internals. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof AppError) return err.toBody();
  if (isUnavailable(err)) return { code: 'SB_UNAVAILABLE', message: 'a dependency is unavailable; retry later' };
  return { code: 'SB_INTERNAL', message: 'internal error' };
}
