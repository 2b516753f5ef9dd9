/**
 * Footprint generator (its own process, driven over IPC by bench/scenarios/footprint.ts): holds
 * many agent consoles and chat widgets open against the service (spread over its processes), or
 * plain sockets against the bare socket.io baseline. Agents go available and accept what they
 * are offered; some visitors write, so they have an open chat with an agent.
 */
import { io, type Socket } from 'socket.io-client';
import { connectAgent, connectVisitor, emitAck } from '../lib/sockets';
import { mapLimit } from '../lib/stats';
import { serveWorker } from '../lib/worker';

const sockets: Socket[] = [];
let accepted = 0;
let dropped = 0;

const track = (s: Socket) => {
  sockets.push(s);
  s.on('disconnect', () => dropped++);
};

serveWorker({
  async agents(p: { urls: string[]; agents: Array<{ token: string }> }) {
    await mapLimit(p.agents, 25, async (a, k) => {
      const socket = await connectAgent(p.urls[k % p.urls.length]!, a.token);
      socket.on('offer', (o) => void emitAck(socket, 'offer:accept', { offerId: o.offerId }).then((r) => r.ok && accepted++));
      track(socket);
      const ack = await emitAck(socket, 'state:set', { state: 'available' });
      if (!ack.ok) throw new Error(`available: ${JSON.stringify(ack)}`);
    });
    return { connected: sockets.length };
  },

  /** `count` visitors; the first `open` of them write a message (an open chat). */
  async visitors(p: { urls: string[]; count: number; open: number; widget: string; tag: string }) {
    await mapLimit(Array.from({ length: p.count }, (_, k) => k), 25, async (k) => {
      const { socket } = await connectVisitor(p.urls[k % p.urls.length]!, { widget: p.widget });
      track(socket);
      if (k < p.open) {
        const ack = await emitAck(socket, 'message', { clientMessageId: `${p.tag}-${k}`, text: `visitor ${k} needs help` });
        if (!ack.ok) throw new Error(`message: ${JSON.stringify(ack)}`);
      }
    });
    return { connected: sockets.length };
  },

  /** Plain sockets against the bare socket.io baseline. */
  async plain(p: { url: string; count: number; tag: string }) {
    await mapLimit(Array.from({ length: p.count }, (_, k) => k), 50, (k) =>
      new Promise<void>((resolve, reject) => {
        const s = io(p.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { id: `${p.tag}${k}` } });
        s.once('connect', () => {
          track(s);
          resolve();
        });
        s.once('connect_error', reject);
      }),
    );
    return { connected: sockets.length };
  },

  async counts() {
    return { open: sockets.filter((s) => s.connected).length, accepted, dropped };
  },

  async close() {
    for (const s of sockets) {
      s.removeAllListeners('disconnect');
      s.close();
    }
    sockets.length = 0;
    return {};
  },
});
