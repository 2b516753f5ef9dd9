/**
 * Chat generator (its own process, driven over IPC by bench/scenarios/chat.ts). It holds the
 * visitors' widgets and the agents' consoles, so both directions are timed by one clock:
 * customer `message` emitted → the agent's `interaction:message`, and agent `interaction:reply`
 * emitted → the visitor's `message`.
 *
 * Every chat writes once per interval (random phase, so the load is steady, not in waves); the
 * agent answers each customer message after a short think time (0.2–2 s).
 */
import { io, type Socket } from 'socket.io-client';
import { connectAgent, connectVisitor, emitAck, type AgentSocket, type VisitorSocket } from '../lib/sockets';
import { mapLimit, nowMs, sleep, summarize, until } from '../lib/stats';
import { serveWorker } from '../lib/worker';
import { monoMicros } from '../lib/cpuprofile';

interface Visitor {
  k: number;
  socket: VisitorSocket;
  interactionId: string | null;
  seq: number;
}

const agents = new Map<string, AgentSocket>();
/** interactionId → the console that accepted it. */
const owner = new Map<string, AgentSocket>();
const visitors: Visitor[] = [];

interface Run {
  recording: boolean;
  sent: Map<string, number>;
  toAgent: number[];
  toCustomer: number[];
  customerAck: number[];
  replyAck: number[];
  errors: number;
  outstanding: number;
  /** The slowest deliveries, with the monotonic µs they arrived at (to find them in a service profile). */
  slow: Array<{ atMicros: number; ms: number; dir: 'to-agent' | 'to-customer' }>;
}
let run: Run | null = null;
const SLOW_MS = 30;
const noteSlow = (r: Run, ms: number, dir: 'to-agent' | 'to-customer') => {
  if (ms >= SLOW_MS && r.slow.length < 2000) r.slow.push({ atMicros: monoMicros(), ms: Math.round(ms * 10) / 10, dir });
};
const think = () => 200 + Math.random() * 1800;

function onAgentMessage(socket: AgentSocket, m: { interactionId: string; from: string; text: string }): void {
  if (!run || m.from !== 'customer' || !m.text.startsWith('c|')) return;
  const t0 = run.sent.get(m.text);
  if (t0 === undefined) return;
  run.sent.delete(m.text);
  if (run.recording) {
    run.toAgent.push(nowMs() - t0);
    noteSlow(run, nowMs() - t0, 'to-agent');
  }
  const reply = `a|${m.text.slice(2)}`;
  const r = run;
  setTimeout(() => {
    const t1 = nowMs();
    r.sent.set(reply, t1);
    void emitAck(socket, 'interaction:reply', { interactionId: m.interactionId, clientMessageId: reply.replace(/\|/g, '-'), text: reply }).then((ack) => {
      if (!ack.ok) r.errors++;
      else if (r.recording) r.replyAck.push(nowMs() - t1);
    });
  }, think());
}

function onVisitorMessage(m: { from: string; text: string }): void {
  if (!run || m.from !== 'agent' || !m.text.startsWith('a|')) return;
  const t0 = run.sent.get(m.text);
  if (t0 === undefined) return;
  run.sent.delete(m.text);
  if (run.recording) {
    run.toCustomer.push(nowMs() - t0);
    noteSlow(run, nowMs() - t0, 'to-customer');
  }
}

// Baseline (bench/baselines/socket-relay.ts): the same pattern through a bare relay.
let relay: { customers: Socket[]; agents: Socket[] } | null = null;

