/** REST calls to Switchboard with the signed-in user's token; errors keep the server's code and message. */
import type { ErrorBody } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Api {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  patch<T>(path: string, body: unknown): Promise<T>;
}

/**
 * The server's clock as this page sees it. Offers carry the server's `expiresAt`, and an agent's
 * PC clock can be off by more than an offer lasts (which would show a live offer as expired and
 * disable Accept). Every response's `Date` header (whole seconds) refreshes the estimate;
 * differences under 2 s are treated as none.
 */
let clockOffsetMs = 0;

export function serverNow(): number {
  return Date.now() + clockOffsetMs;
}

function observeServerDate(header: string | null, sentAt: number, receivedAt: number): void {
  const server = header ? Date.parse(header) : Number.NaN;
  if (Number.isNaN(server)) return;
  // The header is truncated to the second: its middle is half a second later.
  const offset = server + 500 - (sentAt + receivedAt) / 2;
  clockOffsetMs = Math.abs(offset) < 2000 ? 0 : Math.round(offset);
}

/**
 * `onUnauthorized` runs when a call made with a token comes back 401: the token has expired or
 * was revoked, and the page should send the user back to the sign-in form.
 */
export function createApi(token: () => string | null, onUnauthorized: () => void): Api {
  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const t = token();
    const headers: Record<string, string> = {};
    if (t) headers.authorization = `Bearer ${t}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    const sentAt = Date.now();
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, 'SB_NETWORK', 'Switchboard cannot be reached; check your connection');
    }
    observeServerDate(res.headers.get('date'), sentAt, Date.now());
    const data = (await res.json().catch(() => null)) as { error?: ErrorBody } | null;
    if (!res.ok) {
      if (res.status === 401 && t) onUnauthorized();
      throw new ApiError(res.status, data?.error?.code ?? `HTTP_${res.status}`, data?.error?.message ?? res.statusText);
    }
    return data as T;
  }
  return {
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body),
    patch: (path, body) => request('PATCH', path, body),
  };
}

/** A message for people from anything thrown. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err && typeof (err as { message: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}
