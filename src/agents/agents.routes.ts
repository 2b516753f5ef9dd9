import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { ErrorResponse, IdParams, Uuid } from '../platform/schemas';
import type { AgentsService } from './agents.service';
import type { AgentStateService } from './agent-state.service';
import type { AgentRecord } from './agents.repository';

const Level = Type.Integer({ minimum: 0, maximum: 100 });
const Skills = Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]{1,50}$' }), Level, { maxProperties: 100 });
const Slots = Type.Integer({ minimum: 0, maximum: 100 });
const CapacitySchema = Type.Object(
  { voice: Type.Optional(Slots), chat: Type.Optional(Slots), sms: Type.Optional(Slots), email: Type.Optional(Slots) },
  { additionalProperties: false },
);
const QueueIds = Type.Array(Uuid, { maxItems: 200, uniqueItems: true });
const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
const Username = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._@-]+$' });
const Password = Type.String({ minLength: 8, maxLength: 200 });
const Role = Type.Union([Type.Literal('agent'), Type.Literal('supervisor')]);
const WrapupSeconds = Type.Integer({ minimum: 0, maximum: 3600 });

const CreateBody = Type.Object(
  {
    name: Name,
    username: Username,
    password: Password,
    role: Type.Optional(Role),
    skills: Type.Optional(Skills),
    queueIds: QueueIds,
    capacity: Type.Optional(CapacitySchema),
    wrapupSeconds: Type.Optional(WrapupSeconds),
  },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    name: Type.Optional(Name),
    password: Type.Optional(Password),
    role: Type.Optional(Role),
    skills: Type.Optional(Skills),
    queueIds: Type.Optional(QueueIds),
    capacity: Type.Optional(CapacitySchema),
    wrapupSeconds: Type.Optional(WrapupSeconds),
  },
  { additionalProperties: false, minProperties: 1 },
);
const StateBody = Type.Object(
  {
    state: Type.Union([Type.Literal('available'), Type.Literal('away'), Type.Literal('offline')]),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);

const CapacityOut = Type.Object({ voice: Type.Integer(), chat: Type.Integer(), sms: Type.Integer(), email: Type.Integer() });
const Agent = Type.Object({
  id: Type.String(),
  name: Type.String(),
  username: Type.String(),
  role: Type.String(),
  skills: Type.Record(Type.String(), Type.Integer()),
  queueIds: Type.Array(Type.String()),
  capacity: CapacityOut,
  state: Type.String(),
  stateReason: Type.Union([Type.String(), Type.Null()]),
  stateChangedAt: Type.String(),
  lastIdleAt: Type.String(),
  wrapupSeconds: Type.Integer(),
  load: CapacityOut,
});

const view = (a: AgentRecord) => ({ ...a, stateChangedAt: a.stateChangedAt.toISOString(), lastIdleAt: a.lastIdleAt.toISOString() });
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };

export function agentRoutes(app: FastifyInstance, deps: { agents: AgentsService; agentState: AgentStateService }): void {
  const { agents } = deps;

  app.post<{ Body: Static<typeof CreateBody> }>(
    '/api/agents',
    { config: { auth: 'admin' }, schema: { tags: ['agents'], body: CreateBody, response: { 201: Agent, ...errors } } },
    async (req, reply) => reply.code(201).send(view(await agents.create(req.body))),
  );

  app.get(
    '/api/agents',
    { config: { auth: 'supervisor' }, schema: { tags: ['agents'], response: { 200: Type.Array(Agent), ...errors } } },
    async () => (await agents.list()).map(view),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/agents/:id',
    { config: { auth: 'supervisor' }, schema: { tags: ['agents'], params: IdParams, response: { 200: Agent, ...errors } } },
    async (req) => view(await agents.get(req.params.id)),
  );

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof PatchBody> }>(
    '/api/agents/:id',
    { config: { auth: 'admin' }, schema: { tags: ['agents'], params: IdParams, body: PatchBody, response: { 200: Agent, ...errors } } },
    async (req) => view(await agents.patch(req.params.id, req.body)),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof StateBody> }>(
    '/api/agents/:id/state',
    { config: { auth: 'supervisor' }, schema: { tags: ['agents'], params: IdParams, body: StateBody, response: { 200: Agent, ...errors } } },
    async (req) => {
      await agents.get(req.params.id);
      await deps.agentState.set(req.params.id, req.body.state, req.body.reason ?? null, `supervisor:${req.user!.sub}`);
      return view(await agents.get(req.params.id));
    },
  );
}
