/**
 * The one write path. Every channel, agent action and note becomes an event here: in one
 * transaction the customer is resolved, the interaction opened or continued, and the event
 * appended under its idempotency key; only after commit is anything published, and nothing a
 * sender is told is stored before it is durable (a message's events may be announced to the
 * router once visible, before that: see withReadsBehind). (One event is appended beside it: an
 * offer's `offer.created`, in the claim's own statement, through the same insert,
 * `insertEventsFrom`; see routing/offers.repository.ts.)
 */
import type { Pool, PoolClient } from 'pg';
import type { Config } from '../platform/config';
import { createPool, flushWal, withTransaction } from '../platform/db';
import { AppError, notFound } from '../platform/errors';
import { resolveCustomer } from '../customers/resolve';
import { appendMessages, isMessageCommand, KeysTaken, lockOrOpenConversations, newEvent, queuedEvent, type MessageCommand } from './append';
import { appendEventInOneStatement, appendMessagesInOneStatement, NotInOneStatement } from './append-statement';
import { writeWithReadsBehind, type MessagesWrite, type ReadsBehind } from './reads-behind';
import { Batcher, type Settled } from './batcher';
import { findEventByKey, insertEvents } from './events.repository';
import type { IngestCommand, IngestResult, InteractionRecord, StoredEvent } from './events.types';
import { lockInteraction, lockInteractionWithCustomer } from './interactions.repository';
import type { EventPublisher } from './publisher';

/** Thrown inside the transaction to roll it back when the key turns out to be taken. */
class DuplicateKey extends Error {}

export interface GroupCommitOptions {
  /** Most plain messages stored in one transaction. */
  maxBatch: number;
  /** Most plain-message transactions at once; messages that arrive meanwhile form the next batch. */
  maxInFlight: number;
  /** Told the size of each plain-message transaction (metrics). */
  onBatch?: (size: number) => void;
  /**
   * Told how each write tried in one statement went (metrics, logs), with its messages: stored;
   * declined (another writer, a stored key, another agent or state); or failed with `err`. The
   * last two are then stored step by step.
   */
  onOneStatement?: (outcome: OneStatementOutcome, messages: number, err?: unknown) => void;
}

export type OneStatementOutcome = 'stored' | 'declined' | 'failed';

/**
 * The connections writes in one statement go through (plain messages, chat replies): as many as
 * message transactions may run at once (GroupCommitOptions.maxInFlight, 2; a reply waits for
 * one of them), on generic plans (the statements are equality and index-order lookups; planned
 * afresh, they cost more than they ran).
 */
export const createMessagePool = (config: Config): Pool => createPool(config, { max: 2, genericPlans: true });

const settle = <T>(p: Promise<T>): Promise<Settled<T>> => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));

export class IngestService {
  private readonly messages: Batcher<MessageCommand, IngestResult>;
  /**
   * Writes tried in one statement so far (plain messages, and events that name
   * `inOneStatementWhen`, such as a chat reply), by outcome: stored; left to the step-by-step
   * path (another writer, a stored key, another agent or state); or failed (an error, which that
   * path meets again or not).
   */
  readonly oneStatement: Record<OneStatementOutcome, number> = { stored: 0, declined: 0, failed: 0 };
  private readonly onOneStatement: NonNullable<GroupCommitOptions['onOneStatement']>;
  /**
   * Messages whose statement committed without waiting for the WAL, announced (the routing pass
   * for them triggered) before the flush sent behind them was answered (see withReadsBehind).
   */
  announcedBeforeFlush = 0;
  /**
   * Set by the router, and asked right before messages that may open conversations are sent:
   * the reads a routing pass for the work they may queue would begin with, to send right behind
   * them (RouterService.readsBehind), or null when it would send none now.
   */
  readsBehindMessages: (() => ReadsBehind | null) | null = null;

  /**
   * `messagePool`: where writes in one statement run (see createMessagePool; by default
   * `pool`). Everything else, and what those statements cannot store, goes through `pool` in
   * transactions.
   */
  constructor(
    private readonly pool: Pool,
    private readonly publisher: EventPublisher,
    groupCommit: Partial<GroupCommitOptions> = {},
    private readonly messagePool: Pool = pool,
  ) {
    this.messages = new Batcher({ maxBatch: 64, maxInFlight: 2, ...groupCommit, run: (cmds) => this.storeMessages(cmds) });
    this.onOneStatement = groupCommit.onOneStatement ?? (() => undefined);
  }

  /** Group commit so far: transactions of plain messages and the messages in them. */
  get groupCommitStats(): Readonly<{ batches: number; items: number; largest: number }> {
    return this.messages.stats;
  }

