/**
 * Postgres: the pool, the transaction helper, and database creation. SQL itself lives in
 * repositories; they take a `Queryable` so callers decide whether it runs inside a transaction.
 */
import { Pool, type PoolClient, type QueryResultRow } from 'pg';
import type { Config } from './config';

export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
  /**
   * A named statement is prepared once per connection, for hot statements. Its plan is kept when
   * Postgres judges its generic plan good enough, and always in a `genericPlans` transaction.
   */
  query<R extends QueryResultRow = QueryResultRow>(config: { name: string; text: string; values?: unknown[] }): Promise<{ rows: R[]; rowCount: number | null }>;
}

export interface PoolOptions {
  /** Most connections (default: DB_POOL_SIZE). */
  max?: number;
  /**
   * Named statements always run on their kept generic plans, in a transaction or not (see
   * TransactionOptions.genericPlans): for a pool that runs only equality and index-order lookups.
   */
  genericPlans?: boolean;
}

export function createPool(config: Config, opts: PoolOptions = {}): Pool {
  // No JIT compilation: our statements are short and planned as prepared statements, and a plan
  // whose estimate crosses jit_above_cost (a generic plan of the router's waiting read did, at
  // 10,000 waiting) spends ~50 ms compiling a query that runs in 0.1 ms. Set in the connection's
  // startup packet, so it costs no round trip and no query queued before the caller's first.
  const { connectionString, options } = startupOptions(config.databaseUrl, opts.genericPlans ? '-c jit=off -c plan_cache_mode=force_generic_plan' : '-c jit=off', config.dbOptions);
  const pool = new Pool({
    connectionString,
    max: opts.max ?? config.dbPoolSize,
    connectionTimeoutMillis: config.dbConnectTimeoutMs,
    idleTimeoutMillis: 30000,
    statement_timeout: config.dbStatementTimeoutMs,
    query_timeout: config.dbStatementTimeoutMs + 1000,
    application_name: 'switchboard',
    options,
    // Queries issued while one is under way go out at once instead of after its answer: a
    // transaction's first statement travels right behind its BEGIN (see withTransaction).
    pipeline: true,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * A connection's startup options: ours, then any the operator gave (DATABASE_URL's `options`
 * parameter, else `given`: PGOPTIONS), so theirs win where both set the same thing. pg sends only one
 * options string and a URL's would replace ours, so the URL's is taken out of the URL here.
 */
export function startupOptions(databaseUrl: string, ours: string, given: string | undefined): { connectionString: string; options: string } {
  const url = new URL(databaseUrl);
  const fromUrl = url.searchParams.get('options');
  if (fromUrl !== null) url.searchParams.delete('options');
  return {
    connectionString: fromUrl !== null ? url.toString() : databaseUrl,
    options: [ours, fromUrl ?? given ?? ''].filter((o) => o.trim() !== '').join(' '),
  };
}

/** A checked-out client whose connection drops between queries emits 'error'; the next query fails anyway. */
const ignoreClientError = (): void => undefined;

export interface TransactionOptions {
  /** Take this advisory lock first, for the rest of the transaction. */
  advisoryLock?: number;
  /**
   * Run named statements with their kept generic plans. By default Postgres plans a prepared
   * statement again for every execution when its generic plan's estimate looks worse than
   * custom plans (arrays and unnest() make it look so), and for the hot reads of a message's
   * append and a routing pass that planning took 0.3–0.5 ms a statement against 0.02–0.3 ms of
   * execution. Only for transactions of equality and index-order lookups, whose generic plans
   * are as good: a range test on a parameter is estimated blind in a generic plan.
   */
  genericPlans?: boolean;
  /**
   * Commit without waiting for the WAL to reach the disk (synchronous_commit off for this
   * transaction): a crash of Postgres itself (not of the service) may lose the last fraction of
   * a second of such commits, and the database comes back as it was before them. Only for
   * decisions that are made again from what was kept (the routing pass's offers); never for
   * what a sender was told is stored. A later synchronous commit (an accept, say) flushes every
   * earlier commit with it, so nothing kept can depend on one that was lost.
   */
  asyncCommit?: boolean;
}

/** What a transaction's body may do besides running statements. */
export interface TransactionEnd {
  /**
   * Send COMMIT now, right behind the statements already issued, instead of after the body
   * returns: on a pipelined pool it travels with them, one round trip less. Only as the body's
   * last act, once every statement is issued: the body may then only await their answers. Should
   * one of them fail, Postgres turns the COMMIT into a rollback and the body's error is thrown.
   */
  commitBehind(): void;
  /**
   * Once COMMIT is sent (commitBehind), send `read` on the same connection right behind it: it
   * runs outside the transaction, after the COMMIT, so it sees what the transaction committed,
   * and its answer comes back right after the COMMIT's, with no round trip of its own. (Behind a
   * transaction that turns out to have failed, it sees nothing of it.) withTransaction returns
   * once the COMMIT is answered; the connection goes back to the pool once every such read has
   * settled. The read's result or error is the caller's.
   */
  behindCommit<R>(read: (db: Queryable) => Promise<R>): Promise<R>;
  /** Send every statement `issue` sends (synchronously) in one write: see sendTogether. */
  together<T>(issue: () => T): T;
}

/**
 * Send every statement `issue` issues on `client` (synchronously, before it returns) in one
 * write: the connection's output is held meanwhile. On a pipelined connection each statement
 * would otherwise leave in a write of its own, and the server, having answered the first, may
 * sleep and be woken again for each of the others.
 */
export function sendTogether<T>(client: PoolClient, issue: () => T): T {
  const release = holdWrites(client);
  try {
    return issue();
  } finally {
    release();
  }
}

/** Hold the connection's writes until the returned function is called (once; later calls do nothing). */
function holdWrites(client: PoolClient): () => void {
  const stream = (client as PoolClient & { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream;
  stream?.cork?.();
  let held = true;
  return () => {
    if (held) stream?.uncork?.();
    held = false;
  };
}

/**
 * A statement whose answer means the WAL is on disk past every commit answered on `db` before it
 * was sent (one made without waiting for the WAL, say): a transactional WAL message takes a
 * transaction id and writes WAL, so its commit waits for the flush as any synchronous commit
 * does, and a flush writes out everything before it. Runs in a transaction of its own: issue it
 * outside any.
 */
export async function flushWal(db: Queryable): Promise<void> {
  await db.query({ name: 'wal.flush', text: "SELECT pg_logical_emit_message(true, 'switchboard', '')" });
}

/** COMMIT answered in a transaction that had failed: nothing was committed. */
export class RolledBackAtCommit extends Error {
  constructor() {
    super('the transaction was rolled back at COMMIT: one of its statements had failed');
    this.name = 'RolledBackAtCommit';
  }
}

/** Run `fn` in one transaction (see TransactionOptions); commit on success, roll back on any error. */
export async function withTransaction<T>(pool: Pool, fn: (tx: PoolClient, end: TransactionEnd) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
  checkLock(opts);
  const client = await pool.connect();
  client.on('error', ignoreClientError);
  const run = transactionOn(client, fn, opts);
  // The caller goes on at once; the connection follows once the reads behind the COMMIT are in.
  void run.released.then((broken) => {
    client.off('error', ignoreClientError);
    client.release(broken);
  });
  return run.result;
}

/**
 * Run `fn` in one transaction on `client`, a connection the caller holds, with BEGIN sent at
 * once, before this returns: behind whatever the caller has already sent there (a statement
 * whose answer it has not had yet, say), so the transaction runs once that has. `released`
 * settles once nothing sent for the transaction is still on its way (true when the connection
 * broke); the caller keeps the connection until then.
 */
export function transactionOn<T>(client: PoolClient, fn: (tx: PoolClient, end: TransactionEnd) => Promise<T>, opts: TransactionOptions = {}): { result: Promise<T>; released: Promise<boolean> } {
  checkLock(opts);
  const lock = opts.advisoryLock;
  let broken = false;
  /** Reads sent behind the COMMIT (TransactionEnd.behindCommit), settled before the connection goes back. */
  const behind: Array<Promise<unknown>> = [];
  // BEGIN, the plan setting and the advisory lock go in one message, and on a pipelined pool
  // the transaction's first statement follows it without waiting for its answer. Postgres runs
  // them in order, so that statement runs inside the transaction (and after the lock); should
  // anything after BEGIN fail, the transaction is aborted and every statement behind it fails.
  // BEGIN itself fails only with its session, which then runs nothing else.
  // They go out in one write with the statements the body sends before it first waits.
  const sendHeld = holdWrites(client);
  const begun = client
    .query([
      'BEGIN',
      ...(opts.genericPlans ? ['SET LOCAL plan_cache_mode = force_generic_plan'] : []),
      ...(opts.asyncCommit ? ['SET LOCAL synchronous_commit = off'] : []),
      ...(lock === undefined ? [] : [`SELECT pg_advisory_xact_lock(${lock})`]),
    ].join('; '))
    .then(() => null, (err: unknown) => err);
  const begin = async (): Promise<void> => {
    const failed = await begun;
    if (failed) throw failed;
  };
  let committing: Promise<{ command: string }> | null = null;
  const end: TransactionEnd = {
    commitBehind: () => {
      if (committing) return;
      committing = client.query('COMMIT');
      // Awaited below; the body's own error comes first should both fail.
      committing.catch(() => undefined);
    },
    behindCommit: (read) => {
      if (!committing) throw new Error('behindCommit before commitBehind');
      const p = read(client);
      behind.push(p.catch(() => undefined));
      return p;
    },
    together: (issue) => sendTogether(client, issue),
  };
  let body: Promise<T>;
  try {
    body = client.pipeline ? fn(client, end) : begin().then(() => fn(client, end));
  } catch (err) {
    body = Promise.reject(err);
  } finally {
    sendHeld();
  }
  const result = (async (): Promise<T> => {
    try {
      let value: T;
      try {
        value = await body;
      } finally {
        await begin();
      }
      // A transaction one of whose statements failed answers COMMIT with ROLLBACK, not an error:
      // a body that went on after a failed statement must not be told its writes are kept.
      const { command } = await (committing ?? client.query('COMMIT'));
      if (command !== 'COMMIT') throw new RolledBackAtCommit();
      return value;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw err;
    }
  })();
  const released = result.then(noop, noop).then(() => Promise.all(behind)).then(() => broken);
  return { result, released };
}

const noop = (): void => undefined;

function checkLock(opts: TransactionOptions): void {
  const lock = opts.advisoryLock;
  if (lock !== undefined && !Number.isSafeInteger(lock)) throw new Error(`advisory lock key ${lock} is not an integer`);
}

/** Create the database named in DATABASE_URL if it does not exist. Safe when several processes race. */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const pool = new Pool({ connectionString: admin.toString(), max: 1, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined);
  try {
    const { rowCount } = await pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await pool.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code;
    // 42P04 duplicate_database; 23505 when two CREATE DATABASE race on pg_database's unique index.
    if (code === '42P04' || code === '23505') return false;
    throw err;
  } finally {
    await pool.end();
  }
}
