/**
 * The service under test, started the way the README does (`npm start`) on a fresh database and
 * Redis key prefix, and torn down afterwards (database dropped, keys removed).
 */
import { spawn } from 'node:child_process';
import { freePort, ROOT, startService, type ServiceProcess } from '../../test/support/process';
import { ADMIN_PASSWORD, clearRedisKeys, dropDatabase, testEnv } from '../../test/support/env';
import { Api } from './http';
import { memoryOf, serverPid } from './procfs';
import { sleep } from './stats';
import { buildServer } from '../../scripts/build';

const START_SCRIPT = 'scripts/start.sh';

export const TWILIO_AUTH_TOKEN = 'bench-auth-token-0123456789abcdef';
export const TWILIO_ACCOUNT_SID = `AC${'0'.repeat(32)}`;
/** Where Twilio's REST API would be: nothing listens, so outbound SMS fail and retry in the background. */
const NO_TWILIO = 'http://127.0.0.1:9';

type Proc = Pick<ServiceProcess, 'child' | 'lines' | 'stop'>;

export interface Service {
  base: string;
  env: Record<string, string>;
  procs: Array<{ base: string; process: Proc; pid: number | null }>;
  admin: Api;
  /** Resident memory of each serving node process. */
  memory(): Array<{ base: string; pid: number | null; rssMiB: number | null; peakMiB: number | null }>;
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** Extra environment for the service (e.g. OFFER_TIMEOUT_SECONDS). */
  env?: Record<string, string>;
  /** How many processes share the database and Redis prefix (started one after another). */
  processes?: number;
  /** Port of the first process (default: any free port). */
  port?: number;
  /**
   * Run `sh scripts/start.sh <nodeArgs>` (node <nodeArgs> dist/server/server.js) instead of
   * `npm start` (the same bundle, built first, no npm wrapper): for flags Node does not take from
   * NODE_OPTIONS, such as --cpu-prof.
   */
  nodeArgs?: string[];
}

/** The server under plain node with extra flags, in its own process group; output kept like startService's. */
function startDirect(env: Record<string, string>, nodeArgs: string[]): Proc {
  // scripts/start.sh, as `npm start` runs it after the build (same memory settings), with the extra flags.
  const child = spawn('sh', [START_SCRIPT, ...nodeArgs], { cwd: ROOT, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const onData = (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
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

async function ready(base: string, ms = 90000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await fetch(`${base}/health/ready`).then((r) => r.status, () => 0)) === 200) return;
    await sleep(100);
  }
  throw new Error(`${base} was not ready within ${ms} ms`);
}

export async function startBenchService(opts: ServiceOptions = {}): Promise<Service> {
  const env = testEnv({
    LOG_LEVEL: 'warn',
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    TWILIO_API_URL: NO_TWILIO,
    DB_POOL_SIZE: '10',
    ...opts.env,
  });
  const procs: Service['procs'] = [];
  const stopAll = async () => {
    await Promise.all(procs.map((p) => p.process.stop('SIGTERM')));
  };
  try {
    for (let n = 0; n < (opts.processes ?? 1); n++) {
      const port = n === 0 && opts.port ? opts.port : await freePort();
      const base = `http://127.0.0.1:${port}`;
      // Every process signs webhooks' URLs with the first one's base: they are one service.
      const procEnv = { ...env, PORT: String(port), PUBLIC_BASE_URL: procs[0]?.base ?? base };
      if (opts.nodeArgs && n === 0) await buildServer();
      const proc: Proc = opts.nodeArgs ? startDirect(procEnv, opts.nodeArgs) : startService(procEnv);
      procs.push({ base, process: proc, pid: null });
      await ready(base).catch((err: Error) => {
        throw new Error(`${err.message}; its output:\n${proc.lines.slice(-30).join('\n')}`);
      });
      procs[n]!.pid = opts.nodeArgs ? proc.child.pid! : serverPid(proc.child.pid!);
    }
  } catch (err) {
    await stopAll();
    await dropDatabase(env.DATABASE_URL!);
    throw err;
  }
  const base = procs[0]!.base;
  const admin = new Api(base);
  admin.token = (await admin.login('admin', ADMIN_PASSWORD)).token;
  return {
    base,
    env: { ...env, PUBLIC_BASE_URL: base },
    procs,
    admin,
    memory: () => procs.map((p) => ({ base: p.base, pid: p.pid, ...(p.pid ? memoryOf(p.pid) ?? { rssMiB: null, peakMiB: null } : { rssMiB: null, peakMiB: null }) })),
    async stop() {
      // SIGTERM lets node write a --cpu-prof profile; SIGKILL whatever is left after 15 s.
      await stopAll();
      const gone = () => procs.every((p) => p.pid === null || memoryOf(p.pid) === null);
      for (let waited = 0; !gone() && waited < 15000; waited += 100) await sleep(100);
      await Promise.all(procs.map((p) => p.process.stop('SIGKILL')));
      // BENCH_KEEP_DB=1 keeps the database for a closer look (its URL is printed); drop it yourself.
      if (process.env.BENCH_KEEP_DB) process.stdout.write(`  kept database ${env.DATABASE_URL}\n`);
      else await dropDatabase(env.DATABASE_URL!);
      await clearRedisKeys(env.REDIS_URL!, env.REDIS_KEY_PREFIX!);
    },
  };
}
