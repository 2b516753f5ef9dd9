/**
 * Routing generator (its own process, driven over IPC by bench/scenarios/routing.ts). It holds
 * every agent console of the scenario and the probe customer, so each latency is taken by one
 * clock in one process: the probe's send and the offer's arrival.
 *
 * - Blended agents (queues: backlog SMS + probe chat; capacity sms 1, chat 1) each hold one
 *   accepted SMS, so they are available with a free chat slot and no SMS slot; the backlog's
 *   waiting SMS are in their queues but none of them can take one.
 * - Enqueue → offer: the probe visitor writes a new chat (a queue of higher priority); the
 *   router must pick it past the backlog; a blended agent gets the offer, accepts, ends and wraps
 *   up so its chat slot is free again.
 * - Available → offer: the probe agent (backlog only, one SMS slot) goes available and is
 *   offered the head of the backlog; it goes away again, which withdraws the offer and puts the
 *   SMS back at the head of the queue with its age.
 */
import { connectAgent, connectVisitor, emitAck, type AgentSocket, type VisitorSocket } from '../lib/sockets';
import { mapLimit, nowMs, sleep, summarize, type Summary } from '../lib/stats';
import { serveWorker } from '../lib/worker';
import type { OfferPayload } from '../../src/agents/agent.types';
import { io, type Socket } from 'socket.io-client';

interface Agent {
  id: string;
  socket: AgentSocket;
}

/** One sample's client-side times (epoch ms), to line up with the times the service recorded. */
interface Mark {
  offerId: string;
  sentAt: number;
  offerAt: number;
}

const blended = new Map<string, Agent>();
let probeAgent: Agent | null = null;
let held = 0;
let unexpected = 0;
/** Setup accepts the service refused (the first few answers kept, for the log when setup stalls). */
const acceptFailures: string[] = [];
let acceptFailed = 0;
let acceptRetries = 0;
/** Waiters for the next chat offer to any blended agent. */
let chatOfferWaiter: ((o: { agent: Agent; offer: OfferPayload; at: number }) => void) | null = null;

function onBlendedOffer(agent: Agent, offer: OfferPayload): void {
  const at = nowMs();
  if (offer.interaction.channel === 'chat' && chatOfferWaiter) {
    const w = chatOfferWaiter;
    chatOfferWaiter = null;
    w({ agent, offer, at });
    return;
  }
  if (offer.interaction.channel === 'sms') {
    // Setup: every blended agent takes one SMS and keeps it, filling its SMS slot.
    // As a console would: a 503 (the service's connections all busy, on a loaded machine) is retried.
    void (async () => {
      for (let attempt = 1; ; attempt++) {
        const r = await emitAck(agent.socket, 'offer:accept', { offerId: offer.offerId });
        if (r.ok) return void held++;
        if (r.error?.code === 'SB_UNAVAILABLE' && attempt < 5) {
          acceptRetries++;
          await sleep(200 * attempt);
          continue;
        }
        acceptFailed++;
        if (acceptFailures.length < 5) acceptFailures.push(JSON.stringify(r));
        return;
      }
    })();
    return;
  }
  unexpected++;
}

function nextChatOffer(ms: number): Promise<{ agent: Agent; offer: OfferPayload; at: number } | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      chatOfferWaiter = null;
      resolve(null);
    }, ms);
    chatOfferWaiter = (o) => {
      clearTimeout(timer);
      resolve(o);
    };
  });
}

/** Accept, end and wrap up: the agent's chat slot is free again (the service closes the chat). */
async function handle(agent: Agent, offer: OfferPayload): Promise<boolean> {
  const accepted = await emitAck(agent.socket, 'offer:accept', { offerId: offer.offerId });
  if (!accepted.ok) return false;
  const interactionId = offer.interaction.id;
  const ended = await emitAck(agent.socket, 'interaction:end', { interactionId });
  const wrapped = await emitAck(agent.socket, 'interaction:wrapup', { interactionId, disposition: 'bench' });
  return ended.ok && wrapped.ok;
}

let probe: { socket: VisitorSocket; widget: string } | null = null;
let sample = 0;

