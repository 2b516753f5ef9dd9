import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildWeb } from '../../web/build';
import { webRoutes, type WebManifest } from '../../src/web/web.routes';
import { authPlugin } from '../../src/platform/auth/auth.plugin';
import { registerErrorHandling } from '../../src/platform/http';
import { TokenService } from '../../src/platform/auth/tokens';

async function serve(dir: string): Promise<FastifyInstance> {
  const app = Fastify();
  registerErrorHandling(app);
  await app.register(authPlugin, { tokens: new TokenService('web-test-secret') });
  webRoutes(app, { dir });
  await app.ready();
  return app;
}

describe('the console and wallboard pages (src/web/web.routes.ts)', () => {
  let dir: string;
  let empty: string;
  let app: FastifyInstance;
  let bare: FastifyInstance;

  beforeAll(async () => {
    [dir, empty] = await Promise.all([mkdtemp(path.join(os.tmpdir(), 'sb-web-')), mkdtemp(path.join(os.tmpdir(), 'sb-web-empty-'))]);
    await buildWeb({ outDir: dir });
    [app, bare] = await Promise.all([serve(dir), serve(empty)]);
  });
  afterAll(async () => {
    await Promise.all([app.close(), bare.close()]);
    await Promise.all([rm(dir, { recursive: true, force: true }), rm(empty, { recursive: true, force: true })]);
  });

  it('serves both pages with their hashed assets, revalidated pages and immutable assets', async () => {
    expect((await app.inject({ url: '/' })).headers.location).toBe('/console');
    for (const page of ['console', 'wallboard']) {
      const res = await app.inject({ url: `/${page}` });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      const script = new RegExp(`<script type="module" src="/web/(${page}-[A-Z0-9]+\\.js)"></script>`).exec(res.body);
      const style = /<link rel="stylesheet" href="\/web\/(styles-[A-Z0-9]+\.css)">/.exec(res.body);
      expect(script && style).toBeTruthy();
      const js = await app.inject({ url: `/web/${script![1]}` });
      expect(js.statusCode).toBe(200);
      expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      const css = await app.inject({ url: `/web/${style![1]}` });
      expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    }
  });

  it('serves only files the build lists: no manifest, no source, no traversal', async () => {
    for (const url of ['/web/manifest.json', '/web/console.html', '/web/..%2Fmanifest.json', '/web/%2e%2e%2f%2e%2e%2fpackage.json', '/web/build.ts', '/web/nope-ABC.js', '/web/..\\manifest.json']) {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toMatch(/^SB_(ROUTE_)?NOT_FOUND$/);
    }
  });

  it('answers 503 SB_WEB_NOT_BUILT, as a page or as JSON, when dist/web is missing', async () => {
    const page = await bare.inject({ url: '/console', headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(page.statusCode).toBe(503);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('SB_WEB_NOT_BUILT');
    expect(page.body).toContain('npm run build:web');
    const json = await bare.inject({ url: '/wallboard', headers: { accept: 'application/json' } });
    expect(json.statusCode).toBe(503);
    expect(json.json().error).toEqual({ code: 'SB_WEB_NOT_BUILT', message: expect.stringContaining('npm run build:web') });
    expect((await bare.inject({ url: '/web/console-ABC.js' })).json().error.code).toBe('SB_WEB_NOT_BUILT');
  });

  it('survives two builds into one directory at once: whole files, a manifest that names only files that exist', async () => {
    const shared = await mkdtemp(path.join(os.tmpdir(), 'sb-web-twice-'));
    try {
      const results = await Promise.all([buildWeb({ outDir: shared }), buildWeb({ outDir: shared })]);
      expect(results.map((r) => r.files.map((f) => f.name).sort())).toEqual([results[0]!.files.map((f) => f.name).sort(), results[0]!.files.map((f) => f.name).sort()]);
      const manifest = JSON.parse(await readFile(path.join(shared, 'manifest.json'), 'utf8')) as WebManifest;
      const present = new Set(await readdir(shared));
      expect(manifest.assets.every((a) => present.has(a))).toBe(true);
      expect([...present].filter((f) => f.endsWith('.tmp'))).toEqual([]);
      const served = await serve(shared);
      try {
        expect((await served.inject({ url: '/console' })).statusCode).toBe(200);
      } finally {
        await served.close();
      }
    } finally {
      await rm(shared, { recursive: true, force: true });
    }
  });
});
