import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Pool } from 'pg';
import { AppError, notFound } from '../platform/errors';
import { roleAllows } from '../platform/auth/tokens';
import { ErrorResponse, IdParams } from '../platform/schemas';
import { findInteraction } from './interactions.repository';

const Interaction = Type.Object(
  {
    id: Type.String(),
    customerId: Type.String(),
    channel: Type.String(),
    direction: Type.String(),
    state: Type.String(),
    queueId: Type.Union([Type.String(), Type.Null()]),
    agentId: Type.Union([Type.String(), Type.Null()]),
    priority: Type.Integer(),
    subject: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String(),
    queuedAt: Type.Union([Type.String(), Type.Null()]),
    closedAt: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: true },
);

/** How an interaction was routed: its offers, oldest first, each with why that agent was chosen. */
export type RoutingHistory = (interactionId: string) => Promise<Array<Record<string, unknown>>>;

export function interactionRoutes(app: FastifyInstance, deps: { db: Pool; routingHistory: RoutingHistory }): void {
  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/interactions/:id',
    {
      config: { auth: 'agent' },
      schema: { tags: ['interactions'], params: IdParams, response: { 200: Interaction, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse } },
    },
    async (req) => {
      const i = await findInteraction(deps.db, req.params.id);
      if (!i) throw notFound('interaction', req.params.id);
      const user = req.user!;
      if (!roleAllows(user.role, 'supervisor') && i.agentId !== user.agentId) {
        throw new AppError('SB_FORBIDDEN', 'agents may read only interactions they own');
      }
      const offers = await deps.routingHistory(i.id);
      return {
        ...i,
        offers,
        routing: offers.length > 0 ? offers[offers.length - 1]!.explanation : null,
        createdAt: i.createdAt.toISOString(),
        queuedAt: i.queuedAt?.toISOString() ?? null,
        closedAt: i.closedAt?.toISOString() ?? null,
      };
    },
  );
}
