/** Build and listen a real app for a test file; close it and drop its database afterwards. */
import type { FastifyInstance } from 'fastify';
import { io as ioClient, type Socket } from 'socket.io-client';
import { buildApp, type BuildOptions } from '../../src/app';
import type { Config } from '../../src/platform/config';
import { ADMIN_PASSWORD, clearRedisKeys, dropDatabase, testConfig } from './env';

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  url: string;
  adminToken: string;
  close(): Promise<void>;
}

export async function startApp(
  overrides: Record<string, string> = {},
  config: Config = testConfig(overrides),
  options: BuildOptions = {},
): Promise<TestApp> {
  const app = await buildApp(config, options);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const adminToken = await login(app, 'admin', ADMIN_PASSWORD);
  return {
    app,
    config,
    url,
    adminToken,
    async close() {
      await app.close();
      await dropDatabase(config.databaseUrl);
      await clearRedisPrefix(config);
    },
  };
}

/**
 * Delete every key of the config's prefix, BullMQ's (`<prefix>-bull:`) included: a test file's
 * cleanup, and what a Redis restarted empty does to the service. How many keys it removed.
 */
export async function clearRedisPrefix(config: Config): Promise<number> {
  return clearRedisKeys(config.redisUrl, config.redisKeyPrefix);
}

export async function login(app: FastifyInstance, username: string, password: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  return res.json().token;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Create a queue, an agent login for it, and a chat entry point; returns ids and the agent's token. */
export async function seedQueueAndAgent(t: TestApp, name = 'support'): Promise<{ queueId: string; agentId: string; agentToken: string; username: string }> {
  const q = await t.app.inject({ method: 'POST', url: '/api/queues', headers: bearer(t.adminToken), payload: { name } });
  if (q.statusCode !== 201) throw new Error(`queue: ${q.body}`);
  const queueId = q.json().id;
  const username = `agent-${name}`;
  const a = await t.app.inject({
    method: 'POST',
    url: '/api/agents',
    headers: bearer(t.adminToken),
    payload: { name: `Agent ${name}`, username, password: 'agent-password', queueIds: [queueId] },
  });
  if (a.statusCode !== 201) throw new Error(`agent: ${a.body}`);
  const agentToken = await login(t.app, username, 'agent-password');
  return { queueId, agentId: a.json().id, agentToken, username };
}

export interface ChatClient {
  socket: Socket;
  session: { visitorToken: string; customerId: string; interactionId: string };
  messages: Array<{ messageId: string; text: string; from: string; seq: number; interactionId: string }>;
  send(clientMessageId: string, text: string): Promise<any>;
  emitAck(event: string, payload: unknown): Promise<any>;
  close(): void;
}

/** A real socket.io client on /chat that has received its `session`. */
export async function chatClient(url: string, auth: Record<string, unknown> = {}): Promise<ChatClient> {
  const socket = ioClient(`${url}/chat`, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  const messages: ChatClient['messages'] = [];
  socket.on('message', (m) => messages.push(m));
  const session = await new Promise<ChatClient['session']>((resolve, reject) => {
    socket.once('session', resolve);
    socket.once('connect_error', reject);
  });
  const emitAck = (event: string, payload: unknown) => socket.timeout(15000).emitWithAck(event, payload);
  return {
    socket,
    session,
    messages,
    send: (clientMessageId, text) => emitAck('message', { clientMessageId, text }),
    emitAck,
    close: () => socket.disconnect(),
  };
}

/** How late a 20 ms poll may wake before the lateness counts as a stall rather than as waiting. */
const STALL_MS = 250;

/**
 * Wait until `predicate` holds, checking every 20 ms; fails after `ms` of time this process was
 * running. A process that could not run (a paused VM, a starved or collecting worker) wakes with
 * its poll timer due before the I/O that arrived meanwhile is read (timers run before I/O in a
 * turn of the event loop), and used to fail a condition already met. So a poll that wakes far
 * later than asked extends the deadline by its lateness, and before giving up the wait lets
 * pending I/O in and checks once more. `detail`, if given, is added to the failure, to tell what
 * was there instead.
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  ms = 5000,
  what = 'condition',
  detail?: () => string,
): Promise<void> {
  let deadline = Date.now() + ms;
  let stalled = 0;
  while (!(await predicate())) {
    if (Date.now() > deadline) {
      // Two check-phase callbacks in a row have a poll for I/O between them, whatever the phase now.
      for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
      if (await predicate()) return;
      const extra = detail ? `; ${detail()}` : '';
      throw new Error(`timed out waiting for ${what} (${ms} ms awake${stalled ? `, and ${stalled} ms stalled` : ''})${extra}`);
    }
    const asleep = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    const late = Date.now() - asleep - 20;
    if (late > STALL_MS) {
      stalled += late;
      deadline += late;
    }
  }
}
