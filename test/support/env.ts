/**
 * Test environment: every test file gets its own database and Redis key prefix, so files run
 * in parallel against the one Postgres and Redis without seeing each other.
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/platform/config';

export const PG_BASE = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const JWT_SECRET = 'test-secret-0123456789abcdef';
export const ADMIN_PASSWORD = 'admin-password-1';

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const db = uniqueName('sb_test');
  return {
    DATABASE_URL: `${PG_BASE}/${db}`,
    REDIS_URL,
    REDIS_KEY_PREFIX: uniqueName('sbt'),
    JWT_SECRET,
    ADMIN_USERNAME: 'admin',
    ADMIN_PASSWORD,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides));
}

export function databaseName(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
}

/**
 * Ends a pool and waits until each of its connections has really closed. pg-pool's end()
 * resolves once it has asked its idle clients to end, before their sockets close; a database
 * dropped WITH (FORCE) in that window terminates them, and the terminated client's error
 * reaches a pool with no error listener as an unhandled error.
 */
export async function endPool(pool: Pool): Promise<void> {
  const open = pool.totalCount;
  let closed = 0;
  const allClosed = new Promise<void>((resolve) => {
    if (open === 0) return resolve();
    pool.on('remove', () => ++closed === open && resolve());
  });
  await pool.end();
  await allClosed;
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const pool = new Pool({ connectionString: `${PG_BASE}/postgres`, max: 1 });
  try {
    await pool.query(`DROP DATABASE IF EXISTS "${databaseName(databaseUrl)}" WITH (FORCE)`);
  } finally {
    await endPool(pool);
  }
}

/** Delete every Redis key under `prefix` (a test's or a bench service's own); how many went. */
export async function clearRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  let removed = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) removed += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return removed;
}