  /**
   * Plain messages (see `isMessageCommand`) are group-committed: those that arrive while earlier
   * ones are being stored share one transaction, with the same guarantees (every message's
   * writes commit together, and nothing is acknowledged or published before its commit). A
   * command that names `inOneStatementWhen` (a chat reply) is tried in one statement first.
   */
  async ingest(cmd: IngestCommand): Promise<IngestResult> {
    if (isMessageCommand(cmd)) return this.messages.submit(cmd);
    if (cmd.inOneStatementWhen) {
      const result = await this.inOneStatement(1, () => appendEventInOneStatement(this.messagePool, cmd));
      if (result) {
        await this.publish(result);
        return result;
      }
    }
    return this.ingestOne(cmd);
  }

  /** Run a one-statement write, counting how it went: its result, or null when it stored nothing. */
  private async inOneStatement<T>(messages: number, write: () => Promise<T>): Promise<T | null> {
    try {
      const result = await write();
      this.counted('stored', messages);
      return result;
    } catch (err) {
      this.counted(err instanceof NotInOneStatement ? 'declined' : 'failed', messages, err);
      return null;
    }
  }

  /**
   * One command in its own transaction. The idempotency key is decided by the event insert
   * itself: a duplicate rolls the whole transaction back and answers with the event stored
   * first. A write refused for a rule (a closed interaction, say) is also answered as a
   * duplicate when its key was stored before, so a retry after success never turns into an
   * error. Commands with an `apply` step are checked before the transaction as well, so a known
   * retry never runs their step at all; plain messages skip that extra round trip.
   */
  private async ingestOne(cmd: IngestCommand): Promise<IngestResult> {
    if (cmd.apply) {
      const earlier = await findEventByKey(this.pool, cmd.idempotencyKey);
      if (earlier) return this.duplicateOf(earlier, cmd);
    }
    let result: IngestResult;
    try {
      result = await withTransaction(this.pool, (tx) => this.appendWithin(tx, cmd), { genericPlans: isMessageCommand(cmd) });
    } catch (err) {
      if (!(err instanceof DuplicateKey) && !(err instanceof AppError)) throw err;
      const winner = await findEventByKey(this.pool, cmd.idempotencyKey);
      if (winner) return this.duplicateOf(winner, cmd);
      if (err instanceof DuplicateKey) throw new AppError('SB_CONFLICT', 'concurrent write; retry');
      throw err;
    }
    await this.publish(result);
    return result;
  }

  /**
   * Plain messages, the ones that arrived together. First in one statement of their own (see
   * append-statement.ts): it stores all of them or none. When it stores none (an identity or a
   * conversation another writer is creating at the same moment, a key stored already, or any
   * error), the step-by-step path below stores them, with the same guarantees.
   */
  private async storeMessages(cmds: MessageCommand[]): Promise<Array<Settled<IngestResult>>> {
    if (cmds.length === 0) return [];
    if (new Set(cmds.map((c) => c.idempotencyKey)).size === cmds.length) {
      const results = await this.inOneStatement(cmds.length, () => this.withReadsBehind(cmds, (db, named, opts) => appendMessagesInOneStatement(db, named, opts)));
      if (results) {
        await this.publish(...results);
        return results.map((value) => ({ ok: true as const, value }));
      }
    }
    return this.storeMessagesInTurn(cmds);
  }

  /**
   * Run a one-statement write of messages with the reads `readsBehindMessages` asks for right
   * behind it (see writeWithReadsBehind): announced once visible when it did not wait for the
   * WAL, and answered once durable.
   */
  private withReadsBehind(cmds: MessageCommand[], write: MessagesWrite): Promise<IngestResult[]> {
    const ask = this.readsBehindMessages;
    if (!ask) return write(this.messagePool, cmds, {});
    return writeWithReadsBehind(cmds, write, {
      pool: this.messagePool,
      ask,
      visible: (results) => {
        this.announcedBeforeFlush += results.length;
        this.publisher.announce(results.flatMap((r) => r.appended));
      },
      fallback: this.pool,
    });
  }

  private counted(outcome: OneStatementOutcome, messages: number, err?: unknown): void {
    this.oneStatement[outcome] += messages;
    this.onOneStatement(outcome, messages, err);
  }

