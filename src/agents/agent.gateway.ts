/**
 * The `/agent` namespace (an agent's console) and the `/supervisor` front door. Agents set
 * their state, receive offers with a screen pop, accept or reject them, and work their
 * interactions; every client event is acknowledged with the result or an error.
 */
import type { Namespace, Server, Socket } from 'socket.io';
import { AppError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import { connectError, handle, staffAuth } from '../platform/sockets';
import type { StaffClaims, TokenService } from '../platform/auth/tokens';
import type { EventPublisher } from '../interactions/publisher';
import { toChatMessage, toHistoryItem, withUnseen } from '../interactions/history.mapper';
import { POP_HISTORY, readScreenPop, type ScreenPopRecord } from './screen-pop.repository';
import type { StoredEvent } from '../interactions/events.types';
import type { AgentNotifier, RevokeReason } from '../routing/acd.context';
import type { CreatedOffer } from '../routing/offers.repository';
import type { OffersService } from '../routing/offers.service';
import type { AgentClientToServer, AgentServerToClient, OfferPayload } from './agent.types';
import type { AgentStateService } from './agent-state.service';
import type { WorkService } from './work.service';
import type { Presence } from './presence';
import { parseInteractionRef, parseOfferRef, parseReply, parseStateSet, parseTransfer, parseWrapup, type Parsed } from './agent.mapper';

export const agentRoom = (agentId: string): string => `agent:${agentId}`;

type AgentSocket = Socket<AgentClientToServer, AgentServerToClient, Record<string, never>, { user: StaffClaims }>;
type AgentNamespace = Namespace<AgentClientToServer, AgentServerToClient, Record<string, never>, { user: StaffClaims }>;

export interface AgentGatewayDeps {
  io: Server;
  db: import('pg').Pool;
  tokens: TokenService;
  metrics: Metrics;
  log: Logger;
  publisher: EventPublisher;
  offers: OffersService;
  agentState: AgentStateService;
  work: WorkService;
  presence: Presence;
  maxMessageLength: number;
}

function must<T>(r: Parsed<T>): T {
  if (!r.ok) throw new AppError('SB_VALIDATION', r.message);
  return r.value;
}

export function registerAgentGateway(deps: AgentGatewayDeps): AgentNotifier {
  const nsp = deps.io.of('/agent') as unknown as AgentNamespace;
  const log = deps.log.child({ namespace: 'agent' });
  nsp.use(staffAuth(deps.tokens, 'agent') as never);
  nsp.use((socket, next) => {
    if (!socket.data.user.agentId) return next(connectError('SB_FORBIDDEN', 'this user has no agent profile'));
    next();
  });

  nsp.on('connection', (socket: AgentSocket) => {
    deps.metrics.socketConnections.inc({ namespace: 'agent' });
    const agentId = socket.data.user.agentId!;
    void socket.join(agentRoom(agentId));
    deps.presence.connected(agentId);
    const onError = (err: unknown) => log.warn({ err, agentId }, 'agent action failed');

    handle(socket, 'state:set', async (p: unknown) => {
      const { state, reason } = must(parseStateSet(p));
      return { state: await deps.agentState.set(agentId, state, reason, 'agent') };
    }, onError);
    handle(socket, 'offer:accept', async (p: unknown) => {
      const interaction = await deps.offers.accept(agentId, must(parseOfferRef(p)).offerId);
      return { interaction: { ...interaction, createdAt: interaction.createdAt.toISOString() } };
    }, onError);
    handle(socket, 'offer:reject', async (p: unknown) => {
      await deps.offers.reject(agentId, must(parseOfferRef(p)).offerId);
      return {};
    }, onError);
    handle(socket, 'interaction:reply', async (p: unknown) => {
      const r = must(parseReply(p, deps.maxMessageLength));
      const result = await deps.work.reply(agentId, r.interactionId, r.clientMessageId, r.text);
      return { messageId: result.event.id, duplicate: result.duplicate };
    }, onError);
    handle(socket, 'interaction:end', async (p: unknown) => {
      const i = await deps.work.end(agentId, must(parseInteractionRef(p)).interactionId);
      return { state: i.state };
    }, onError);
    handle(socket, 'interaction:wrapup', async (p: unknown) => {
      const w = must(parseWrapup(p));
      const i = await deps.work.wrapup(agentId, w.interactionId, w.disposition, w.notes);
      return { state: i.state };
    }, onError);
    handle(socket, 'interaction:transfer', async (p: unknown) => {
      const t = must(parseTransfer(p));
      const i = await deps.work.transfer({ agentId, supervisor: false }, t.interactionId, { queueId: t.queueId });
      return { state: i.state, queueId: i.queueId };
    }, onError);

    void resume(socket, agentId).catch((err) => log.warn({ err, agentId }, 'agent session resume failed'));
  });

  /** A (re)connecting console gets its state, the work it holds, and every offer still pending for it. */
  async function resume(socket: AgentSocket, agentId: string): Promise<void> {
    const { rows } = await deps.db.query<{ state: string; state_reason: string | null }>('SELECT state, state_reason FROM agents WHERE id = $1', [agentId]);
    if (rows[0]) socket.emit('state', { state: rows[0].state, reason: rows[0].state_reason });
    const held = await deps.db.query<{ id: string; state: string }>(
      `SELECT id, state FROM interactions WHERE agent_id = $1 AND state IN ('active', 'wrapup') ORDER BY accepted_at`,
      [agentId],
    );
    for (const h of held.rows) socket.emit('interaction:state', { interactionId: h.id, state: h.state });
    const pending = await deps.db.query<{ id: string; interaction_id: string; customer_id: string; agent_id: string; queue_id: string | null; channel: CreatedOffer['channel']; expires_at: Date; created_at: Date }>(
      `SELECT o.id, o.interaction_id, i.customer_id, o.agent_id, o.queue_id, o.channel, o.expires_at, o.created_at
         FROM offers o JOIN interactions i ON i.id = o.interaction_id
        WHERE o.agent_id = $1 AND o.state = 'pending' AND o.expires_at > clock_timestamp()`,
      [agentId],
    );
    for (const o of pending.rows) {
      const payload = await screenPop({ id: o.id, interactionId: o.interaction_id, customerId: o.customer_id, agentId: o.agent_id, queueId: o.queue_id, channel: o.channel, expiresAt: o.expires_at, createdAt: o.created_at });
      if (payload) socket.emit('offer', payload);
    }
  }

  /**
   * The screen pop: read now, or from a read started before the offer's transaction committed,
   * with the events that transaction appended (which that read could not see yet).
   */
  async function screenPop(o: CreatedOffer, started?: Promise<ScreenPopRecord | null>, appended: StoredEvent[] = []): Promise<OfferPayload | null> {
    // An early read that failed, or found what only this transaction wrote, is done again now.
    const early = started && (await started);
    const read = early && early.interaction && early.customer ? early : await readScreenPop(deps.db, o, POP_HISTORY);
    const { interaction: i, customer, script } = read;
    if (!i || !customer) return null;
    const history = withUnseen(read.history.map(toHistoryItem), appended.filter((e) => e.customerId === customer.id), POP_HISTORY);
    const lastIn = history.find((h) => h.interactionId === i.id && h.type === 'message.received');
    return {
      offerId: o.id,
      expiresAt: o.expiresAt.toISOString(),
      interaction: { id: i.id, channel: i.channel, queueId: i.queueId, ...(i.subject ? { subject: i.subject } : {}), ...(lastIn?.text ? { preview: lastIn.text.slice(0, 200) } : {}) },
      customer: {
        id: customer.id,
        ...(customer.name ? { name: customer.name } : {}),
        identities: customer.identities,
        attributes: customer.attributes,
        tags: customer.tags,
        recentHistory: history,
      },
      ...(script ? { script } : {}),
    };
  }

  // Customer messages (and replies from another tab) reach the owning agent.
  deps.publisher.on((e, interaction) => {
    if (!interaction?.agentId || !['offered', 'active', 'wrapup'].includes(interaction.state)) return;
    const m = toChatMessage(e);
    if (m) nsp.to(agentRoom(interaction.agentId)).emit('interaction:message', { interactionId: m.interactionId, messageId: m.messageId, from: m.from, text: m.text, at: m.at });
  });

  return {
    readScreenPop(o, db) {
      // A failed early read is simply done again after commit.
      return readScreenPop(db ?? deps.db, o, POP_HISTORY).catch(() => null);
    },
    async offer(o, reads, appended) {
      try {
        const payload = await screenPop(o, reads as Promise<ScreenPopRecord | null> | undefined, appended);
        if (payload) nsp.to(agentRoom(o.agentId)).emit('offer', payload);
      } catch (err) {
        log.warn({ err, offerId: o.id }, 'offer push failed; the console gets it on reconnect');
      }
    },
    revoked(agentId: string, offerId: string, reason: RevokeReason) {
      nsp.to(agentRoom(agentId)).emit('offer:revoked', { offerId, reason });
    },
    agentState(agentId, state, reason) {
      nsp.to(agentRoom(agentId)).emit('state', { state, reason });
    },
    interactionChanged(agentId, interactionId, state) {
      nsp.to(agentRoom(agentId)).emit('interaction:state', { interactionId, state });
    },
  };
}
