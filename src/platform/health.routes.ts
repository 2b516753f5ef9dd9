import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Metrics } from './metrics';

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);

export function healthRoutes(app: FastifyInstance, deps: { db: Pool; redis: Redis; metrics: Metrics }): void {
  app.get('/health/live', { schema: { tags: ['health'] } }, async () => ({ status: 'ok' }));

  app.get('/health/ready', { schema: { tags: ['health'] } }, async (_req, reply) => {
    const [pg, redis] = await Promise.allSettled([withTimeout(deps.db.query('SELECT 1'), 2000), withTimeout(deps.redis.ping(), 2000)]);
    const checks = { postgres: pg.status === 'fulfilled' ? 'up' : 'down', redis: redis.status === 'fulfilled' ? 'up' : 'down' };
    const down = Object.entries(checks).filter(([, v]) => v === 'down').map(([k]) => k);
    if (down.length === 0) return { status: 'ready', checks };
    return reply.code(503).send({ error: { code: 'SB_NOT_READY', message: `down: ${down.join(', ')}` }, checks });
  });

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    void reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
