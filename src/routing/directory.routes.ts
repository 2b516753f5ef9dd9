/** Admin REST for the routing directory: queues and entry points. */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Pool } from 'pg';
import { AppError } from '../platform/errors';
import { ChannelSchema, ErrorResponse, Uuid } from '../platform/schemas';
import { CHANNELS } from '../interactions/events.types';
import { existingQueueIds, findQueue, insertQueue, listQueues, type QueueRecord } from './queues.repository';
import { listEntryPoints, upsertEntryPoint, type EntryPointRecord } from './entry-points.repository';
import { normalizeEmail, normalizePhone } from '../customers/identity';

const STRATEGIES = ['longest-idle', 'least-occupied', 'round-robin', 'skills-weighted'] as const;

const AfterSeconds = Type.Integer({ minimum: 0, maximum: 86400 });
const EscalationStepSchema = Type.Union([
  Type.Object({ afterSeconds: AfterSeconds, action: Type.Literal('raise-priority'), by: Type.Integer({ minimum: 1, maximum: 1000 }) }, { additionalProperties: false }),
  Type.Object({ afterSeconds: AfterSeconds, action: Type.Literal('relax-skills'), by: Type.Integer({ minimum: 1, maximum: 100 }) }, { additionalProperties: false }),
  Type.Object({ afterSeconds: AfterSeconds, action: Type.Literal('overflow'), queueId: Uuid }, { additionalProperties: false }),
]);
const PriorityRuleSchema = Type.Object(
  {
    attribute: Type.String({ minLength: 1, maxLength: 100 }),
    equals: Type.Union([Type.String({ maxLength: 200 }), Type.Number(), Type.Boolean()]),
    raiseBy: Type.Integer({ minimum: -1000, maximum: 1000 }),
  },
  { additionalProperties: false },
);

const CreateQueueBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }),
    skills: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]{1,50}$' }), Type.Integer({ minimum: 0, maximum: 100 }), { maxProperties: 50 })),
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    slaSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
    channels: Type.Optional(Type.Array(ChannelSchema, { minItems: 1, uniqueItems: true })),
    script: Type.Optional(Type.String({ maxLength: 20000 })),
    strategy: Type.Optional(Type.Union(STRATEGIES.map((s) => Type.Literal(s)))),
    maxWaitSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
    escalation: Type.Optional(Type.Array(EscalationStepSchema, { maxItems: 20 })),
    priorityRules: Type.Optional(Type.Array(PriorityRuleSchema, { maxItems: 20 })),
  },
  { additionalProperties: false },
);
const Queue = Type.Object({
  id: Type.String(),
  name: Type.String(),
  skills: Type.Record(Type.String(), Type.Integer()),
  priority: Type.Integer(),
  slaSeconds: Type.Integer(),
  channels: Type.Array(Type.String()),
  script: Type.Union([Type.String(), Type.Null()]),
  strategy: Type.String(),
  maxWaitSeconds: Type.Union([Type.Integer(), Type.Null()]),
  escalation: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  priorityRules: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  createdAt: Type.String(),
});
const QueueName = Type.Object({ id: Type.String(), name: Type.String(), channels: Type.Array(Type.String()) });

const EntryPointBody = Type.Object(
  {
    channel: ChannelSchema,
    address: Type.String({ minLength: 1, maxLength: 254 }),
    queueId: Type.Optional(Uuid),
    flowId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);
const EntryPoint = Type.Object({
  id: Type.String(),
  channel: Type.String(),
  address: Type.String(),
  queueId: Type.Union([Type.String(), Type.Null()]),
  flowId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
});

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 409: ErrorResponse };
const queueView = (q: QueueRecord) => ({ ...q, createdAt: q.createdAt.toISOString() });
const entryView = (e: EntryPointRecord) => ({ ...e, createdAt: e.createdAt.toISOString() });

/** The address an inbound contact will carry, normalized the way channels normalize it. */
export function normalizeEntryAddress(channel: (typeof CHANNELS)[number], address: string, region: string): string | null {
  if (address === '*') return '*';
  switch (channel) {
    case 'voice':
    case 'sms':
      return normalizePhone(address, region);
    case 'email':
      return normalizeEmail(address);
    case 'chat':
      return /^[A-Za-z0-9._-]{1,64}$/.test(address) ? address : null;
  }
}

