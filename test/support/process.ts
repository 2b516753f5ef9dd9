/** Run the service the way the README does (`npm start`) as a real child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface ServiceProcess {
  child: ChildProcess;
  lines: string[];
  /** Parsed JSON log records. */
  logs(): Array<Record<string, unknown>>;
  waitForLog(predicate: (rec: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startService(env: Record<string, string>): ServiceProcess {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true, // its own process group, so npm, sh and node stop together
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const logs = () =>
    lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  return {
    child,
    lines,
    logs,
    waitForLog(predicate, ms = 30000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = logs().find(predicate);
          if (hit) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for a log line; got:\n${lines.join('\n')}`));
        }, ms);
        waiters.add(check);
        // npm may exit before node finishes; output keeps flowing until the pipes close.
        void closed.then(() => {
          check();
          if (waiters.has(check)) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`service exited; output:\n${lines.join('\n')}`));
          }
        });
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        /* already gone */
      }
      return exited;
    },
  };
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
