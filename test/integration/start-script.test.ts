/**
 * scripts/start.sh, what `npm start` and the Docker image run: the node flags and environment it
 * sets, and that an operator's own arguments come after its flags (so they win). Node's `-p`
 * stands in for the server bundle: node prints the expression and never loads the bundle.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { ROOT } from '../support/process';

const run = promisify(execFile);
const START = path.join(ROOT, 'scripts', 'start.sh');

async function startWith(args: string[], env: Record<string, string | undefined> = {}): Promise<{ execArgv: string[]; glibc: string | null }> {
  const { stdout } = await run('sh', [START, ...args, '-p', 'JSON.stringify({ execArgv: process.execArgv, glibc: process.env.GLIBC_TUNABLES ?? null })'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  const printed = JSON.parse(stdout) as { execArgv: string[]; glibc: string | null };
  // The expression printed is itself in execArgv (after -p): keep the flags only.
  return { ...printed, execArgv: printed.execArgv.slice(0, printed.execArgv.indexOf('-p')) };
}

describe('scripts/start.sh', () => {
  it('runs node with source maps and a fixed old-generation growing factor', async () => {
    const { execArgv } = await startWith([]);
    expect(execArgv).toEqual(['--enable-source-maps', '--heap-growing-percent=100']);
  });

  it("puts the operator's own node arguments after its flags, so they win", async () => {
    const { execArgv } = await startWith(['--heap-growing-percent=0', '--max-old-space-size=512']);
    expect(execArgv).toEqual(['--enable-source-maps', '--heap-growing-percent=100', '--heap-growing-percent=0', '--max-old-space-size=512']);
  });

  it("sets a fixed malloc mmap threshold unless GLIBC_TUNABLES is the operator's own", async () => {
    expect((await startWith([], { GLIBC_TUNABLES: undefined })).glibc).toBe('glibc.malloc.mmap_threshold=1048576');
    expect((await startWith([], { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' })).glibc).toBe('glibc.malloc.arena_max=2');
  });
});
