/**
 * The steps of an append, inside the caller's transaction, written for many commands at once so
 * a single command and a group-committed batch take the same path: conversations locked or opened
 * in one or two statements, events appended in one.
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { AppError } from '../platform/errors';
import { resolveIdentities, type IdentityTarget } from '../customers/resolve';
import { insertEvents } from './events.repository';
import type { Channel, IngestCommand, IngestResult, InteractionRecord, InteractionTarget, StoredEvent } from './events.types';
import { lockOpenConversations, lockOrInsertConversations, type NewConversation } from './interactions.repository';

type ConversationTarget = Extract<InteractionTarget, { kind: 'conversation' }>;

/** A plain message: a conversation item from an identity, with no state change of its own. */
export type MessageCommand = IngestCommand & { channel: Channel; customer: IdentityTarget; interaction: ConversationTarget };

/** Commands that can share a transaction with others (group commit). */
export function isMessageCommand(cmd: IngestCommand): cmd is MessageCommand {
  return !cmd.apply && !cmd.allowClosed && cmd.channel !== null && cmd.interaction.kind === 'conversation' && 'identity' in cmd.customer;
}

/** Thrown inside the transaction to roll it back: these commands' idempotency keys are taken. */
export class KeysTaken extends Error {
  constructor(readonly commands: Set<number>) {
    super('idempotency keys taken');
  }
}

export interface ConversationRequest {
  channel: Channel;
  target: ConversationTarget;
  customerId: string;
  now: Date;
}

/**
 * Lock each request's open conversation, opening the ones that are not open (in one statement).
 * `opened` is true for the first request of a key that this call opened. A conversation another
 * writer opened meanwhile is waited for and continued.
 */
export async function lockOrOpenConversations(
  tx: PoolClient,
  requests: ConversationRequest[],
): Promise<Array<{ interaction: InteractionRecord; opened: boolean }>> {
  const byKey = new Map<string, NewConversation>();
  for (const r of requests) {
    if (byKey.has(r.target.key)) continue;
    const { open } = r.target;
    byKey.set(r.target.key, {
      id: open.id ?? randomUUID(),
      customerId: r.customerId,
      channel: r.channel,
      direction: open.direction,
      conversationKey: r.target.key,
      entryAddress: open.entryAddress,
      ivr: open.ivr ?? false,
      subject: open.subject ?? null,
      attributes: open.attributes ?? {},
      now: r.now,
    });
  }
  const { found, opened } = await lockOrInsertConversations(tx, [...byKey.values()]);
  const raced = [...byKey.keys()].filter((key) => !found.has(key) && !opened.has(key));
  if (raced.length > 0) for (const [key, i] of await lockOpenConversations(tx, raced)) found.set(key, i);

  const reported = new Set<string>();
  return requests.map((r) => {
    const mine = opened.get(r.target.key);
    if (mine) {
      const first = !reported.has(r.target.key);
      reported.add(r.target.key);
      return { interaction: mine, opened: first };
    }
    const theirs = found.get(r.target.key);
    if (!theirs) throw new AppError('SB_CONFLICT', 'conversation changed concurrently; retry');
    return { interaction: theirs, opened: false };
  });
}

type EventFields = Pick<IngestCommand, 'idempotencyKey' | 'type' | 'direction' | 'payload'>;

/** The event a command appends (or one it implies, such as `#queued`), before it is stored. */
export function newEvent(cmd: IngestCommand, interaction: InteractionRecord | null, customerId: string, what: EventFields = cmd) {
  return {
    customerId,
    interactionId: interaction?.id ?? null,
    type: what.type,
    channel: cmd.channel,
    direction: what.direction,
    idempotencyKey: what.idempotencyKey,
    payload: what.payload,
    occurredAt: cmd.occurredAt,
  };
}

/** A conversation that opened into a queue says so first: the router's cue. */
export function queuedEvent(cmd: IngestCommand, opened: InteractionRecord, customerId: string) {
  return newEvent(cmd, opened, customerId, {
    idempotencyKey: `${cmd.idempotencyKey}#queued`,
    type: 'interaction.queued',
    direction: 'internal',
    payload: { queueId: opened.queueId, entryPointId: opened.entryPointId },
  });
}

/**
 * Plain messages (idempotency keys distinct) in one go: their customers resolved in one or two
 * statements, their conversations locked or opened in one or two, every event appended in one.
 * Throws KeysTaken, naming the commands, when any key is already stored.
 */
export async function appendMessages(tx: PoolClient, cmds: MessageCommand[]): Promise<IngestResult[]> {
  const customers = await resolveIdentities(tx, cmds.map((c) => c.customer));
  const conversations = await lockOrOpenConversations(
    tx,
    cmds.map((c, i) => ({ channel: c.channel, target: c.interaction, customerId: customers[i]!, now: c.occurredAt })),
  );
  const events: Array<ReturnType<typeof newEvent>> = [];
  const owner: number[] = [];
  cmds.forEach((cmd, i) => {
    const { interaction, opened } = conversations[i]!;
    if (opened && interaction.state === 'queued') {
      events.push(queuedEvent(cmd, interaction, customers[i]!));
      owner.push(i);
    }
    events.push(newEvent(cmd, interaction, customers[i]!));
    owner.push(i);
  });
  const stored = await insertEvents(tx, events);
  const taken = new Set(owner.filter((_, e) => !stored[e]));
  if (taken.size > 0) throw new KeysTaken(taken);

  const appended: StoredEvent[][] = cmds.map(() => []);
  stored.forEach((e, n) => appended[owner[n]!]!.push(e!));
  return cmds.map((_, i) => ({
    duplicate: false,
    event: appended[i]![appended[i]!.length - 1]!,
    appended: appended[i]!,
    interaction: conversations[i]!.interaction,
    customerId: customers[i]!,
  }));
}
