/**
 * Socket pushes across processes, through the Redis streams adapter as createIo sets it up: two
 * socket.io servers (two nodes, each with its own Redis connection) and real clients. The first
 * node reaches Redis through a proxy the test can hold, to show that its own sockets do not
 * wait for the Redis append and that the other node still gets every push once it goes through.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import type { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { createIo } from '../../src/platform/sockets';
import { clearRedisPrefix, waitFor } from '../support/app';
import { REDIS_URL, testConfig } from '../support/env';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

interface Node {
  http: HttpServer;
  io: Server;
  redis: Redis;
  url: string;
}

interface Client {
  socket: ClientSocket;
  got: string[];
}

const config = testConfig();
let proxy: TcpProxy;
let a: Node;
let b: Node;
const clients: Client[] = [];

async function startNode(redisUrl: string): Promise<Node> {
  const http = createServer();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const io = createIo(http, config, redis);
  io.on('connection', (s) => void s.join('room'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { http, io, redis, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

async function client(node: Node): Promise<Client> {
  const socket = connect(node.url, { transports: ['websocket'], forceNew: true });
  const c: Client = { socket, got: [] };
  socket.on('push', (text: string) => c.got.push(text));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
  clients.push(c);
  return c;
}

/** Push from `from` until every client in `to` has it (the other node's read loop may start after the first push). */
async function settle(from: Node, to: Client[]): Promise<void> {
  for (let n = 0; ; n++) {
    from.io.to('room').emit('push', `ready ${n}`);
    try {
      await waitFor(() => to.every((c) => c.got.includes(`ready ${n}`)), 500, 'both nodes reading', seen(...to));
      return;
    } catch (err) {
      if (n >= 20) throw err;
    }
  }
}

beforeAll(async () => {
  const redisPort = Number(new URL(REDIS_URL).port || 6379);
  proxy = await startTcpProxy(new URL(REDIS_URL).hostname, redisPort);
  a = await startNode(`redis://127.0.0.1:${proxy.port}`);
  b = await startNode(REDIS_URL);
});

afterAll(async () => {
  for (const c of clients) c.socket.disconnect();
  for (const n of [a, b]) {
    await new Promise<void>((resolve) => n.io.close(() => resolve()));
    n.redis.disconnect();
  }
  // The adapter's read loops close their connections when their blocking read returns (500 ms).
  await new Promise((r) => setTimeout(r, 700));
  await proxy.close();
  await clearRedisPrefix(config);
});

/** What each client got, for a failure's message. */
const seen = (...cs: Client[]) => (): string => cs.map((c, i) => `client ${i + 1} got ${JSON.stringify(c.got)}`).join(', ');

/** What a client got, without the warm-up pushes (one of which may still arrive late). */
const pushes = (c: Client): string[] => c.got.filter((t) => !t.startsWith('ready')).sort();

describe('socket pushes across processes', () => {
  it('reaches the sockets of both nodes exactly once, from either node, honouring except and local', async () => {
    const here = await client(a);
    const there = await client(b);
    await settle(a, [here, there]);
    await settle(b, [here, there]);

    a.io.to('room').emit('push', 'from a');
    b.io.to('room').emit('push', 'from b');
    a.io.to('room').except(there.socket.id!).emit('push', 'not to there');
    a.io.local.to('room').emit('push', 'only here');
    b.io.to('room').emit('push', 'last');
    await waitFor(() => here.got.includes('last') && there.got.includes('last'), 5000, 'the last push on both nodes', seen(here, there));
    // A marker emitted after everything else from a, so that nothing of a's is still on its way.
    a.io.to('room').emit('push', 'end');
    await waitFor(() => here.got.includes('end') && there.got.includes('end'), 5000, 'the end marker on both nodes', seen(here, there));

    expect(pushes(here)).toEqual(['end', 'from a', 'from b', 'last', 'not to there', 'only here']);
    expect(pushes(there)).toEqual(['end', 'from a', 'from b', 'last']);
  });

  it("delivers to the node's own sockets while its Redis append waits, and to the other node once it goes through", async () => {
    const here = await client(a);
    const there = await client(b);
    await settle(a, [here, there]);

    proxy.hold();
    try {
      a.io.to('room').emit('push', 'offer');
      // With the adapter's own broadcast, this waits for the append: it would never arrive while held.
      await waitFor(() => here.got.includes('offer'), 5000, "the push on the sending node's socket while Redis is held", seen(here, there));
      await new Promise((r) => setTimeout(r, 300));
      expect(there.got).not.toContain('offer');
    } finally {
      proxy.release();
    }
    await waitFor(() => there.got.includes('offer'), 5000, "the push on the other node's socket after release", seen(here, there));
    expect(here.got.filter((t) => t === 'offer')).toHaveLength(1);
    expect(there.got.filter((t) => t === 'offer')).toHaveLength(1);
  });

  it('still reaches the other node after Redis lost the stream (restarted empty, failed over)', async () => {
    const here = await client(a);
    const there = await client(b);
    await settle(a, [here, there]);
    expect(await clearRedisPrefix(config)).toBeGreaterThan(0);
    a.io.to('room').emit('push', 'after the wipe, from a');
    b.io.to('room').emit('push', 'after the wipe, from b');
    await waitFor(() => ['after the wipe, from a', 'after the wipe, from b'].every((m) => here.got.includes(m) && there.got.includes(m)), 5000, 'both pushes on both nodes', seen(here, there));
    for (const c of [here, there]) expect(c.got.filter((t) => t.startsWith('after the wipe'))).toHaveLength(2);
  });
});