  /**
   * A batch of plain messages in one transaction, step by step. A key repeated within the
   * batch, and any message whose key turns out to be stored already, is taken out and answered
   * on its own (as the duplicate it is) once the rest has committed; if the batch fails for any
   * other reason, every message is retried on its own, so one bad message never fails the others.
   */
  private async storeMessagesInTurn(cmds: MessageCommand[], retried = false): Promise<Array<Settled<IngestResult>>> {
    if (cmds.length === 0) return [];
    if (cmds.length === 1) return [await settle(this.ingestOne(cmds[0]!))];
    const seen = new Set<string>();
    const batch: number[] = [];
    const alone: number[] = [];
    cmds.forEach((c, i) => {
      (seen.has(c.idempotencyKey) ? alone : batch).push(i);
      seen.add(c.idempotencyKey);
    });
    const out: Array<Settled<IngestResult>> = new Array(cmds.length);
    try {
      const results = await withTransaction(this.pool, (tx) => appendMessages(tx, batch.map((i) => cmds[i]!)), { genericPlans: true });
      await this.publish(...results);
      results.forEach((result, n) => (out[batch[n]!] = { ok: true, value: result }));
    } catch (err) {
      if (err instanceof KeysTaken && !retried) {
        const rest = batch.filter((_, n) => !err.commands.has(n));
        alone.push(...batch.filter((_, n) => err.commands.has(n)));
        const settled = await this.storeMessagesInTurn(rest.map((i) => cmds[i]!), true);
        rest.forEach((i, n) => (out[i] = settled[n]!));
      } else {
        alone.push(...batch);
      }
    }
    await Promise.all(alone.map(async (i) => (out[i] = await settle(this.ingestOne(cmds[i]!)))));
    return out;
  }

  /** Publish what `appendWithin` calls appended, in order, once their transaction has committed. */
  async publish(...results: IngestResult[]): Promise<void> {
    await this.publisher.publishAll(results.map((r) => ({ events: r.appended, interaction: r.interaction })));
  }

  /**
   * The answer to a write whose key was stored before, once that store is durable. A plain
   * message's may have been made by a statement that did not wait for the WAL (see
   * withReadsBehind) and whose flush is still on its way, and the answer tells the sender it is
   * stored; no other write is stored so.
   */
  private async duplicateOf(event: StoredEvent, cmd: IngestCommand): Promise<IngestResult> {
    if (isMessageCommand(cmd)) await flushWal(this.pool);
    return { duplicate: true, event, appended: [], interaction: null, customerId: event.customerId };
  }

  /**
   * The same write inside a caller's transaction (routing decisions that change several rows
   * and append their events atomically). The caller commits, then calls `publish`.
   */
  async appendWithin(tx: PoolClient, cmd: IngestCommand): Promise<IngestResult> {
    const events: Array<ReturnType<typeof newEvent>> = [];
    let interaction: InteractionRecord | null = null;
    let customerId: string;

    if (cmd.interaction.kind === 'existing') {
      // The usual case, an event on a known interaction of a known customer: one round trip for both.
      if (cmd.interaction.held && cmd.interaction.held.interaction.id !== cmd.interaction.id) throw new Error('held interaction is not the target');
      const locked = cmd.interaction.held ?? ('id' in cmd.customer ? await lockInteractionWithCustomer(tx, cmd.interaction.id, cmd.customer.id) : null);
      customerId = locked?.customerRoot ?? (await resolveCustomer(tx, cmd.customer));
      interaction = locked?.interaction ?? (await lockInteraction(tx, cmd.interaction.id));
      if (!interaction) throw notFound('interaction', cmd.interaction.id);
      if (interaction.state === 'closed' && !cmd.allowClosed) throw new AppError('SB_INTERACTION_CLOSED', `interaction ${interaction.id} is closed`);
    } else {
      customerId = await resolveCustomer(tx, cmd.customer);
    }
    if (cmd.interaction.kind === 'conversation') {
      if (!cmd.channel) throw new AppError('SB_VALIDATION', 'a conversation needs a channel');
      const [conversation] = await lockOrOpenConversations(tx, [{ channel: cmd.channel, target: cmd.interaction, customerId, now: cmd.occurredAt }]);
      interaction = conversation!.interaction;
      if (conversation!.opened && interaction.state === 'queued') events.push(queuedEvent(cmd, interaction, customerId));
    }

    const payload = { ...cmd.payload };
    if (cmd.apply) await cmd.apply(tx, { customerId, interaction }, payload);
    events.push(newEvent(cmd, interaction, customerId, { ...cmd, payload }));
    const appended = await insertEvents(tx, events);
    if (appended.some((e) => !e)) throw new DuplicateKey();
    return { duplicate: false, event: appended[appended.length - 1]!, appended: appended as StoredEvent[], interaction, customerId };
  }
}
