/**
 * HTTP error mapping: every failure becomes `{ error: { code, message } }` with a registered
 * code. Validation messages name the field; internals of 5xx errors never reach the client.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode, ERROR_CODES, isUnavailable, toErrorBody } from './errors';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'SB_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'SB_VALIDATION',
  FST_ERR_CTP_BODY_TOO_LARGE: 'SB_BODY_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'SB_EMPTY_BODY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'SB_MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_TYPE: 'SB_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'SB_UNSUPPORTED_MEDIA_TYPE',
};

function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return err.message;
  const context = err.validationContext ?? 'request';
  const missing = (first.params as { missingProperty?: string } | undefined)?.missingProperty;
  const extra = (first.params as { additionalProperty?: string } | undefined)?.additionalProperty;
  const base = `${context}${first.instancePath.replace(/\//g, '.')}`;
  if (missing) return `${base}.${missing} is required`;
  if (extra) return `${base}.${extra} is not allowed`;
  return `${base} ${first.message ?? 'is invalid'}`;
}

export function classify(err: FastifyError): { status: number; code: ErrorCode; message: string } {
  if (err instanceof AppError) return { status: err.statusCode, code: err.code, message: err.message };
  if (err.validation) {
    // A malformed id in the path cannot name anything that exists.
    if (err.validationContext === 'params') return { status: 404, code: 'SB_NOT_FOUND', message: `${validationMessage(err)}: no such resource` };
    return { status: 400, code: 'SB_VALIDATION', message: validationMessage(err) };
  }
  const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
  if (mapped) return { status: ERROR_CODES[mapped], code: mapped, message: err.message.replace(/^FST_ERR_\w+:\s*/, '') };
  if (err instanceof SyntaxError || (err.statusCode === 400 && err.code?.startsWith('FST_ERR_CTP'))) {
    return { status: 400, code: 'SB_MALFORMED_JSON', message: 'request body is not valid JSON' };
  }
  const pgCode = (err as { code?: string }).code;
  if (pgCode === '22021' || pgCode === '22P05' || pgCode === '22001') {
    return { status: 400, code: 'SB_VALIDATION', message: 'a value cannot be stored as given (invalid characters or too long)' };
  }
  if (err.statusCode === 413) return { status: 413, code: 'SB_BODY_TOO_LARGE', message: 'request body is too large' };
  if (err.statusCode === 415) return { status: 415, code: 'SB_UNSUPPORTED_MEDIA_TYPE', message: err.message };
  if (err.statusCode === 429) return { status: 429, code: 'SB_RATE_LIMITED', message: 'too many requests' };
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: 400, code: 'SB_VALIDATION', message: err.message };
  }
  const body = toErrorBody(err);
  return { status: ERROR_CODES[body.code], code: body.code, message: body.message };
}

/** Postgres text cannot hold NUL; say so up front instead of failing in the database. */
function findNul(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (depth > 32 || typeof value !== 'object' || value === null) return null;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\u0000')) return path;
    const hit = findNul(v, Array.isArray(value) ? `${path}[${k}]` : `${path}.${k}`, depth + 1);
    if (hit) return hit;
  }
  return null;
}

export function registerErrorHandling(app: FastifyInstance): void {
  // Only JSON (and, on Twilio routes, forms) is accepted: anything else is 415, not a parse guess.
  app.removeContentTypeParser('text/plain');
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined || req.body === null) return;
    const at = findNul(req.body, 'body');
    if (at) throw new AppError('SB_VALIDATION', `${at} must not contain NUL characters`);
  });
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const { status, code, message } = classify(err);
    if (status >= 500) {
      if (isUnavailable(err) || err instanceof AppError) req.log.warn({ err }, 'dependency unavailable');
      else req.log.error({ err }, 'request failed');
    }
    void reply.code(status).send({ error: { code, message } });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: { code: 'SB_ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });
}
