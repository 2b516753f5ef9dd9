import type { Queryable } from '../platform/db';

/**
 * The interaction event stream's vocabulary. Every channel maps its inbound items to an
 * `IngestCommand`; what is stored and published is a `StoredEvent`.
 */
export const CHANNELS = ['voice', 'sms', 'email', 'chat'] as const;
export type Channel = (typeof CHANNELS)[number];

export type Direction = 'in' | 'out' | 'internal';

export type InteractionState = 'ivr' | 'queued' | 'offered' | 'active' | 'wrapup' | 'closed';

/** Dotted, past-tense names. */
export type EventType =
  | 'interaction.queued'
  | 'interaction.closed'
  | 'interaction.ended'
  | 'interaction.wrappedup'
  | 'interaction.transferred'
  | 'interaction.escalated'
  | 'interaction.requeued'
  | 'offer.created'
  | 'offer.accepted'
  | 'offer.rejected'
  | 'offer.expired'
  | 'offer.revoked'
  | 'call.received'
  | 'call.started'
  | 'call.status'
  | 'call.completed'
  | 'call.agent-dialed'
  | 'call.bridged'
  | 'recording.completed'
  | 'ivr.step'
  | 'message.received'
  | 'message.sent'
  | 'note.added'
  | 'customer.updated'
  | 'customer.merged';

export type IdentityKind = 'phone' | 'email' | 'chat';

export interface Identity {
  kind: IdentityKind;
  value: string;
}

export interface EventPayload {
  text?: string;
  /** Who wrote a message: the customer, an agent (by id), or the system. */
  from?: 'customer' | 'agent' | 'system';
  agentId?: string;
  userId?: string;
  reason?: string;
  [key: string]: unknown;
}

/** An interaction as the caller's transaction locked it, with its customer's root (the customer the event goes to). */
export interface HeldInteraction {
  interaction: InteractionRecord;
  customerRoot: string;
}

/** Where the event belongs. */
export type InteractionTarget =
  /**
   * An interaction that must already exist and still be open. `held`: the caller's transaction
   * has just locked (updated) its row and resolved its customer, so the append reads neither again.
   */
  | { kind: 'existing'; id: string; held?: HeldInteraction }
  /** Continue the open conversation with this natural key, or open a new interaction. */
  | {
      kind: 'conversation';
      key: string;
      open: { id?: string; direction: 'in' | 'out'; entryAddress: string; subject?: string; attributes?: Record<string, unknown>; ivr?: boolean };
    }
  /** A customer-level item with no interaction (a note). */
  | { kind: 'none' };

export type CustomerTarget = { identity: Identity; preferredId?: string } | { id: string };

export interface IngestCommand {
  idempotencyKey: string;
  type: EventType;
  channel: Channel | null;
  direction: Direction;
  occurredAt: Date;
  payload: EventPayload;
  customer: CustomerTarget;
  interaction: InteractionTarget;
  /** Append even if the interaction is closed (a recording that arrives after the hang-up). */
  allowClosed?: boolean;
  /**
   * A state change that must commit together with the event (a profile edit, a merge, an
   * outbox row). It runs inside the ingest transaction, before the event is appended, and may
   * add to the event's payload; throwing rolls both back.
   */
  apply?: (tx: Queryable, ctx: { customerId: string; interaction: InteractionRecord | null }, payload: EventPayload) => Promise<void>;
  /**
   * For an event on an existing interaction: when the interaction has exactly this agent and
   * state, `apply` has nothing to do (no row to write, no rule it would break), so the event may
   * be stored in one statement (see append-statement.ts). Otherwise the transaction with `apply`
   * stores it, or refuses it with apply's own error.
   */
  inOneStatementWhen?: { agentId: string; state: InteractionState };
}

export interface StoredEvent {
  id: string;
  customerId: string;
  interactionId: string | null;
  seq: number | null;
  type: EventType;
  channel: Channel | null;
  direction: Direction;
  payload: EventPayload;
  occurredAt: Date;
}

export interface InteractionRecord {
  id: string;
  customerId: string;
  channel: Channel;
  direction: 'in' | 'out';
  state: InteractionState;
  queueId: string | null;
  agentId: string | null;
  entryPointId: string | null;
  priority: number;
  subject: string | null;
  /** Channel facts that outlive a conversation key (the chat visitor id, for example). */
  attributes: Record<string, unknown>;
  createdAt: Date;
  queuedAt: Date | null;
  closedAt: Date | null;
}

export interface IngestResult {
  duplicate: boolean;
  /** The event the command asked for (the earlier one, when duplicate). */
  event: StoredEvent;
  /** Every event this call appended, in order (empty when duplicate). */
  appended: StoredEvent[];
  interaction: InteractionRecord | null;
  customerId: string;
}
