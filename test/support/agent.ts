/** A real socket.io client on /agent, recording everything the server pushes. */
import { io as ioClient, type Socket } from 'socket.io-client';
import type { OfferPayload } from '../../src/agents/agent.types';
import { bearer, login, type TestApp } from './app';

export interface AgentClient {
  socket: Socket;
  agentId: string;
  /** The agent's bearer token, for REST calls as this agent. */
  token: string;
  offers: OfferPayload[];
  revoked: Array<{ offerId: string; reason: string }>;
  messages: Array<{ interactionId: string; messageId: string; from: string; text: string }>;
  states: Array<{ state: string; reason: string | null }>;
  emit(event: string, payload: unknown): Promise<any>;
  /**
   * The first offer that no earlier call returned, waiting for it if it has not arrived. One that
   * arrived before this call counts: a push can beat the ack of whatever caused it (a customer's
   * message, say), since the two go to different sockets.
   */
  nextOffer(ms?: number): Promise<OfferPayload>;
  close(): void;
}

export async function agentClient(url: string, token: string, agentId: string, opts: { reconnection?: boolean } = {}): Promise<AgentClient> {
  const socket = ioClient(`${url}/agent`, { auth: { token }, transports: ['websocket'], reconnection: opts.reconnection ?? false, forceNew: true });
  let returned = 0;
  const client: AgentClient = {
    socket,
    agentId,
    token,
    offers: [],
    revoked: [],
    messages: [],
    states: [],
    emit: (event, payload) => socket.timeout(15000).emitWithAck(event, payload),
    nextOffer(ms = 5000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          if (client.offers.length <= returned) return false;
          clearTimeout(timer);
          socket.off('offer', check);
          resolve(client.offers[returned++]!);
          return true;
        };
        const timer = setTimeout(() => {
          socket.off('offer', check);
          reject(new Error(`no offer for agent ${agentId} within ${ms}ms`));
        }, ms);
        if (!check()) socket.on('offer', check);
      });
    },
    close: () => socket.disconnect(),
  };
  socket.on('offer', (o) => client.offers.push(o));
  socket.on('offer:revoked', (r) => client.revoked.push(r));
  socket.on('interaction:message', (m) => client.messages.push(m));
  socket.on('state', (s) => client.states.push(s));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return client;
}

let counter = 0;

/** Create an agent over REST (as an admin would), log in, and connect its console. */
export async function createAgent(
  t: TestApp,
  queueIds: string[],
  extra: { skills?: Record<string, number>; capacity?: Record<string, number>; wrapupSeconds?: number; name?: string } = {},
): Promise<AgentClient> {
  const username = `agent${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/agents',
    headers: bearer(t.adminToken),
    payload: { name: extra.name ?? username, username, password: 'agent-password', queueIds, skills: extra.skills, capacity: extra.capacity, wrapupSeconds: extra.wrapupSeconds },
  });
  if (res.statusCode !== 201) throw new Error(`agent: ${res.body}`);
  const token = await login(t.app, username, 'agent-password');
  return agentClient(t.url, token, res.json().id);
}

export async function createQueue(t: TestApp, body: Record<string, unknown>): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/api/queues', headers: bearer(t.adminToken), payload: body });
  if (res.statusCode !== 201) throw new Error(`queue: ${res.body}`);
  return res.json().id;
}

export async function chatEntry(t: TestApp, widget: string, queueId: string): Promise<void> {
  const res = await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'chat', address: widget, queueId } });
  if (res.statusCode >= 300) throw new Error(`entry point: ${res.body}`);
}
