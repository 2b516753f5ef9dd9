import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Pool } from 'pg';
import { AppError } from '../errors';
import { DUMMY_HASH, verifyPassword } from './passwords';
import type { TokenService } from './tokens';
import { findUserByUsername } from './users.repository';
import { ErrorResponse } from '../schemas';

const LoginBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 100 }), password: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

const LoginResponse = Type.Object({
  token: Type.String(),
  user: Type.Object({
    id: Type.String(),
    username: Type.String(),
    role: Type.String(),
    agentId: Type.Optional(Type.String()),
  }),
});

export function authRoutes(app: FastifyInstance, deps: { db: Pool; tokens: TokenService }): void {
  app.post<{ Body: { username: string; password: string } }>(
    '/api/auth/login',
    {
      config: { auth: 'none' },
      schema: { tags: ['auth'], body: LoginBody, response: { 200: LoginResponse, 400: ErrorResponse, 401: ErrorResponse } },
    },
    async (req) => {
      const user = await findUserByUsername(deps.db, req.body.username);
      const ok = await verifyPassword(req.body.password, user?.passwordHash ?? DUMMY_HASH);
      if (!user || !ok) throw new AppError('SB_INVALID_CREDENTIALS', 'unknown username or wrong password');
      const claims = { sub: user.id, username: user.username, role: user.role, ...(user.agentId ? { agentId: user.agentId } : {}) };
      return {
        token: deps.tokens.signStaff(claims),
        user: { id: user.id, username: user.username, role: user.role, ...(user.agentId ? { agentId: user.agentId } : {}) },
      };
    },
  );
}
