/** The `/agent` namespace's typed event maps (see API.md). */
import type { ErrorBody } from '../platform/errors';
import type { HistoryItem } from '../interactions/history.mapper';
import type { Identity } from '../interactions/events.types';

type Ack<T extends object = object> = (r: ({ ok: true } & T) | { ok: false; error: ErrorBody }) => void;

export interface OfferPayload {
  offerId: string;
  expiresAt: string;
  interaction: { id: string; channel: string; queueId: string | null; subject?: string; preview?: string };
  customer: { id: string; name?: string; identities: Identity[]; attributes: Record<string, unknown>; tags: string[]; recentHistory: HistoryItem[] };
  /** What agents are shown for this queue's contacts. */
  script?: string;
}

export interface AgentServerToClient {
  offer: (o: OfferPayload) => void;
  'offer:revoked': (r: { offerId: string; reason: 'timeout' | 'abandoned' | 'cancelled' }) => void;
  'interaction:message': (m: { interactionId: string; messageId: string; from: 'customer' | 'agent' | 'system'; text: string; at: string }) => void;
  'interaction:state': (s: { interactionId: string; state: string }) => void;
  state: (s: { state: string; reason: string | null }) => void;
}

export interface AgentClientToServer {
  'state:set': (p: { state: 'available' | 'away' | 'offline'; reason?: string }, ack: Ack<{ state: string }>) => void;
  'offer:accept': (p: { offerId: string }, ack: Ack<{ interaction: unknown }>) => void;
  'offer:reject': (p: { offerId: string }, ack: Ack) => void;
  'interaction:reply': (p: { interactionId: string; clientMessageId: string; text: string }, ack: Ack<{ messageId: string; duplicate: boolean }>) => void;
  'interaction:end': (p: { interactionId: string }, ack: Ack) => void;
  'interaction:wrapup': (p: { interactionId: string; disposition?: string; notes?: string }, ack: Ack) => void;
  'interaction:transfer': (p: { interactionId: string; queueId: string }, ack: Ack) => void;
}
