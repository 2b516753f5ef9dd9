/**
 * `npm run build:web`: bundles the agent console and the supervisor wallboard (web/) with
 * esbuild into dist/web, which src/web/web.routes.ts serves.
 *
 * Asset names carry a content hash, so browsers may cache them for good; the two HTML pages
 * and manifest.json (the list of files the server may serve) are written last. Every file is
 * written to a temporary name and renamed into place, so two builds running at once (two
 * `npm start`s) and a server reading mid-build only ever see whole files.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';

const WEB = __dirname;
export const WEB_OUT_DIR = path.resolve(WEB, '..', 'dist', 'web');
const PAGES = ['console', 'wallboard'] as const;
/** Files of earlier builds are removed once they are this old (a page loaded just before may still ask for them). */
const PRUNE_AFTER_MS = 10 * 60 * 1000;

export interface WebBuildResult {
  outDir: string;
  ms: number;
  /** Every file written, with its size in bytes (source maps excluded). */
  files: Array<{ name: string; bytes: number }>;
}

export async function writeAtomic(file: string, contents: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, contents);
  await rename(tmp, file);
}

/** The files an entry point loads up front (its static imports), for modulepreload links. */
function staticImports(metafile: Metafile, output: string): string[] {
  const seen = new Set<string>();
  const visit = (o: string) => {
    for (const imp of metafile.outputs[o]?.imports ?? []) {
      if (imp.kind === 'import-statement' && !seen.has(imp.path)) {
        seen.add(imp.path);
        visit(imp.path);
      }
    }
  };
  visit(output);
  return [...seen];
}

export async function buildWeb(opts: { outDir?: string; minify?: boolean } = {}): Promise<WebBuildResult> {
  const started = Date.now();
  const outDir = opts.outDir ?? WEB_OUT_DIR;
  const result = await build({
    entryPoints: {
      console: path.join(WEB, 'console', 'main.ts'),
      wallboard: path.join(WEB, 'wallboard', 'main.ts'),
      styles: path.join(WEB, 'shared', 'styles.css'),
    },
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    minify: opts.minify ?? true,
    sourcemap: 'linked',
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    define: { 'process.env.NODE_ENV': '"production"' },
    tsconfig: path.join(WEB, 'tsconfig.json'),
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  const metafile = result.metafile;
  const url = (abs: string) => `/web/${path.basename(abs)}`;
  const outputOf = (entry: string) => {
    const hit = Object.entries(metafile.outputs).find(([, o]) => o.entryPoint && path.resolve(o.entryPoint) === path.resolve(entry));
    if (!hit) throw new Error(`esbuild produced no output for ${entry}`);
    return hit[0];
  };
  const styles = outputOf(path.join(WEB, 'shared', 'styles.css'));

  await mkdir(outDir, { recursive: true });
  const files: WebBuildResult['files'] = [];
  const assets: string[] = [];
  for (const f of result.outputFiles) {
    const name = path.basename(f.path);
    await writeAtomic(path.join(outDir, name), f.contents);
    assets.push(name);
    if (!name.endsWith('.map')) files.push({ name, bytes: f.contents.byteLength });
  }

  const pages: Record<string, string> = {};
  for (const page of PAGES) {
    const script = outputOf(path.join(WEB, page, 'main.ts'));
    const preload = staticImports(metafile, script).map((p) => `<link rel="modulepreload" href="${url(path.resolve(p))}">`);
    const tags = [`<link rel="stylesheet" href="${url(styles)}">`, ...preload, `<script type="module" src="${url(script)}"></script>`].join('\n    ');
    const template = await readFile(path.join(WEB, page, 'index.html'), 'utf8');
    if (!template.includes('<!-- assets -->')) throw new Error(`web/${page}/index.html has no <!-- assets --> marker`);
    const html = template.replace('<!-- assets -->', tags);
    await writeAtomic(path.join(outDir, `${page}.html`), html);
    pages[page] = `${page}.html`;
    files.push({ name: `${page}.html`, bytes: Buffer.byteLength(html) });
  }
  await writeAtomic(path.join(outDir, 'manifest.json'), `${JSON.stringify({ pages, assets: assets.sort() }, null, 2)}\n`);

  // Earlier builds' files (and temp files of builds that died) go once they are old enough.
  const keep = new Set([...assets, ...Object.values(pages), 'manifest.json']);
  for (const name of await readdir(outDir)) {
    if (keep.has(name)) continue;
    const file = path.join(outDir, name);
    const s = await stat(file).catch(() => null);
    if (s?.isFile() && Date.now() - s.mtimeMs > PRUNE_AFTER_MS) await unlink(file).catch(() => undefined);
  }
  return { outDir, ms: Date.now() - started, files };
}

if (require.main === module) {
  buildWeb().then(
    (r) => {
      const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;
      const list = r.files.map((f) => `${f.name} ${kb(f.bytes)}`).join(', ');
      process.stdout.write(`web: built ${path.relative(process.cwd(), r.outDir) || r.outDir} in ${r.ms} ms: ${list}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`web: build failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
