/** Stored events as the API shows them (pure). */
import type { StoredEvent } from './events.types';

export interface HistoryItem {
  id: string;
  interactionId: string | null;
  channel: StoredEvent['channel'];
  type: StoredEvent['type'];
  direction: StoredEvent['direction'];
  text?: string;
  from?: string;
  at: string;
  seq?: number;
  data?: Record<string, unknown>;
}

export function toHistoryItem(e: StoredEvent): HistoryItem {
  const { text, from, ...rest } = e.payload;
  const item: HistoryItem = {
    id: e.id,
    interactionId: e.interactionId,
    channel: e.channel,
    type: e.type,
    direction: e.direction,
    at: e.occurredAt.toISOString(),
  };
  if (typeof text === 'string') item.text = text;
  if (typeof from === 'string') item.from = from;
  if (e.seq !== null) item.seq = e.seq;
  if (Object.keys(rest).length > 0) item.data = rest;
  return item;
}

/**
 * A page of history (newest first) read before some events were visible to it (the reading
 * transaction's own, not yet committed), with those events put in place: newest first by id, at
 * most `limit`, none twice.
 */
export function withUnseen(items: HistoryItem[], unseen: StoredEvent[], limit: number): HistoryItem[] {
  if (unseen.length === 0) return items.slice(0, limit);
  const byId = new Map(items.map((h) => [h.id, h]));
  for (const e of unseen) if (!byId.has(e.id)) byId.set(e.id, toHistoryItem(e));
  return [...byId.values()].sort((a, b) => (BigInt(b.id) > BigInt(a.id) ? 1 : BigInt(b.id) < BigInt(a.id) ? -1 : 0)).slice(0, limit);
}

export interface ChatMessage {
  messageId: string;
  interactionId: string;
  from: 'customer' | 'agent' | 'system';
  text: string;
  at: string;
  seq: number;
}

export function toChatMessage(e: StoredEvent): ChatMessage | null {
  if ((e.type !== 'message.received' && e.type !== 'message.sent') || !e.interactionId || e.seq === null) return null;
  return {
    messageId: e.id,
    interactionId: e.interactionId,
    from: e.payload.from ?? (e.direction === 'in' ? 'customer' : 'agent'),
    text: e.payload.text ?? '',
    at: e.occurredAt.toISOString(),
    seq: e.seq,
  };
}
