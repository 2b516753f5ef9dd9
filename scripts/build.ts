/**
 * `npm run build`: the server bundle (dist/server/server.js, what `npm start` runs with plain
 * node) and the console and wallboard (dist/web, see web/build.ts), built side by side.
 *
 * The server is bundled with esbuild rather than run through tsx: a serving process then holds
 * no TypeScript compiler or loader hooks, and starts faster. Packages stay external (loaded
 * from node_modules as usual). The bundle sits two levels below the repository, like the
 * sources it replaces, so paths resolved from `__dirname` (migrations/, dist/web) are the same.
 * It is written under a temporary name and renamed into place, so two builds at once (two
 * `npm start`s) never leave a half-written file for either to run.
 */
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { build } from 'esbuild';
import { buildWeb, writeAtomic } from '../web/build';

const ROOT = path.resolve(__dirname, '..');
export const SERVER_OUT_DIR = path.join(ROOT, 'dist', 'server');

export async function buildServer(outDir = SERVER_OUT_DIR): Promise<{ file: string; bytes: number; ms: number }> {
  const started = Date.now();
  const result = await build({
    entryPoints: { server: path.join(ROOT, 'src', 'server.ts') },
    outdir: outDir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    sourcemap: 'linked',
    sourcesContent: false,
    keepNames: true,
    tsconfig: path.join(ROOT, 'tsconfig.json'),
    write: false,
    logLevel: 'silent',
  });
  await mkdir(outDir, { recursive: true });
  let file = '';
  let bytes = 0;
  // The map first, then the code that points at it.
  for (const f of [...result.outputFiles].sort((a, b) => Number(b.path.endsWith('.map')) - Number(a.path.endsWith('.map')))) {
    await writeAtomic(f.path, f.contents);
    if (!f.path.endsWith('.map')) {
      file = f.path;
      bytes = f.contents.byteLength;
    }
  }
  return { file, bytes, ms: Date.now() - started };
}

if (require.main === module) {
  Promise.all([buildServer(), buildWeb()]).then(
    ([server, web]) => {
      const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;
      process.stdout.write(`server: built ${path.relative(ROOT, server.file)} (${kb(server.bytes)}) in ${server.ms} ms\n`);
      process.stdout.write(`web: built ${path.relative(ROOT, web.outDir)} in ${web.ms} ms: ${web.files.map((f) => `${f.name} ${kb(f.bytes)}`).join(', ')}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
