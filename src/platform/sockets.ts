/**
 * The socket.io server. Fan-out across processes goes through the Redis streams adapter, so an
 * event committed in one process reaches sockets connected to any other.
 */
import type { Server as HttpServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Redis } from 'ioredis';
import { Server, type Namespace, type Socket } from 'socket.io';
import { Adapter, MessageType, type BroadcastOptions, type ClusterAdapter, type ClusterMessage } from 'socket.io-adapter';
import { AppError, toErrorBody, type ErrorBody } from './errors';
import type { Config } from './config';
import { redisKey } from './redis';
import { roleAllows, type Role, type StaffClaims, type TokenService } from './auth/tokens';

/**
 * How long the adapter's stream reader blocks in one read. Short, since it bounds how long
 * shutdown waits for the reader to end; messages are delivered as soon as they arrive either way.
 */
export const ADAPTER_BLOCK_MS = 500;

export function createIo(server: HttpServer, config: Config, redis: Redis): Server {
  return new Server(server, {
    adapter: localFirst(createAdapter(redis, { streamName: redisKey(config, 'socket.io'), blockTimeInMs: ADAPTER_BLOCK_MS })),
    maxHttpBufferSize: config.bodyLimitBytes,
    serveClient: false,
    cors: { origin: true, credentials: true },
  });
}

/**
 * The cluster adapter's broadcast waits for its Redis append before it delivers to this
 * process's own sockets. It needs the append's offset only for connection state recovery, which
 * this server does not enable. So a push to an agent or a visitor connected here waited a Redis
 * round trip for nothing. With this wrapper, the process's own sockets get the packet at once, and
 * the same message goes to the other processes without being waited for. A failed append is
 * dropped silently, as the adapter's own broadcast drops it. Should createIo ever enable
 * connection state recovery, this wrapper has to go: each packet must then carry its offset.
 * Pinned: socket.io-adapter 2.5.8, whose BROADCAST message this builds (its ClusterMessage type).
 */
function localFirst(factory: (nsp: Namespace) => Adapter): (nsp: Namespace) => Adapter {
  // A function, not an arrow: socket.io calls it with `new` (the adapter it returns stands in).
  return function adapterFor(nsp: Namespace): Adapter {
    const adapter = factory(nsp) as ClusterAdapter;
    const publish = (adapter as unknown as { publish(m: Omit<Extract<ClusterMessage, { type: MessageType.BROADCAST }>, 'nsp' | 'uid'>): void }).publish.bind(adapter);
    adapter.broadcast = async (packet: unknown, opts: BroadcastOptions): Promise<void> => {
      Adapter.prototype.broadcast.call(adapter, packet, opts);
      if (opts.flags?.local) return;
      publish({ type: MessageType.BROADCAST, data: { packet, opts: { rooms: [...opts.rooms], except: [...(opts.except ?? [])], flags: opts.flags ?? {} } } });
    };
    return adapter;
  };
}

export type Ack<T extends object = object> = (response: ({ ok: true } & T) | { ok: false; error: ErrorBody }) => void;

/**
 * Wrap a client→server handler: the ack gets the handler's result, or the error in the
 * documented shape; a missing ack callback is tolerated; nothing thrown escapes.
 */
export function handle<P, R extends object>(
  socket: Socket,
  event: string,
  fn: (payload: P) => Promise<R>,
  onError: (err: unknown) => void,
): void {
  socket.on(event, async (payload: P, ack?: unknown) => {
    const reply = typeof ack === 'function' ? (ack as Ack<R>) : () => undefined;
    try {
      const result = await fn(payload);
      reply({ ok: true, ...result });
    } catch (err) {
      if (!(err instanceof AppError)) onError(err);
      reply({ ok: false, error: toErrorBody(err) });
    }
  });
}

/** Namespace middleware for staff: a valid token with at least `role`. */
export function staffAuth(tokens: TokenService, role: Role) {
  return (socket: Socket, next: (err?: Error) => void): void => {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    const claims = typeof token === 'string' ? tokens.verifyStaff(token) : null;
    if (!claims) return next(connectError('SB_UNAUTHORIZED', 'missing, invalid or expired token'));
    if (!roleAllows(claims.role, role)) return next(connectError('SB_FORBIDDEN', `this namespace needs the ${role} role`));
    (socket.data as { user?: StaffClaims }).user = claims;
    next();
  };
}

export function connectError(code: ErrorBody['code'], message: string): Error {
  const err = new Error(message) as Error & { data: { code: string; message: string } };
  err.data = { code, message };
  return err;
}