serveWorker({
  async connectAgents(p: { url: string; agents: Array<{ id: string; token: string }> }) {
    await mapLimit(p.agents, 50, async (a) => {
      const socket = await connectAgent(p.url, a.token);
      socket.on('offer', (o) => {
        void emitAck(socket, 'offer:accept', { offerId: o.offerId }).then((r) => {
          if (r.ok) owner.set(o.interaction.id, socket);
        });
      });
      socket.on('interaction:message', (m) => onAgentMessage(socket, m));
      const ack = await emitAck(socket, 'state:set', { state: 'available' });
      if (!ack.ok) throw new Error(`available: ${JSON.stringify(ack)}`);
      agents.set(a.id, socket);
    });
    return { connected: agents.size };
  },

  /** `count` visitors connect and write a first message; resolves when an agent accepted each chat. */
  async openChats(p: { url: string; count: number; widget: string }) {
    const started = Date.now();
    await mapLimit(Array.from({ length: p.count }, (_, k) => k), 25, async (k) => {
      const { socket } = await connectVisitor(p.url, { widget: p.widget });
      const v: Visitor = { k, socket, interactionId: null, seq: 0 };
      socket.on('message', (m) => onVisitorMessage(m));
      const ack = await emitAck(socket, 'message', { clientMessageId: `open-${k}`, text: `hello, I am visitor ${k}` });
      if (!ack.ok) throw new Error(`first message: ${JSON.stringify(ack)}`);
      v.interactionId = ack.interactionId as string;
      visitors.push(v);
    });
    await until(() => visitors.every((v) => owner.has(v.interactionId!)) || undefined, 120000, 'every chat accepted', 200);
    return { open: visitors.length, seconds: (Date.now() - started) / 1000 };
  },

  /** The timed phase: every chat writes once per `intervalMs`; samples after `warmupSeconds`. */
  async run(p: { seconds: number; warmupSeconds: number; intervalMs: number }) {
    const r: Run = { recording: false, sent: new Map(), toAgent: [], toCustomer: [], customerAck: [], replyAck: [], errors: 0, outstanding: 0, slow: [] };
    run = r;
    const stopAt = Date.now() + (p.warmupSeconds + p.seconds) * 1000;
    setTimeout(() => (r.recording = true), p.warmupSeconds * 1000);
    let sent = 0;
    await Promise.all(
      visitors.map(async (v) => {
        await sleep(Math.random() * p.intervalMs);
        while (Date.now() < stopAt) {
          const text = `c|${v.k}|${v.seq++}`;
          const t0 = nowMs();
          r.sent.set(text, t0);
          sent++;
          const recording = r.recording;
          void emitAck(v.socket, 'message', { clientMessageId: text.replace(/\|/g, '-'), text }).then((ack) => {
            if (!ack.ok) r.errors++;
            else if (recording) r.customerAck.push(nowMs() - t0);
          });
          await sleep(p.intervalMs * (0.8 + Math.random() * 0.4));
        }
      }),
    );
    await sleep(4000); // the last replies (think time ≤ 2 s) arrive
    r.recording = false;
    run = null;
    return {
      sent,
      customerToAgent: summarize(r.toAgent),
      agentToCustomer: summarize(r.toCustomer),
      customerAck: summarize(r.customerAck),
      replyAck: summarize(r.replyAck),
      errors: r.errors,
      unanswered: r.sent.size,
      slow: r.slow,
    };
  },

  async close() {
    for (const v of visitors) v.socket.close();
    for (const a of agents.values()) a.close();
    visitors.length = 0;
    agents.clear();
    owner.clear();
    return {};
  },

  async relayConnect(p: { url: string; chats: number; agents: number }) {
    const open = (auth: Record<string, string>) =>
      new Promise<Socket>((resolve, reject) => {
        const s = io(p.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth });
        s.once('connect', () => resolve(s));
        s.once('connect_error', reject);
      });
    const agentSockets = await mapLimit(Array.from({ length: p.agents }, (_, k) => k), 50, (k) => open({ id: `agent${k}`, role: 'relay-agent' }));
    const customers = await mapLimit(Array.from({ length: p.chats }, (_, k) => k), 50, (k) => open({ id: `cust${k}` }));
    relay = { customers, agents: agentSockets };
    return { connected: customers.length + agentSockets.length };
  },

  /** The same traffic through the bare relay; `durable`: each message is INSERTed before it is relayed. */
  async relayRun(p: { seconds: number; warmupSeconds: number; intervalMs: number; durable: boolean }) {
    const b = relay!;
    const r: Run = { recording: false, sent: new Map(), toAgent: [], toCustomer: [], customerAck: [], replyAck: [], errors: 0, outstanding: 0, slow: [] };
    const onAgent = (s: Socket) => (m: { from: string; text: string }) => {
      const t0 = r.sent.get(m.text);
      if (t0 === undefined) return;
      r.sent.delete(m.text);
      if (r.recording) r.toAgent.push(nowMs() - t0);
      const reply = `a|${m.text.slice(2)}`;
      setTimeout(() => {
        r.sent.set(reply, nowMs());
        void emitAck(s, 'relay', { to: m.from, text: reply, durable: p.durable }).then((ack) => !ack.ok && r.errors++);
      }, think());
    };
    const onCustomer = (m: { text: string }) => {
      const t0 = r.sent.get(m.text);
      if (t0 === undefined) return;
      r.sent.delete(m.text);
      if (r.recording) r.toCustomer.push(nowMs() - t0);
    };
    const handlers = b.agents.map((s) => {
      const h = onAgent(s);
      s.on('relayed', h);
      return h;
    });
    for (const c of b.customers) c.on('relayed', onCustomer);
    const stopAt = Date.now() + (p.warmupSeconds + p.seconds) * 1000;
    setTimeout(() => (r.recording = true), p.warmupSeconds * 1000);
    let sent = 0;
    await Promise.all(
      b.customers.map(async (c, k) => {
        await sleep(Math.random() * p.intervalMs);
        let seq = 0;
        while (Date.now() < stopAt) {
          const text = `c|${k}|${seq++}`;
          r.sent.set(text, nowMs());
          sent++;
          void emitAck(c, 'relay', { to: `agent${k % b.agents.length}`, text, durable: p.durable }).then((ack) => !ack.ok && r.errors++);
          await sleep(p.intervalMs * (0.8 + Math.random() * 0.4));
        }
      }),
    );
    await sleep(4000);
    b.agents.forEach((s, k) => s.off('relayed', handlers[k]));
    for (const c of b.customers) c.off('relayed', onCustomer);
    return { sent, customerToAgent: summarize(r.toAgent), agentToCustomer: summarize(r.toCustomer), errors: r.errors, unanswered: r.sent.size };
  },

  async relayClose() {
    if (relay) for (const s of [...relay.customers, ...relay.agents]) s.close();
    relay = null;
    return {};
  },
});