export function directoryRoutes(app: FastifyInstance, deps: { db: Pool; defaultPhoneRegion: string }): void {
  app.post<{ Body: Static<typeof CreateQueueBody> }>(
    '/api/queues',
    { config: { auth: 'admin' }, schema: { tags: ['queues'], body: CreateQueueBody, response: { 201: Queue, ...errors } } },
    async (req, reply) => {
      const b = req.body;
      const escalation = b.escalation ?? [];
      for (let k = 1; k < escalation.length; k++) {
        if (escalation[k]!.afterSeconds < escalation[k - 1]!.afterSeconds) {
          throw new AppError('SB_VALIDATION', `body.escalation[${k}].afterSeconds must not be earlier than the step before it`);
        }
      }
      const targets = escalation.flatMap((e) => ('queueId' in e ? [e.queueId] : []));
      const known = await existingQueueIds(deps.db, targets);
      const unknown = targets.find((t) => !known.has(t));
      if (unknown) throw new AppError('SB_VALIDATION', `body.escalation overflows to an unknown queue: ${unknown}`);
      const q = await insertQueue(deps.db, {
        name: b.name.trim(),
        skills: b.skills ?? {},
        priority: b.priority ?? 0,
        slaSeconds: b.slaSeconds ?? 20,
        channels: b.channels ?? [...CHANNELS],
        script: b.script ?? null,
        strategy: b.strategy ?? 'longest-idle',
        maxWaitSeconds: b.maxWaitSeconds ?? null,
        escalation,
        priorityRules: b.priorityRules ?? [],
      });
      if (!q) throw new AppError('SB_ALREADY_EXISTS', `a queue named ${b.name.trim()} exists`);
      return reply.code(201).send(queueView(q));
    },
  );

  app.get(
    '/api/queues',
    { config: { auth: 'supervisor' }, schema: { tags: ['queues'], response: { 200: Type.Array(Queue), ...errors } } },
    async () => (await listQueues(deps.db)).map(queueView),
  );

  // Agents need queue names to transfer to (the console's transfer menu); the rest of a queue's
  // configuration stays with supervisors.
  app.get(
    '/api/queues/names',
    {
      config: { auth: 'agent' },
      schema: { tags: ['queues'], response: { 200: Type.Array(QueueName), ...errors } },
    },
    async () => (await listQueues(deps.db)).map((q) => ({ id: q.id, name: q.name, channels: q.channels })),
  );

  app.post<{ Body: Static<typeof EntryPointBody> }>(
    '/api/entry-points',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['entry-points'],
        description: '201 when created; 200 when an existing (channel, address) entry point was repointed.',
        body: EntryPointBody,
        response: { 200: EntryPoint, 201: EntryPoint, ...errors },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const address = normalizeEntryAddress(b.channel, b.address, deps.defaultPhoneRegion);
      if (!address) throw new AppError('SB_VALIDATION', `body.address is not a valid ${b.channel} address`);
      if (!b.queueId && !b.flowId) throw new AppError('SB_VALIDATION', 'body.queueId or body.flowId is required');
      if (b.queueId) {
        const queue = await findQueue(deps.db, b.queueId);
        if (!queue) throw new AppError('SB_VALIDATION', `body.queueId names an unknown queue: ${b.queueId}`);
        if (!queue.channels.includes(b.channel)) {
          throw new AppError('SB_VALIDATION', `body.queueId: queue ${queue.name} does not take ${b.channel} contacts (it takes ${queue.channels.join(', ')})`);
        }
      }
      if (b.flowId && (await deps.db.query('SELECT 1 FROM flows WHERE id = $1', [b.flowId])).rowCount === 0) {
        throw new AppError('SB_VALIDATION', `body.flowId names an unknown flow: ${b.flowId} (PUT /api/flows/${b.flowId} first)`);
      }
      const { record, created } = await upsertEntryPoint(deps.db, { channel: b.channel, address, queueId: b.queueId ?? null, flowId: b.flowId ?? null });
      return reply.code(created ? 201 : 200).send(entryView(record));
    },
  );

  app.get(
    '/api/entry-points',
    { config: { auth: 'supervisor' }, schema: { tags: ['entry-points'], response: { 200: Type.Array(EntryPoint), ...errors } } },
    async () => (await listEntryPoints(deps.db)).map(entryView),
  );
}