async function probeVisitor(url: string, widget: string): Promise<VisitorSocket> {
  if (probe?.widget === widget && probe.socket.connected) return probe.socket;
  probe?.socket.close();
  const { socket } = await connectVisitor(url, { widget });
  probe = { socket, widget };
  return socket;
}

const gap = () => sleep(20 + Math.random() * 30);

// Baseline clients (bench/baselines/socket-relay.ts).
let baseline: { agents: Socket[]; probe: Socket; free: Socket } | null = null;

serveWorker({
  async connect(p: { url: string; agents: Array<{ id: string; token: string }>; probeAgent: { id: string; token: string } }) {
    await mapLimit(p.agents, 50, async (a) => {
      const agent: Agent = { id: a.id, socket: await connectAgent(p.url, a.token) };
      agent.socket.on('offer', (o) => onBlendedOffer(agent, o));
      blended.set(a.id, agent);
    });
    probeAgent = { id: p.probeAgent.id, socket: await connectAgent(p.url, p.probeAgent.token) };
    const away = await emitAck(probeAgent.socket, 'state:set', { state: 'away', reason: 'bench' });
    if (!away.ok) throw new Error(`probe agent away: ${JSON.stringify(away)}`);
    return { connected: blended.size + 1 };
  },

  async available() {
    const acks = await mapLimit([...blended.values()], 20, (a) => emitAck(a.socket, 'state:set', { state: 'available' }));
    return { ok: acks.filter((a) => a.ok).length };
  },

  async counts() {
    return { held, unexpected, acceptFailed, acceptFailures, acceptRetries, connected: [...blended.values()].filter((a) => a.socket.connected).length + (probeAgent?.socket.connected ? 1 : 0) };
  },

  /** Enqueue → offer, `samples` times: send on the probe chat, time the offer's arrival. */
  async measureEnqueue(p: { url: string; widget: string; samples: number; timeoutMs: number }) {
    const socket = await probeVisitor(p.url, p.widget);
    const offerMs: number[] = [];
    const ackMs: number[] = [];
    const marks: Mark[] = [];
    let missed = 0;
    for (let k = 0; k < p.samples; k++) {
      const offered = nextChatOffer(p.timeoutMs);
      const t0 = nowMs();
      const ack = emitAck(socket, 'message', { clientMessageId: `probe-${process.pid}-${sample++}`, text: 'probe: hello, I need help' }).then((r) => ({ r, at: nowMs() }));
      const o = await offered;
      const a = await ack;
      if (!a.r.ok) throw new Error(`probe message: ${JSON.stringify(a.r)}`);
      ackMs.push(a.at - t0);
      if (!o) {
        missed++;
        await emitAck(socket, 'end', {}); // abandon the stranded chat, so it does not sit in the queue
        continue;
      }
      offerMs.push(o.at - t0);
      marks.push({ offerId: o.offer.offerId, sentAt: t0, offerAt: o.at });
      await handle(o.agent, o.offer);
      await gap();
    }
    return { offer: summarize(offerMs), ack: summarize(ackMs), missed, raw: offerMs.map((x) => Math.round(x * 100) / 100), marks };
  },

  /** Available → offer: the probe agent goes available and is offered the head of the backlog; then goes away again. */
  async measureAvailable(p: { samples: number; timeoutMs: number }) {
    const agent = probeAgent!;
    const offerMs: number[] = [];
    const ackMs: number[] = [];
    const marks: Mark[] = [];
    let missed = 0;
    for (let k = 0; k < p.samples; k++) {
      const offered = new Promise<{ at: number; offerId: string } | null>((resolve) => {
        const timer = setTimeout(() => {
          agent.socket.off('offer', on);
          resolve(null);
        }, p.timeoutMs);
        const on = (o: OfferPayload) => {
          clearTimeout(timer);
          agent.socket.off('offer', on);
          resolve({ at: nowMs(), offerId: o.offerId });
        };
        agent.socket.on('offer', on);
      });
      const t0 = nowMs();
      const ack = await emitAck(agent.socket, 'state:set', { state: 'available' });
      const tAck = nowMs();
      if (!ack.ok) throw new Error(`probe agent available: ${JSON.stringify(ack)}`);
      ackMs.push(tAck - t0);
      const o = await offered;
      if (o === null) missed++;
      else {
        offerMs.push(o.at - t0);
        marks.push({ offerId: o.offerId, sentAt: t0, offerAt: o.at });
      }
      const away = await emitAck(agent.socket, 'state:set', { state: 'away', reason: 'bench' });
      if (!away.ok) throw new Error(`probe agent away: ${JSON.stringify(away)}`);
      await gap();
    }
    return { offer: summarize(offerMs), ack: summarize(ackMs), missed, raw: offerMs.map((x) => Math.round(x * 100) / 100), marks };
  },

  /** A chat in a queue of the backlog's own priority: is it offered to a free agent at all, and how fast? */
  async samePriorityProbe(p: { url: string; widget: string; timeoutMs: number }) {
    const { socket } = await connectVisitor(p.url, { widget: p.widget });
    const offered = nextChatOffer(p.timeoutMs);
    const t0 = nowMs();
    await emitAck(socket, 'message', { clientMessageId: `same-${process.pid}-${sample++}`, text: 'same priority probe' });
    const o = await offered;
    if (o) await handle(o.agent, o.offer);
    else await emitAck(socket, 'end', {});
    socket.close();
    return { offered: o !== null, ms: o ? Math.round((o.at - t0) * 100) / 100 : null };
  },

  async close() {
    probe?.socket.close();
    for (const a of blended.values()) a.socket.close();
    probeAgent?.socket.close();
    blended.clear();
    return {};
  },

  // ---- the same two measurements against the bare socket.io + Postgres baseline ----

  async baselineConnect(p: { url: string; agents: number }) {
    const open = (auth: Record<string, string>) =>
      new Promise<Socket>((resolve, reject) => {
        const s = io(p.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth });
        s.once('connect', () => resolve(s));
        s.once('connect_error', reject);
      });
    const agents = await mapLimit(Array.from({ length: p.agents }, (_, k) => k), 50, (k) => open({ id: `agent${k}`, role: 'agent' }));
    baseline = { agents, probe: await open({ id: 'probe' }), free: await open({ id: 'free-agent' }) };
    return { connected: agents.length + 2 };
  },

  async baselineMeasure(p: { waiting: number; samples: number; timeoutMs: number }) {
    const b = baseline!;
    const setup = await emitAck(b.probe, 'acd:setup', { waiting: p.waiting });
    if (!setup.ok) throw new Error(`baseline setup: ${JSON.stringify(setup)}`);
    const nextOffer = (sockets: Socket[]) =>
      new Promise<{ id: string; at: number } | null>((resolve) => {
        const on = (o: { id: string }) => done({ id: o.id, at: nowMs() });
        const done = (v: { id: string; at: number } | null) => {
          clearTimeout(timer);
          for (const s of sockets) s.off('offer', on);
          resolve(v);
        };
        const timer = setTimeout(() => done(null), p.timeoutMs);
        for (const s of sockets) s.on('offer', on);
      });
    const enqueue: number[] = [];
    const available: number[] = [];
    let missed = 0;
    for (let k = 0; k < p.samples; k++) {
      const offered = nextOffer(b.agents);
      const t0 = nowMs();
      await emitAck(b.probe, 'acd:enqueue', {});
      const o = await offered;
      if (!o) missed++;
      else {
        enqueue.push(o.at - t0);
        await emitAck(b.probe, 'acd:release', { id: o.id, requeue: false });
      }
      await gap();
    }
    for (let k = 0; k < p.samples; k++) {
      const offered = nextOffer([b.free]);
      const t0 = nowMs();
      await emitAck(b.free, 'acd:available', { agent: 'free-agent' });
      const o = await offered;
      if (!o) missed++;
      else {
        available.push(o.at - t0);
        await emitAck(b.free, 'acd:release', { id: o.id, requeue: true });
      }
      await gap();
    }
    const r: { enqueue: Summary; available: Summary; missed: number } = { enqueue: summarize(enqueue), available: summarize(available), missed };
    return r;
  },

  async baselineClose() {
    if (baseline) for (const s of [...baseline.agents, baseline.probe, baseline.free]) s.close();
    baseline = null;
    return {};
  },
});
