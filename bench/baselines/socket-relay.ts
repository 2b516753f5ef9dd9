/**
 * Baseline: a bare socket.io server (same version, websocket clients, no adapter, no auth) that
 * does the least a contact center's hot paths must do, so the service's latencies can be read as
 * a multiple of it on the same machine in the same run.
 *
 * - `relay {to, text, durable}`: pass a message to another connected socket (chat). With
 *   `durable`, first INSERT it into Postgres (acknowledged only after commit, like the service).
 * - `acd:enqueue`: store a new waiting contact (one transaction), then in a second transaction
 *   under an advisory lock claim the best waiting row (`ORDER BY priority DESC, queued_at …
 *   FOR UPDATE SKIP LOCKED LIMIT 1`, indexed) for the next agent socket and push it an `offer`.
 * - `acd:available {agent}`: the same claim for one agent who just became free.
 * - `acd:release {id, requeue}`: put a claimed row back (requeue) or remove it (handled).
 *
 * Usage: tsx socket-relay.ts <port> [databaseUrl]. Prints one line when listening.
 */
import { createServer } from 'node:http';
import { Pool } from 'pg';
import { Server } from 'socket.io';

type Ack = (r: Record<string, unknown>) => void;

async function main(): Promise<void> {
  const [portArg, databaseUrl] = process.argv.slice(2) as [string, string | undefined];
  const pool = databaseUrl ? new Pool({ connectionString: databaseUrl, max: 10 }) : null;
  const http = createServer();
  const io = new Server(http, { serveClient: false, transports: ['websocket'] });
  const agents: string[] = [];
  let rr = 0;

  const tx = async <T>(fn: (q: (sql: string, params?: unknown[]) => Promise<{ rows: Array<Record<string, unknown>> }>) => Promise<T>): Promise<T> => {
    const client = await pool!.connect();
    try {
      await client.query('BEGIN');
      const result = await fn((sql, params) => client.query(sql, params));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };
  const claim = (agent: string) =>
    tx(async (q) => {
      await q('SELECT pg_advisory_xact_lock(42)');
      const { rows } = await q(
        `UPDATE acd_waiting SET state = 'offered', agent = $1 WHERE id = (
           SELECT id FROM acd_waiting WHERE state = 'queued' ORDER BY priority DESC, queued_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id`,
        [agent],
      );
      return rows[0]?.id as string | undefined;
    });
  const offer = async (agent: string): Promise<string | null> => {
    const id = await claim(agent);
    if (id) io.to(agent).emit('offer', { id: String(id) });
    return id ? String(id) : null;
  };
  const guard = (ack: Ack | undefined, fn: () => Promise<Record<string, unknown>>) => {
    fn().then(
      (r) => ack?.({ ok: true, ...r }),
      (err: unknown) => ack?.({ ok: false, error: { code: 'BASELINE', message: err instanceof Error ? err.message : String(err) } }),
    );
  };

  io.on('connection', (socket) => {
    const { id, role } = (socket.handshake.auth ?? {}) as { id?: string; role?: string };
    if (id) void socket.join(id);
    if (id && role === 'agent') agents.push(id);
    socket.on('disconnect', () => {
      const k = id ? agents.indexOf(id) : -1;
      if (k >= 0) agents.splice(k, 1);
    });
    socket.on('relay', (m: { to: string; text: string; durable?: boolean }, ack?: Ack) =>
      guard(ack, async () => {
        if (m.durable && pool) await pool.query('INSERT INTO relay_messages (room, body) VALUES ($1, $2)', [m.to, m.text]);
        io.to(m.to).emit('relayed', { from: id, text: m.text });
        return {};
      }),
    );
    socket.on('acd:setup', (m: { waiting: number }, ack?: Ack) =>
      guard(ack, async () => {
        await pool!.query('TRUNCATE acd_waiting');
        await pool!.query(`INSERT INTO acd_waiting (priority, state, queued_at) SELECT 0, 'queued', clock_timestamp() - make_interval(secs => g) FROM generate_series(1, $1) g`, [m.waiting]);
        await pool!.query('ANALYZE acd_waiting');
        return {};
      }),
    );
    socket.on('acd:enqueue', (_m: unknown, ack?: Ack) => {
      // Stored and acknowledged (as the service acknowledges a committed message), then routed.
      const stored = pool!.query(`INSERT INTO acd_waiting (priority, state) VALUES (10, 'queued')`);
      guard(ack, async () => {
        await stored;
        return {};
      });
      void stored
        .then(async () => {
          const agent = agents[rr++ % Math.max(1, agents.length)];
          if (agent) await offer(agent);
        })
        .catch(() => undefined);
    });
    socket.on('acd:available', (m: { agent: string }, ack?: Ack) => guard(ack, async () => ({ offered: await offer(m.agent) })));
    socket.on('acd:release', (m: { id: string; requeue: boolean }, ack?: Ack) =>
      guard(ack, async () => {
        if (m.requeue) await pool!.query(`UPDATE acd_waiting SET state = 'queued', agent = NULL WHERE id = $1`, [m.id]);
        else await pool!.query('DELETE FROM acd_waiting WHERE id = $1', [m.id]);
        return {};
      }),
    );
  });

  if (pool) {
    await pool.query('CREATE TABLE IF NOT EXISTS relay_messages (id bigserial PRIMARY KEY, room text NOT NULL, body text NOT NULL, at timestamptz NOT NULL DEFAULT now())');
    await pool.query(`CREATE TABLE IF NOT EXISTS acd_waiting (id bigserial PRIMARY KEY, priority int NOT NULL, queued_at timestamptz NOT NULL DEFAULT clock_timestamp(), state text NOT NULL, agent text)`);
    await pool.query(`CREATE INDEX IF NOT EXISTS acd_waiting_best ON acd_waiting (priority DESC, queued_at, id) WHERE state = 'queued'`);
  }
  await new Promise<void>((resolve) => http.listen(Number(portArg), '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ listening: Number(portArg), pid: process.pid })}\n`);
}

void main();
