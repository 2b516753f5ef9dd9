import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Pool } from 'pg';
import { ErrorResponse, IdParams, Uuid } from '../platform/schemas';
import type { WorkService } from '../agents/work.service';
import { queueStats } from './stats.service';

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);
const QueueStatsSchema = Type.Object({
  queueId: Type.String(),
  name: Type.String(),
  waiting: Type.Integer(),
  longestWaitSeconds: Type.Integer(),
  offered: Type.Integer(),
  active: Type.Integer(),
  wrapup: Type.Integer(),
  agentsAvailable: Type.Integer(),
  agentsBusy: Type.Integer(),
  agentsAway: Type.Integer(),
  answered: Type.Integer(),
  abandoned: Type.Integer(),
  serviceLevel: Nullable(Type.Number()),
  avgWaitSeconds: Nullable(Type.Number()),
  avgHandleSeconds: Nullable(Type.Number()),
});
const TransferBody = Type.Union([
  Type.Object({ queueId: Uuid }, { additionalProperties: false }),
  Type.Object({ agentId: Uuid }, { additionalProperties: false }),
]);
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };

export function supervisorRoutes(app: FastifyInstance, deps: { db: Pool; work: WorkService }): void {
  app.get(
    '/api/stats/queues',
    { config: { auth: 'supervisor' }, schema: { tags: ['supervisor'], response: { 200: Type.Array(QueueStatsSchema), ...errors } } },
    async () => queueStats(deps.db),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof TransferBody> }>(
    '/api/interactions/:id/transfer',
    { config: { auth: 'supervisor' }, schema: { tags: ['supervisor'], params: IdParams, body: TransferBody, response: { ...errors } } },
    async (req) => {
      const i = await deps.work.transfer({ supervisor: true }, req.params.id, req.body);
      return { id: i.id, state: i.state, queueId: i.queueId, agentId: i.agentId };
    },
  );
}
