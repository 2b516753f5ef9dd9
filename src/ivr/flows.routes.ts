/** PUT /api/flows/:id (validated, every problem listed) and GET /api/flows/:id. */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Pool } from 'pg';
import { notFound } from '../platform/errors';
import { ErrorResponse } from '../platform/schemas';
import { validateFlow } from './validator';

const FlowParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });

export function flowRoutes(app: FastifyInstance, deps: { db: Pool }): void {
  app.put<{ Params: Static<typeof FlowParams>; Body: unknown }>(
    '/api/flows/:id',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['flows'],
        description: 'Store an IVR flow. 400 lists every validation problem in error.problems.',
        params: FlowParams,
        body: Type.Object({}, { additionalProperties: true }),
        response: { 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (req, reply) => {
      const body = req.body as Record<string, unknown>;
      const result = validateFlow({ ...body, id: body.id ?? req.params.id });
      const problems = result.ok ? [] : [...result.problems];
      if (body.id !== undefined && body.id !== req.params.id) problems.unshift(`id: "${String(body.id)}" does not match the URL (${req.params.id})`);
      if (!result.ok || problems.length > 0) {
        return reply.code(400).send({ error: { code: 'SB_VALIDATION', message: `the flow has ${problems.length} problem${problems.length === 1 ? '' : 's'}`, problems } });
      }
      await deps.db.query(
        `INSERT INTO flows (id, definition) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET definition = EXCLUDED.definition, updated_at = now()`,
        [req.params.id, JSON.stringify(result.flow)],
      );
      return result.flow;
    },
  );

  app.get<{ Params: Static<typeof FlowParams> }>(
    '/api/flows/:id',
    { config: { auth: 'supervisor' }, schema: { tags: ['flows'], params: FlowParams, response: { 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse } } },
    async (req) => {
      const { rows } = await deps.db.query<{ definition: unknown }>('SELECT definition FROM flows WHERE id = $1', [req.params.id]);
      if (!rows[0]) throw notFound('flow', req.params.id);
      return rows[0].definition;
    },
  );
}
