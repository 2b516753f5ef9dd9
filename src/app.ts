/**
 * The composition root: platform → domain → channels. Tests build the app with this and talk
 * to it; only server.ts listens and exits.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Ajv from 'ajv';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import type { Server } from 'socket.io';
import type { Config } from './platform/config';
import { createPool } from './platform/db';
import { createLogger, type Logger } from './platform/logger';
import { createMetrics, type Metrics } from './platform/metrics';
import { createBlockingRedis, createRedis, redisKey } from './platform/redis';
import { registerErrorHandling } from './platform/http';
import { prepareDatabase, type PrepareResult } from './platform/bootstrap';
import { healthRoutes } from './platform/health.routes';
import { authPlugin } from './platform/auth/auth.plugin';
import { authRoutes } from './platform/auth/auth.routes';
import { TokenService } from './platform/auth/tokens';
import { createIo } from './platform/sockets';
import { EventPublisher } from './interactions/publisher';
import { IngestService } from './interactions/ingest.service';
import { interactionRoutes } from './interactions/interactions.routes';
import { CustomersService } from './customers/customers.service';
import { customerRoutes } from './customers/customers.routes';
import { AgentsService } from './agents/agents.service';
import { agentRoutes } from './agents/agents.routes';
import { registerStaffNamespaces } from './agents/agent.gateway';
import { directoryRoutes } from './routing/directory.routes';
import { registerChatGateway } from './channels/chat/chat.gateway';

export interface AppServices {
  config: Config;
  log: Logger;
  db: Pool;
  redis: Redis;
  io: Server;
  tokens: TokenService;
  metrics: Metrics;
  publisher: EventPublisher;
  ingest: IngestService;
  customers: CustomersService;
  agents: AgentsService;
  prepared: PrepareResult;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: AppServices;
  }
}

export interface BuildOptions {
  logger?: Logger;
}

export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const log = opts.logger ?? createLogger(config.logLevel);
  const app = Fastify({
    loggerInstance: log,
    bodyLimit: config.bodyLimitBytes,
    routerOptions: { ignoreTrailingSlash: true },
  }) as unknown as FastifyInstance;
  installValidators(app);

  const db = createPool(config);
  const redis = createRedis(config, 'commands');
  const adapterRedis = createBlockingRedis(config, 'socket.io');
  const closeResources = async () => {
    await Promise.allSettled([db.end(), redis.quit(), adapterRedis.quit()]);
  };
  let prepared: PrepareResult;
  try {
    prepared = await prepareDatabase(config, db, log);
  } catch (err) {
    await closeResources();
    throw err;
  }

  try {
    const metrics = createMetrics();
    const tokens = new TokenService(config.jwtSecret);
    const io = createIo(app.server, config, adapterRedis);
    const publisher = new EventPublisher(redis, redisKey(config, 'events'), log);
    const ingest = new IngestService(db, publisher);
    publisher.on((e) => {
      metrics.eventsIngested.inc({ type: e.type, channel: e.channel ?? 'none' });
    });
    const customers = new CustomersService(db, ingest);
    const agents = new AgentsService(db);
    app.decorate('services', { config, log, db, redis, io, tokens, metrics, publisher, ingest, customers, agents, prepared });

    // Platform
    registerErrorHandling(app);
    await app.register(swagger, {
      openapi: {
        info: { title: 'Switchboard', version: '0.1.0', description: 'Omnichannel contact-center API (see API.md)' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
        security: [{ bearer: [] }],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    await app.register(authPlugin, { tokens });
    app.addHook('onResponse', async (req, reply) => {
      metrics.httpDuration.observe(
        { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });
    healthRoutes(app, { db, redis, metrics });
    authRoutes(app, { db, tokens });

    // Domain
    customerRoutes(app, { customers, defaultPhoneRegion: config.defaultPhoneRegion });
    interactionRoutes(app, { db });
    directoryRoutes(app, { db, defaultPhoneRegion: config.defaultPhoneRegion });
    agentRoutes(app, { agents });
    registerStaffNamespaces({ io, tokens, metrics });

    // Channels
    registerChatGateway({ io, db, tokens, ingest, publisher, log, metrics, maxMessageLength: config.maxMessageLength });

    app.addHook('onClose', async () => {
      await new Promise<void>((resolve) => {
        io.close(() => resolve());
      });
      await closeResources();
    });
  } catch (err) {
    await closeResources();
    throw err;
  }

  return app;
}

/**
 * Bodies are validated strictly (a string is not a number, unknown fields are rejected);
 * query strings and path parameters are text on the wire, so they are coerced.
 */
function installValidators(app: FastifyInstance): void {
  const common = { allErrors: false, useDefaults: true, removeAdditional: false as const, strict: false };
  const strict = new Ajv({ ...common, coerceTypes: false });
  const coercing = new Ajv({ ...common, coerceTypes: 'array' });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));
}
