/**
 * Every route declares who may call it (`config.auth`): 'none' or the least role required.
 * A route without a declaration fails the boot, so no endpoint is open by accident.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors';
import { roleAllows, type Role, type StaffClaims, type TokenService } from './tokens';

export type RouteAuth = 'none' | Role;

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    user: StaffClaims | null;
  }
}

export function bearerToken(req: FastifyRequest): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m ? m[1]! : null;
}

export const authPlugin = fp(
  async (app: FastifyInstance, opts: { tokens: TokenService }) => {
    app.decorateRequest('user', null);
    app.addHook('onRoute', (route) => {
      const auth = (route.config as { auth?: RouteAuth } | undefined)?.auth;
      if (auth === undefined) {
        if (route.url.startsWith('/api') || route.url.startsWith('/twilio')) {
          throw new Error(`route ${route.method} ${route.url} declares no auth`);
        }
        return;
      }
      if (auth === 'none') return;
      const existing = route.onRequest ? (Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]) : [];
      // onRequest: identity is checked before the body is read or validated.
      route.onRequest = [
        async (req: FastifyRequest) => {
          const token = bearerToken(req);
          if (!token) throw new AppError('SB_UNAUTHORIZED', 'missing bearer token');
          const claims = opts.tokens.verifyStaff(token);
          if (!claims) throw new AppError('SB_UNAUTHORIZED', 'invalid or expired token');
          if (!roleAllows(claims.role, auth)) throw new AppError('SB_FORBIDDEN', `this action needs the ${auth} role`);
          req.user = claims;
        },
        ...existing,
      ];
    });
  },
  { name: 'auth' },
);
