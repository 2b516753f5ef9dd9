/**
 * A Postgres cluster of a test file's own, on a free port under a temporary directory, that the
 * test may crash: killing one of its server processes with SIGKILL makes the postmaster end every
 * session and recover from the WAL on disk, as after a crash of Postgres itself. What was
 * committed without waiting for the WAL (synchronous_commit off) and not yet written is lost,
 * as it would be. The machine's shared cluster is never touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from './process';

export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>`, without a database. */
  base: string;
  /**
   * Stop the WAL writer (SIGSTOP, while it waits between rounds) until the next crash, which then
   * kills it. Without it, its round every `wal_writer_delay` (10 s at most) writes out what
   * asynchronous commits left in the WAL buffers, and such a commit survives a crash that falls
   * after that round: a test that needs one lost would pass or fail by where the round fell.
   */
  holdWalWriter(): Promise<void>;
  /**
   * Name a synchronous standby that never connects: every commit that waits for the WAL then
   * also waits, after its flush, for that standby, so it is not answered (what it wrote is on
   * disk) until releaseSyncCommits. Commits that do not wait for the WAL go on. Resolves once a
   * commit of its own is seen waiting so: the setting is then in effect.
   */
  holdSyncCommits(): Promise<void>;
  /** Name no synchronous standby again: the commits held are answered. */
  releaseSyncCommits(): Promise<void>;
  /**
   * Kill one server process with SIGKILL (the held WAL writer, if any; else a backend of its
   * own) and wait until the cluster has recovered and accepts connections again.
   */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string | undefined {
  const fromConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const candidates = [
    ...(fromConfig.status === 0 ? [fromConfig.stdout.trim()] : []),
    ...(existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`) : []),
  ];
  return candidates.find((d) => existsSync(path.join(d, 'initdb')) && existsSync(path.join(d, 'postgres')));
}

/** Postgres refuses to run as root: as root, the cluster runs as the `postgres` user (or `nobody`). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const users = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':'));
  const user = users.find((u) => u[0] === 'postgres') ?? users.find((u) => u[0] === 'nobody');
  if (!user) throw new Error('no postgres or nobody user to run a private Postgres as');
  return { uid: Number(user[2]), gid: Number(user[3]) };
}

export async function startPrivatePostgres(settings: Record<string, string> = {}): Promise<PrivatePostgres> {
  const bin = binDir();
  if (!bin) throw new Error('Postgres server binaries not found (apt-get install postgresql)');
  const user = runAs();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-pg-'));
  chmodSync(dir, 0o755);
  const data = path.join(dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(data, user.uid, user.gid);
  }
  const initdb = spawnSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], {
    encoding: 'utf8',
    ...(user ?? {}),
  });
  if (initdb.status !== 0) throw new Error(`initdb failed: ${initdb.stderr}`);
  const port = await freePort();
  const options = { listen_addresses: '127.0.0.1', port: String(port), unix_socket_directories: dir, restart_after_crash: 'on', fsync: 'off', ...settings };
  const args = ['-D', data, ...Object.entries(options).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const output: string[] = [];
  const server: ChildProcess = spawn(path.join(bin, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) });
  server.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  server.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  const base = `postgres://postgres@127.0.0.1:${port}`;

  const accepting = async (): Promise<boolean> => {
    const c = new Client({ connectionString: `${base}/postgres`, connectionTimeoutMillis: 1000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  const untilAccepting = async (what: string): Promise<void> => {
    const deadline = Date.now() + 30000;
    while (!(await accepting())) {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`private Postgres ${what}: ${output.join('')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await untilAccepting('did not start');

  let heldWalWriter: number | null = null;
  /** The commits holdSyncCommits made to see its setting in effect, each still waiting. */
  const syncProbes: Array<{ client: Client; answered: Promise<unknown> }> = [];
  const admin = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = new Client({ connectionString: `${base}/postgres` });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const setStandby = (names: string | null) =>
    admin(async (c) => {
      await c.query(names === null ? 'ALTER SYSTEM RESET synchronous_standby_names' : `ALTER SYSTEM SET synchronous_standby_names = '${names}'`);
      await c.query('SELECT pg_reload_conf()');
    });

  return {
    base,
    async holdWalWriter() {
      if (heldWalWriter !== null) return;
      const c = new Client({ connectionString: `${base}/postgres` });
      await c.connect();
      try {
        const walWriter = async () => (await c.query<{ pid: number; wait_event: string | null }>("SELECT pid, wait_event FROM pg_stat_activity WHERE backend_type = 'walwriter'")).rows[0];
        const deadline = Date.now() + 5000;
        for (;;) {
          const w = await walWriter();
          if (!w) throw new Error('private Postgres has no WAL writer');
          process.kill(w.pid, 'SIGSTOP');
          // Stopped where it waits between rounds, it holds no lock a backend could wait for
          // (what pg_stat_activity shows cannot change once it is stopped).
          if ((await walWriter())?.wait_event === 'WalWriterMain') {
            heldWalWriter = w.pid;
            return;
          }
          process.kill(w.pid, 'SIGCONT');
          if (Date.now() > deadline) throw new Error('the WAL writer never waited between rounds');
          await new Promise((r) => setTimeout(r, 5));
        }
      } finally {
        await c.end();
      }
    },
    async holdSyncCommits() {
      await setStandby('never_connects');
      const deadline = Date.now() + 10000;
      for (;;) {
        const client = new Client({ connectionString: `${base}/postgres` });
        client.on('error', () => undefined);
        await client.connect();
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        let done = false;
        const answered = client.query("SELECT pg_logical_emit_message(true, 'probe', '')").then(
          () => (done = true),
          () => (done = true),
        );
        const probeDeadline = Date.now() + 1000;
        while (!done && Date.now() < probeDeadline) {
          const waiting = await admin(async (c) => (await c.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'SyncRep'", [rows[0]!.pid])).rowCount);
          if (waiting) {
            syncProbes.push({ client, answered });
            return;
          }
          await new Promise((r) => setTimeout(r, 10));
        }
        // Answered (or not yet waiting): the setting was not in effect yet for it.
        await answered;
        await client.end().catch(() => undefined);
        if (Date.now() > deadline) throw new Error('synchronous commits were never held');
      }
    },
    async releaseSyncCommits() {
      await setStandby(null);
      for (const probe of syncProbes.splice(0)) {
        await probe.answered;
        await probe.client.end().catch(() => undefined);
      }
    },
    async crash() {
      const before = output.join('').split('all server processes terminated; reinitializing').length;
      if (heldWalWriter !== null) {
        process.kill(heldWalWriter, 'SIGKILL');
        heldWalWriter = null;
      } else {
        const c = new Client({ connectionString: `${base}/postgres` });
        await c.connect();
        const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        c.on('error', () => undefined);
        process.kill(rows[0]!.pid, 'SIGKILL');
        await c.end().catch(() => undefined);
      }
      const deadline = Date.now() + 30000;
      while (output.join('').split('all server processes terminated; reinitializing').length === before) {
        if (Date.now() > deadline) throw new Error(`private Postgres did not restart after the crash: ${output.join('')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await untilAccepting('did not recover');
    },
    async stop() {
      if (heldWalWriter !== null) process.kill(heldWalWriter, 'SIGCONT');
      if (server.exitCode === null) {
        server.kill('SIGQUIT');
        await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
