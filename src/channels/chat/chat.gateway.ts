/**
 * The `/chat` namespace: visitors get a resumable token, every message is acknowledged only
 * after it is committed, retries with the same clientMessageId land once, and a reconnecting
 * visitor is replayed what it missed from Postgres.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { Namespace, Server, Socket } from 'socket.io';
import { AppError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import type { Metrics } from '../../platform/metrics';
import { connectError, handle } from '../../platform/sockets';
import type { TokenService } from '../../platform/auth/tokens';
import type { IngestService } from '../../interactions/ingest.service';
import type { EventPublisher } from '../../interactions/publisher';
import type { StoredEvent } from '../../interactions/events.types';
import { listInteractionMessagesAfter } from '../../interactions/events.repository';
import { findInteraction } from '../../interactions/interactions.repository';
import { findRootId } from '../../customers/customers.repository';
import { toChatMessage } from '../../interactions/history.mapper';
import type { ChatClientToServer, ChatHandshakeAuth, ChatServerToClient } from './chat.types';
import { WIDGET_RE, chatConversationKey, chatMessageCommand, parseChatMessage } from './chat.mapper';
import { findOpenConversationId } from './chat.repository';

interface VisitorData {
  visitorId: string;
  customerId: string;
  visitorToken: string;
  widget: string;
  /** The open interaction, or the id the next first message will open. */
  interactionId: string;
  /** Whether `interactionId` is an open conversation (false: not written yet). */
  open: boolean;
}

type ChatSocket = Socket<ChatClientToServer, ChatServerToClient, Record<string, never>, VisitorData>;
type ChatNamespace = Namespace<ChatClientToServer, ChatServerToClient, Record<string, never>, VisitorData>;

/**
 * A visitor's sockets (every tab) share one room, so a conversation opened by one tab reaches
 * the others at once; every message names its interactionId. The room follows the visitor, not
 * the customer, so a merge does not cut a chat off.
 */
export const chatRoom = (visitorId: string): string => `chat:${visitorId}`;

export interface ChatDeps {
  io: Server;
  db: Pool;
  tokens: TokenService;
  ingest: IngestService;
  publisher: EventPublisher;
  log: Logger;
  metrics: Metrics;
  maxMessageLength: number;
  /** The visitor left: abandon waiting work, or start the agent's wrap-up. */
  customerLeft: (interactionId: string) => Promise<void>;
}

export function registerChatGateway(deps: ChatDeps): ChatNamespace {
  const nsp = deps.io.of('/chat') as ChatNamespace;
  const log = deps.log.child({ channel: 'chat' });

  nsp.use((socket, next) => {
    const auth = (socket.handshake.auth ?? {}) as ChatHandshakeAuth;
    const widget = auth.widget ?? '*';
    if (typeof widget !== 'string' || !WIDGET_RE.test(widget)) return next(connectError('SB_VALIDATION', 'widget is malformed'));
    let visitorId: string;
    let customerId: string;
    let visitorToken: string;
    if (auth.visitorToken !== undefined) {
      const claims = typeof auth.visitorToken === 'string' ? deps.tokens.verifyVisitor(auth.visitorToken) : null;
      if (!claims) return next(connectError('SB_UNAUTHORIZED', 'visitorToken is invalid or expired'));
      ({ sub: visitorId, cid: customerId } = claims);
      visitorToken = auth.visitorToken;
    } else {
      visitorId = randomUUID();
      customerId = randomUUID();
      visitorToken = deps.tokens.signVisitor(visitorId, customerId);
    }
    resumeSession(visitorId, customerId).then(
      ({ interactionId, customerId: root, open }) => {
        socket.data = { visitorId, customerId: root, visitorToken, widget, interactionId, open };
        next();
      },
      (err) => {
        log.warn({ err }, 'chat session lookup failed');
        next(connectError('SB_UNAVAILABLE', 'chat is unavailable; retry later'));
      },
    );
  });

  /** The visitor's open conversation (and who they are now, after merges), or a fresh id. */
  async function resumeSession(visitorId: string, customerId: string): Promise<{ interactionId: string; customerId: string; open: boolean }> {
    const openId = await findOpenConversationId(deps.db, chatConversationKey(visitorId));
    if (!openId) return { interactionId: randomUUID(), customerId: (await findRootId(deps.db, customerId)) ?? customerId, open: false };
    const interaction = await findInteraction(deps.db, openId);
    const root = interaction ? await findRootId(deps.db, interaction.customerId) : null;
    return { interactionId: openId, customerId: root ?? customerId, open: true };
  }

  nsp.on('connection', (socket: ChatSocket) => {
    deps.metrics.socketConnections.inc({ namespace: 'chat' });
    onConnect(socket);
  });

  function onConnect(socket: ChatSocket): void {
    const data = socket.data;
    // Handlers are attached synchronously, before anything is awaited, so no early event is lost.
    void socket.join(chatRoom(data.visitorId));
    socket.emit('session', { visitorToken: data.visitorToken, customerId: data.customerId, interactionId: data.interactionId });
    if (data.open) void replay(socket);

    handle(socket, 'message', async (payload: unknown) => {
      const parsed = parseChatMessage(payload, deps.maxMessageLength);
      if (!parsed.ok) throw new AppError(parsed.code, parsed.message);
      const result = await deps.ingest.ingest(
        chatMessageCommand({
          visitorId: data.visitorId,
          customerId: data.customerId,
          // An open conversation is found by its key; once it has ended (agent, IVR or another tab),
          // the next message needs a fresh id, never the old one.
          pendingInteractionId: data.open ? randomUUID() : data.interactionId,
          widget: data.widget,
          clientMessageId: parsed.value.clientMessageId,
          text: parsed.value.text,
          now: new Date(),
        }),
      );
      const interactionId = result.event.interactionId!;
      if (!result.duplicate) {
        // Another tab of this visitor may have opened the conversation first: follow it.
        data.interactionId = interactionId;
        data.open = true;
      }
      return { messageId: result.event.id, duplicate: result.duplicate, interactionId, seq: result.event.seq };
    }, (err) => log.warn({ err }, 'chat message failed'));

    handle(socket, 'end', async () => {
      const openNow = await findOpenConversationId(deps.db, chatConversationKey(data.visitorId));
      if (openNow) await deps.customerLeft(openNow);
      const next = randomUUID();
      data.interactionId = next;
      data.open = false;
      return { interactionId: openNow ?? null, nextInteractionId: next };
    }, (err) => log.warn({ err }, 'chat end failed'));
  }

  async function replay(socket: ChatSocket): Promise<void> {
    const raw = Number((socket.handshake.auth as ChatHandshakeAuth).lastSeq ?? 0);
    try {
      const missed = await listInteractionMessagesAfter(deps.db, socket.data.interactionId, Number.isFinite(raw) ? raw : 0);
      for (const e of missed) {
        const m = toChatMessage(e);
        if (m) socket.emit('message', m);
      }
    } catch (err) {
      log.warn({ err }, 'chat replay failed');
    }
  }

  deps.publisher.on((e: StoredEvent, interaction) => {
    const visitorId = interaction?.attributes.visitorId;
    if (e.channel !== 'chat' || !e.interactionId || typeof visitorId !== 'string') return;
    const m = toChatMessage(e);
    if (m) nsp.to(chatRoom(visitorId)).emit('message', m);
    else if (e.type === 'interaction.ended' || (e.type === 'interaction.closed' && e.payload.outcome === 'abandoned')) nsp.to(chatRoom(visitorId)).emit('ended', { interactionId: e.interactionId, at: e.occurredAt.toISOString() });
  });

  return nsp;
}
