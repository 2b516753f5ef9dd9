/**
 * Chat inbound mapping (pure): validate what a visitor sent and turn it into an IngestCommand.
 */
import type { IngestCommand } from '../../interactions/events.types';

export type Parsed<T> = { ok: true; value: T } | { ok: false; code: 'SB_VALIDATION' | 'SB_MESSAGE_TOO_LONG'; message: string };

const CLIENT_ID_RE = /^[\x21-\x7e]{1,100}$/;

export function parseChatMessage(payload: unknown, maxLength: number): Parsed<{ clientMessageId: string; text: string }> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return { ok: false, code: 'SB_VALIDATION', message: 'message must be an object {clientMessageId, text}' };
  }
  const { clientMessageId, text } = payload as Record<string, unknown>;
  if (typeof clientMessageId !== 'string' || !CLIENT_ID_RE.test(clientMessageId)) {
    return { ok: false, code: 'SB_VALIDATION', message: 'clientMessageId must be a string of 1-100 printable characters' };
  }
  if (typeof text !== 'string') return { ok: false, code: 'SB_VALIDATION', message: 'text must be a string' };
  if (text.trim().length === 0) return { ok: false, code: 'SB_VALIDATION', message: 'text must not be empty' };
  if (text.length > maxLength) return { ok: false, code: 'SB_MESSAGE_TOO_LONG', message: `text is longer than ${maxLength} characters` };
  return { ok: true, value: { clientMessageId, text } };
}

export const WIDGET_RE = /^(\*|[A-Za-z0-9._-]{1,64})$/;

export const chatConversationKey = (visitorId: string): string => `chat:${visitorId}`;

export function chatMessageCommand(args: {
  visitorId: string;
  customerId: string;
  pendingInteractionId: string;
  widget: string;
  clientMessageId: string;
  text: string;
  now: Date;
}): IngestCommand {
  return {
    idempotencyKey: `chat:${args.visitorId}:msg:${args.clientMessageId}`,
    type: 'message.received',
    channel: 'chat',
    direction: 'in',
    occurredAt: args.now,
    payload: { text: args.text, from: 'customer' },
    customer: { identity: { kind: 'chat', value: args.visitorId }, preferredId: args.customerId },
    interaction: {
      kind: 'conversation',
      key: chatConversationKey(args.visitorId),
      open: { id: args.pendingInteractionId, direction: 'in', entryAddress: args.widget, attributes: { visitorId: args.visitorId } },
    },
  };
}
