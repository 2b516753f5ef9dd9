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
import { createBlockingRedis, createRedis, endedWithin, keepDuplicates, redisKey } from './platform/redis';
import { registerErrorHandling } from './platform/http';
import { prepareDatabase, type PrepareResult } from './platform/bootstrap';
import { healthRoutes } from './platform/health.routes';
import { authPlugin } from './platform/auth/auth.plugin';
import { authRoutes } from './platform/auth/auth.routes';
import { TokenService } from './platform/auth/tokens';
import { ADAPTER_BLOCK_MS, createIo } from './platform/sockets';
import { EventPublisher } from './interactions/publisher';
import { createMessagePool, IngestService } from './interactions/ingest.service';
import { interactionRoutes } from './interactions/interactions.routes';
import { CustomersService } from './customers/customers.service';
import { customerRoutes } from './customers/customers.routes';
import { AgentsService } from './agents/agents.service';
import { agentRoutes } from './agents/agents.routes';
import { registerAgentGateway } from './agents/agent.gateway';
import { AgentStateService } from './agents/agent-state.service';
import { WorkService } from './agents/work.service';
import { Presence } from './agents/presence';
import { directoryRoutes } from './routing/directory.routes';
import { AcdContext } from './routing/acd.context';
import { OffersService } from './routing/offers.service';
import { createRouterPool, RouterService } from './routing/router.service';
import { registerSweepSteps } from './routing/sweep';
import { listOffersOf } from './routing/offers.repository';
import { BullOfferTimers } from './queue/offer-timers';
import { SupervisorGateway } from './supervisor/supervisor.gateway';
import { supervisorRoutes } from './supervisor/supervisor.routes';
import { registerChatGateway } from './channels/chat/chat.gateway';
import { registerTwilioScope } from './channels/twilio/twilio.plugin';
import { createTwilioSms, createTwilioVoice } from './channels/twilio/twilio.client';
import { Outbox } from './channels/outbox/outbox.service';
import { smsOutbound } from './channels/sms/sms.outbound';
import { smsRoutes } from './channels/sms/sms.routes';
import { softphoneRoutes } from './channels/voice/softphone.routes';
import { VoiceService } from './channels/voice/voice.service';
import { voiceRoutes } from './channels/voice/voice.routes';
import { IvrDriver } from './ivr/ivr.driver';
import { flowRoutes } from './ivr/flows.routes';
import { outboundRoutes } from './channels/outbound.routes';
import { emailOutbound, smtpSender } from './channels/email/email.outbound';
import { EmailIntake } from './channels/email/email.intake';
import { ImapWatcher, parseImapUrl } from './channels/email/imap.watcher';
import { normalizeEmail } from './customers/identity';
import { webRoutes } from './web/web.routes';

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
  acd: AcdContext;
  offers: OffersService;
  router: RouterService;
  agentState: AgentStateService;
  work: WorkService;
  presence: Presence;
  outbox: Outbox;
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
  const routerDb = createRouterPool(config);
  const messageDb = createMessagePool(config);
  const redis = createRedis(config, 'commands');
  const adapterRedis = createBlockingRedis(config, 'socket.io');
  const adapterCopies = keepDuplicates(adapterRedis);
  const bullRedis = createBlockingRedis(config, 'bullmq');
  const workerRedis = createBlockingRedis(config, 'bullmq-worker');
  const closeResources = async () => {
    await Promise.allSettled([db.end(), routerDb.end(), messageDb.end(), redis.quit(), adapterRedis.quit(), bullRedis.quit(), workerRedis.quit()]);
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
    const ingest = new IngestService(
      db,
      publisher,
      {
        onBatch: (size) => metrics.ingestBatch.observe(size),
        onOneStatement: (outcome, messages, err) => {
          metrics.ingestOneStatement.inc({ outcome }, messages);
          if (outcome === 'failed') log.warn({ err }, 'storing messages in one statement failed; storing them step by step');
        },
      },
      messageDb,
    );
    publisher.on((e) => {
      metrics.eventsIngested.inc({ type: e.type, channel: e.channel ?? 'none' });
    });
    const customers = new CustomersService(db, ingest);
    const agents = new AgentsService(db);
    const acd = new AcdContext(db, ingest, log.child({ module: 'acd' }), config.offerTimeoutSeconds);
    const offers = new OffersService(acd);
    const router = new RouterService(acd, routerDb, log.child({ module: 'router' }));
    metrics.observeRouting(() => router);
    // A message that may open a conversation carries the first reads of the pass it may call for.
    ingest.readsBehindMessages = () => router.wantsReadsBehind();
    const agentState = new AgentStateService(acd, offers);
    const { accountSid, authToken, apiUrl } = config.twilio;
    const smsProvider = accountSid && authToken ? createTwilioSms({ accountSid, authToken, apiUrl }) : null;
    const outbox = new Outbox(db, smsProvider, (id) => `${config.publicBaseUrl}/twilio/sms/status?outboxId=${id}`, bullRedis, `${config.redisKeyPrefix}-bull`, log.child({ channel: 'sms' }));
    const sms = smsProvider ? smsOutbound(outbox) : undefined;
    const smtp = config.smtpUrl && config.emailFrom ? smtpSender(config.smtpUrl) : null;
    outbox.email = smtp;
    const email = smtp && config.emailFrom ? emailOutbound(outbox, config.emailFrom) : undefined;
    const work = new WorkService(acd, offers, ingest, { ...(sms ? { sms } : {}), ...(email ? { email } : {}) });
    const voice = new VoiceService({
      db, ingest, work, log: log.child({ channel: 'voice' }), publicBaseUrl: config.publicBaseUrl,
      provider: accountSid && authToken ? createTwilioVoice({ accountSid, authToken, apiUrl }) : null,
      requestRouting: () => router.trigger(), voicemailGraceSeconds: config.voicemailGraceSeconds,
    });
    const ivr = new IvrDriver({ db, ingest, publicBaseUrl: config.publicBaseUrl });
    acd.onAccepted.push((i) => voice.onAccepted(i));
    acd.onTransferred.push((i) => voice.onTransferred(i));
    const presence = new Presence(redis, config.redisKeyPrefix, config.agentGraceSeconds * 1000, log);
    const timers = new BullOfferTimers(bullRedis, `${config.redisKeyPrefix}-bull`, log);
    acd.timers = timers;
    app.decorate('services', { config, log, db, redis, io, tokens, metrics, publisher, ingest, customers, agents, acd, offers, router, agentState, work, presence, outbox, prepared });

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
    interactionRoutes(app, {
      db,
      routingHistory: async (id) =>
        (await listOffersOf(db, id)).map((o) => ({
          offerId: o.id,
          agentId: o.agentId,
          queueId: o.queueId,
          state: o.state,
          explanation: o.explanation,
          createdAt: o.createdAt.toISOString(),
          decidedAt: o.decidedAt?.toISOString() ?? null,
          decidedReason: o.decidedReason,
        })),
    });
    directoryRoutes(app, { db, defaultPhoneRegion: config.defaultPhoneRegion });
    agentRoutes(app, { agents, agentState });
    supervisorRoutes(app, { db, work });
    softphoneRoutes(app, { twilio: config.twilio });
    flowRoutes(app, { db });
    outboundRoutes(app, { db, ingest, sms, email, emailFrom: config.emailFrom, voice, voiceEnabled: Boolean(accountSid && authToken) });
    acd.notifier = registerAgentGateway({ io, db, tokens, metrics, log, publisher, offers, agentState, work, presence, maxMessageLength: config.maxMessageLength });
    const supervisor = new SupervisorGateway({ io, db, tokens, metrics, log, intervalMs: 1000 });
    presence.start(io.of('/agent'));
    // A new waiting interaction, from any channel, is a reason to route now: when the event names
    // its queue, only if someone in that queue has a free slot for it. Now means once it is
    // visible: a message's may be before it is durable (see interactions/reads-behind.ts).
    publisher.onVisible((e) => {
      if (e.type !== 'interaction.queued') return;
      const queueId = e.payload.queueId;
      router.trigger(typeof queueId === 'string' && e.channel ? { queueId, channel: e.channel, ...(e.interactionId ? { interactionId: e.interactionId } : {}) } : undefined);
    });
    if (config.nodeRole !== 'api') {
      registerSweepSteps(router, { db, offers, work, agentState, presence, graceSeconds: config.agentGraceSeconds, ingest, log });
      router.addSweepStep({ name: 'voicemail-past-max-wait', run: () => voice.voicemailPastMaxWait() });
      router.addSweepStep({ name: 'voicemail-never-left', run: () => voice.voicemailNeverLeft() });
      timers.startWorker((offerId, agentId) => offers.expire(offerId, agentId), workerRedis);
      outbox.startWorker(workerRedis);
      router.startSweeping(config.routerSweepMs);
    }
    let watcher: ImapWatcher | null = null;
    if (config.imapUrl && config.nodeRole !== 'api') {
      const target = parseImapUrl(config.imapUrl);
      const address = normalizeEmail(config.emailFrom ?? '') ?? normalizeEmail(target.user) ?? `${target.user}@${target.host}`;
      const mailboxKey = `${target.user}@${target.host}:${target.port}/${target.mailbox}`;
      const intake = new EmailIntake({ db, ingest, mailbox: mailboxKey, address, maxAttachmentBytes: config.emailAttachmentMaxBytes, log: log.child({ channel: 'email' }) });
      watcher = new ImapWatcher({ db, intake, target, mailboxKey, log: log.child({ channel: 'email' }), leaseSeconds: config.emailLeaseSeconds });
      watcher.start();
    }

    // Channels
    await registerTwilioScope(app, { authToken: config.twilio.authToken, publicBaseUrl: config.publicBaseUrl }, (scope) => {
      smsRoutes(scope, {
        db, ingest, defaultPhoneRegion: config.defaultPhoneRegion,
        menu: sms && {
          answer: (id, text, key) => ivr.runText(id, { kind: 'text', value: text }, key),
          reply: (id, text, key) => work.systemReply(id, text, key),
        },
      });
      voiceRoutes(scope, { voice, ivr, defaultPhoneRegion: config.defaultPhoneRegion });
    });
    registerChatGateway({ io, db, tokens, ingest, publisher, log, metrics, maxMessageLength: config.maxMessageLength, customerLeft: (id) => work.customerLeft(id) });
    webRoutes(app);

    app.addHook('onClose', async () => {
      supervisor.stop();
      presence.stop();
      await watcher?.stop();
      smtp?.close();
      await router.stop();
      await timers.close();
      await outbox.close();
      await new Promise<void>((resolve) => {
        io.close(() => resolve());
      });
      // Stream appends are not waited for by the writes that issue them: let the last ones land.
      await publisher.appended();
      // The adapter's own connections end once its blocked read returns.
      await Promise.all(adapterCopies.map((copy) => endedWithin(copy, 2 * ADAPTER_BLOCK_MS)));
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
