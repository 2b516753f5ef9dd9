/**
 * The reference agent console (`/console`) and supervisor wallboard (`/wallboard`): static
 * pages built by `npm run build:web` (web/build.ts) into dist/web. Only the two pages and the
 * files the build's manifest lists are served, so no request path ever reaches the file system.
 * Hashed asset names are cached for good; the pages themselves are revalidated on every load.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../platform/errors';

export const DEFAULT_WEB_DIR = path.resolve(__dirname, '..', '..', 'dist', 'web');

/** What web/build.ts writes next to the files: the pages and every asset the pages may load. */
export interface WebManifest {
  pages: Record<WebPage, string>;
  assets: string[];
}

export type WebPage = 'console' | 'wallboard';
const PAGES: readonly WebPage[] = ['console', 'wallboard'];
const ASSET_NAME_RE = /^[A-Za-z0-9_-]+\.(js|css)(\.map)?$/;
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
/**
 * The pages load only their own scripts and styles; sockets and REST go to this origin. The
 * Twilio Voice SDK talks to Twilio over HTTPS and secure WebSockets and plays its ring tones.
 */
const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss: https://*.twilio.com wss://*.twilio.com",
  "media-src 'self' blob: https://*.twilio.com https://*.twiliocdn.com",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const NOT_BUILT = 'the console and wallboard are not built: run `npm run build:web` (npm start does this first)';

async function readManifest(dir: string): Promise<WebManifest | null> {
  try {
    const m = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Partial<WebManifest>;
    if (!m.pages || !Array.isArray(m.assets)) return null;
    return { pages: m.pages, assets: m.assets.filter((a) => typeof a === 'string' && ASSET_NAME_RE.test(a)) };
  } catch {
    return null;
  }
}

function wantsHtml(req: FastifyRequest): boolean {
  return (req.headers.accept ?? '').includes('text/html');
}

function notBuiltPage(reply: FastifyReply): FastifyReply {
  return reply
    .code(503)
    .header('cache-control', 'no-store')
    .type(CONTENT_TYPES['.html']!)
    .send(
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Switchboard: not built</title></head>' +
        `<body><h1>Switchboard web pages are not built</h1><p>Error SB_WEB_NOT_BUILT: ${NOT_BUILT}.</p></body></html>`,
    );
}

export function webRoutes(app: FastifyInstance, opts: { dir?: string } = {}): void {
  const dir = opts.dir ?? DEFAULT_WEB_DIR;
  const route = { config: { auth: 'none' as const }, schema: { hide: true } };

  app.get('/', route, async (_req, reply) => reply.redirect('/console'));

  for (const page of PAGES) {
    app.get(`/${page}`, route, async (req, reply) => {
      const manifest = await readManifest(dir);
      const file = manifest?.pages[page];
      const html = file && /^[a-z]+\.html$/.test(file) ? await readFile(path.join(dir, file)).catch(() => null) : null;
      if (!html) {
        if (wantsHtml(req)) return notBuiltPage(reply);
        throw new AppError('SB_WEB_NOT_BUILT', NOT_BUILT);
      }
      return reply
        .header('cache-control', 'no-cache')
        .header('content-security-policy', PAGE_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .type(CONTENT_TYPES['.html']!)
        .send(html);
    });
  }

  app.get<{ Params: { file: string } }>('/web/:file', route, async (req, reply) => {
    const manifest = await readManifest(dir);
    if (!manifest) throw new AppError('SB_WEB_NOT_BUILT', NOT_BUILT);
    const name = req.params.file;
    if (!manifest.assets.includes(name)) throw new AppError('SB_NOT_FOUND', `no web asset named ${name}`);
    const body = await readFile(path.join(dir, name)).catch(() => null);
    // Listed but gone: a newer build pruned it; the page that asked for it is stale.
    if (!body) throw new AppError('SB_NOT_FOUND', `web asset ${name} is no longer built; reload the page`);
    return reply
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .type(CONTENT_TYPES[path.extname(name)]!)
      .send(body);
  });
}
