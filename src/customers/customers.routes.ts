import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '../platform/errors';
import { ErrorResponse, IdParams, Uuid } from '../platform/schemas';
import type { Identity } from '../interactions/events.types';
import type { CustomersService } from './customers.service';
import { normalizeIdentity } from './identity';

const IdentitySchema = Type.Object({ kind: Type.String(), value: Type.String() });
const Customer = Type.Object({
  id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  identities: Type.Array(IdentitySchema),
  attributes: Type.Record(Type.String(), Type.Unknown()),
  tags: Type.Array(Type.String()),
  mergedFrom: Type.Array(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const HistoryItemSchema = Type.Object(
  {
    id: Type.String(),
    interactionId: Type.Union([Type.String(), Type.Null()]),
    channel: Type.Union([Type.String(), Type.Null()]),
    type: Type.String(),
    direction: Type.String(),
    text: Type.Optional(Type.String()),
    from: Type.Optional(Type.String()),
    at: Type.String(),
    seq: Type.Optional(Type.Integer()),
    data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: true },
);

const SearchQuery = Type.Object(
  {
    phone: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    email: Type.Optional(Type.String({ minLength: 3, maxLength: 254 })),
    q: Type.Optional(Type.String({ maxLength: 200 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    name: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()])),
    attributes: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { maxProperties: 100 })),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 50, uniqueItems: true })),
  },
  { additionalProperties: false, minProperties: 1 },
);
const NoteBody = Type.Object({ text: Type.String({ minLength: 1, maxLength: 10000, pattern: '\\S' }) }, { additionalProperties: false });
const HistoryQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    before: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$' })),
  },
  { additionalProperties: false },
);
const MergeBody = Type.Object({ sourceId: Uuid }, { additionalProperties: false });

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };

export function customerRoutes(app: FastifyInstance, deps: { customers: CustomersService; defaultPhoneRegion: string }): void {
  const { customers } = deps;

  app.get<{ Querystring: Static<typeof SearchQuery> }>(
    '/api/customers',
    { config: { auth: 'agent' }, schema: { tags: ['customers'], querystring: SearchQuery, response: { 200: Type.Array(Customer), ...errors } } },
    async (req) => {
      const { phone, email, q, limit = 20 } = req.query;
      let identity: Identity | undefined;
      if (phone !== undefined) identity = mustNormalize('phone', phone, deps.defaultPhoneRegion);
      else if (email !== undefined) identity = mustNormalize('email', email, deps.defaultPhoneRegion);
      return customers.search({ identity, q, limit });
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/customers/:id',
    { config: { auth: 'agent' }, schema: { tags: ['customers'], params: IdParams, response: { 200: Customer, ...errors } } },
    async (req) => customers.get(req.params.id),
  );

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof PatchBody> }>(
    '/api/customers/:id',
    { config: { auth: 'agent' }, schema: { tags: ['customers'], params: IdParams, body: PatchBody, response: { 200: Customer, ...errors } } },
    async (req) => customers.patch(req.params.id, req.body, req.user!.sub),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof NoteBody> }>(
    '/api/customers/:id/notes',
    { config: { auth: 'agent' }, schema: { tags: ['customers'], params: IdParams, body: NoteBody, response: { 201: HistoryItemSchema, ...errors } } },
    async (req, reply) => {
      const note = await customers.addNote(req.params.id, req.body.text, { id: req.user!.sub, agentId: req.user!.agentId });
      return reply.code(201).send(note);
    },
  );

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof HistoryQuery> }>(
    '/api/customers/:id/history',
    {
      config: { auth: 'agent' },
      schema: {
        tags: ['customers'],
        params: IdParams,
        querystring: HistoryQuery,
        response: { 200: Type.Object({ items: Type.Array(HistoryItemSchema), next: Type.Optional(Type.String()) }), ...errors },
      },
    },
    async (req) => customers.history(req.params.id, req.query.limit ?? 50, req.query.before),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof MergeBody> }>(
    '/api/customers/:id/merge',
    {
      config: { auth: 'supervisor' },
      schema: { tags: ['customers'], params: IdParams, body: MergeBody, response: { 200: Customer, 409: ErrorResponse, ...errors } },
    },
    async (req) => customers.merge(req.params.id, req.body.sourceId, req.user!.sub),
  );
}

function mustNormalize(kind: 'phone' | 'email', raw: string, region: string): Identity {
  const r = normalizeIdentity(kind, raw, region);
  if (!r.ok) throw new AppError('SB_VALIDATION', `querystring.${r.message}`);
  return r.identity;
}
