import { Redis, type ChainableCommander } from 'ioredis';
import type { Config } from './config';

/** The longest wait between two attempts to reach Redis again: a process is back at most this long after Redis is. */
export const REDIS_RETRY_MAX_MS = 2000;
const retryStrategy = (times: number): number => Math.min(times * 200, REDIS_RETRY_MAX_MS);

/** Run a pipeline: its replies, or its first command's error thrown (exec reports each command's error in its replies). */
export async function execAll(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = await pipeline.exec();
  if (!replies) throw new Error('the Redis pipeline got no answer');
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
  return replies.map(([, value]) => value);
}

/**
 * A Redis connection for commands. Commands fail fast when Redis is unreachable instead of
 * queueing forever, so an outage shows up as an error the caller can handle.
 */
export function createRedis(config: Config, name: string): Redis {
  const redis = new Redis(config.redisUrl, {
    connectionName: `switchboard:${name}`,
    maxRetriesPerRequest: 1,
    commandTimeout: 3000,
    enableOfflineQueue: true,
    lazyConnect: false,
    retryStrategy,
  });
  redis.on('error', () => undefined); // reconnects on its own; readiness reports the outage
  return redis;
}

/** A connection for BullMQ and blocking reads (no per-request retry limit, as BullMQ requires). */
export function createBlockingRedis(config: Config, name: string): Redis {
  const redis = new Redis(config.redisUrl, {
    connectionName: `switchboard:${name}`,
    maxRetriesPerRequest: null,
    retryStrategy,
  });
  redis.on('error', () => undefined);
  return redis;
}

/**
 * Every connection `duplicate()` makes of `redis` from now on, in the array returned. The socket.io
 * adapter makes its own: a subscriber, and a reader blocked on the stream, which the adapter ends
 * only once its read returns, and whose read is retried without limit should its connection drop
 * first. So shutdown waits for them to end (see `endedWithin`): a reader whose Redis went away
 * meanwhile reconnected forever and kept the process alive.
 */
export function keepDuplicates(redis: Redis): Redis[] {
  const made: Redis[] = [];
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const copy = duplicate(...args);
    copy.on('error', () => undefined);
    made.push(copy);
    return copy;
  };
  return made;
}

/** Resolves once `redis` has ended, or after `ms`, when it is ended at once instead. */
export async function endedWithin(redis: Redis, ms: number): Promise<void> {
  if (redis.status === 'end') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      redis.disconnect();
      resolve();
    }, ms);
    redis.once('end', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export const redisKey = (config: Config, ...parts: string[]): string => [config.redisKeyPrefix, ...parts].join(':');
