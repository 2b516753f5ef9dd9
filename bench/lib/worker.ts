/**
 * Load generators run in their own processes (so the service's CPU is its own, and a generator's
 * event loop is not the runner's): the runner forks them under tsx and calls their methods over
 * the IPC channel.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../../test/support/process';

type Methods = Record<string, (params: never) => Promise<unknown>>;

interface Request {
  id: number;
  method: string;
  params: unknown;
}
type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface WorkerHandle {
  pid: number;
  child: ChildProcess;
  call<T = unknown>(method: string, params?: unknown): Promise<T>;
  stop(): Promise<void>;
}

const TSX = pathToFileURL(require.resolve('tsx', { paths: [ROOT] })).href;

/** Fork `script` (relative to the repository root) as a generator process. */
export function startWorker(script: string, name = path.basename(script, '.ts')): WorkerHandle {
  const child = fork(path.join(ROOT, script), [], {
    cwd: ROOT,
    execArgv: ['--import', TSX, '--max-old-space-size=4096'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: '' }, // never profile or instrument the generators
  });
  let seq = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(`${name}: ${m.error}`));
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const p of pending.values()) p.reject(new Error(`${name} exited (${code ?? signal}) during a call`));
      pending.clear();
      resolve();
    }),
  );
  return {
    pid: child.pid!,
    child,
    call<T>(method: string, params?: unknown): Promise<T> {
      const id = ++seq;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, method, params } satisfies Request);
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** In the generator: answer the runner's calls with these methods. */
export function serveWorker(methods: Methods): void {
  process.on('message', (m: Request) => {
    const fn = methods[m.method];
    const reply = (r: Reply) => process.send?.(r);
    if (!fn) {
      reply({ id: m.id, ok: false, error: `no method ${m.method}` });
      return;
    }
    fn(m.params as never).then(
      (result) => reply({ id: m.id, ok: true, result: result ?? null }),
      (err: unknown) => reply({ id: m.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/** Run a one-shot generator script under tsx; resolves to the last line it printed (its JSON result). */
export function runTsx(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').at(-1) ?? '') : reject(new Error(`${args[0]} exited ${code}`))));
  });
}

/** Start a long-running helper (a baseline server) under tsx; resolves once it printed its first line. */
export async function spawnTsx(args: string[]): Promise<{ child: ChildProcess; firstLine: string; stop(): Promise<void> }> {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' }, detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const firstLine = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited ${code} before it was ready`)));
  });
  return {
    child,
    firstLine,
    async stop() {
      try {
        process.kill(-child.pid!, 'SIGKILL'); // tsx runs node as a child: stop the whole group
      } catch {
        /* gone */
      }
      await exited;
    },
  };
}
