import { Redis } from 'ioredis';
import type { Config } from './config';

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
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  redis.on('error', () => undefined); // reconnects on its own; readiness reports the outage
  return redis;
}

/** A connection for BullMQ and blocking reads (no per-request retry limit, as BullMQ requires). */
export function createBlockingRedis(config: Config, name: string): Redis {
  const redis = new Redis(config.redisUrl, {
    connectionName: `switchboard:${name}`,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  redis.on('error', () => undefined);
  return redis;
}

export const redisKey = (config: Config, ...parts: string[]): string => [config.redisKeyPrefix, ...parts].join(':');
