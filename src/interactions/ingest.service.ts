/**
 * The one write path. Every channel, agent action and note becomes an event here: in one
 * transaction the customer is resolved, the interaction opened or continued, and the event
 * appended under its idempotency key; only after commit is anything published.
 */
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '../platform/db';
import { AppError, notFound } from '../platform/errors';
import { resolveCustomer } from '../customers/resolve';
import { findEventByKey, insertEvent, insertSequencedEvent } from './events.repository';
import type { IngestCommand, IngestResult, InteractionRecord, StoredEvent } from './events.types';
import {
  insertConversation,
  lockInteraction,
  lockOpenConversation,
  matchEntryPoint,
} from './interactions.repository';
import type { EventPublisher } from './publisher';

/** Thrown inside the transaction to roll it back when the key turns out to be taken. */
class DuplicateKey extends Error {}

export class IngestService {
  constructor(
    private readonly pool: Pool,
    private readonly publisher: EventPublisher,
  ) {}

  /**
   * The idempotency key is decided by the event insert itself: a duplicate rolls the whole
   * transaction back and answers with the event stored first. A write refused for a rule (a
   * closed interaction, say) is also answered as a duplicate when its key was stored before, so
   * a retry after success never turns into an error. Commands with an `apply` step are checked
   * before the transaction as well, so a known retry never runs their step at all; plain
   * messages (the hot path) skip that extra round trip.
   */
  async ingest(cmd: IngestCommand): Promise<IngestResult> {
    if (cmd.apply) {
      const earlier = await findEventByKey(this.pool, cmd.idempotencyKey);
      if (earlier) return this.duplicateOf(earlier);
    }
    let result: IngestResult;
    try {
      result = await withTransaction(this.pool, (tx) => this.appendWithin(tx, cmd));
    } catch (err) {
      if (!(err instanceof DuplicateKey) && !(err instanceof AppError)) throw err;
      const winner = await findEventByKey(this.pool, cmd.idempotencyKey);
      if (winner) return this.duplicateOf(winner);
      if (err instanceof DuplicateKey) throw new AppError('SB_CONFLICT', 'concurrent write; retry');
      throw err;
    }
    await this.publish(result);
    return result;
  }

  /** Publish what an `appendWithin` call appended, once its transaction has committed. */
  async publish(result: IngestResult): Promise<void> {
    await this.publisher.publish(result.appended, result.interaction);
  }

  private duplicateOf(event: StoredEvent): IngestResult {
    return { duplicate: true, event, appended: [], interaction: null, customerId: event.customerId };
  }

  /**
   * The same write inside a caller's transaction (routing decisions that change several rows
   * and append their events atomically). The caller commits, then calls `publish`.
   */
  async appendWithin(tx: PoolClient, cmd: IngestCommand): Promise<IngestResult> {
    const customerId = await resolveCustomer(tx, cmd.customer);
    const appended: StoredEvent[] = [];
    let interaction: InteractionRecord | null = null;

    if (cmd.interaction.kind === 'existing') {
      interaction = await lockInteraction(tx, cmd.interaction.id);
      if (!interaction) throw notFound('interaction', cmd.interaction.id);
      if (interaction.state === 'closed' && !cmd.allowClosed) throw new AppError('SB_INTERACTION_CLOSED', `interaction ${interaction.id} is closed`);
    } else if (cmd.interaction.kind === 'conversation') {
      if (!cmd.channel) throw new AppError('SB_VALIDATION', 'a conversation needs a channel');
      const { key, open } = cmd.interaction;
      interaction = await lockOpenConversation(tx, key);
      if (!interaction) {
        const entry = await matchEntryPoint(tx, cmd.channel, open.entryAddress);
        const opened = await insertConversation(tx, {
          id: open.id,
          customerId,
          channel: cmd.channel,
          direction: open.direction,
          // A contact that enters through an IVR flow waits in the flow, not in a queue, until the flow enqueues it.
          state: open.direction === 'out' ? 'active' : open.ivr && entry?.flowId ? 'ivr' : 'queued',
          queueId: entry?.queueId ?? null,
          entryPointId: entry?.id ?? null,
          conversationKey: key,
          priority: 0,
          subject: open.subject ?? null,
          attributes: open.attributes ?? {},
          now: cmd.occurredAt,
        });
        // Another writer opened it first: wait for its lock and continue that conversation.
        interaction = opened ?? (await lockOpenConversation(tx, key));
        if (!interaction) throw new AppError('SB_CONFLICT', 'conversation changed concurrently; retry');
        if (opened && opened.state === 'queued') {
          const queued = await this.append(tx, cmd, opened, customerId, {
            idempotencyKey: `${cmd.idempotencyKey}#queued`,
            type: 'interaction.queued',
            direction: 'internal',
            payload: { queueId: opened.queueId, entryPointId: opened.entryPointId },
          });
          appended.push(queued);
        }
      }
    }

    const payload = { ...cmd.payload };
    if (cmd.apply) await cmd.apply(tx, { customerId, interaction }, payload);
    const event = await this.append(tx, cmd, interaction, customerId, { ...cmd, payload });
    appended.push(event);
    return { duplicate: false, event, appended, interaction, customerId };
  }

  private async append(
    tx: PoolClient,
    cmd: IngestCommand,
    interaction: InteractionRecord | null,
    customerId: string,
    what: Pick<IngestCommand, 'idempotencyKey' | 'type' | 'direction' | 'payload'>,
  ): Promise<StoredEvent> {
    const event = {
      customerId,
      type: what.type,
      channel: cmd.channel,
      direction: what.direction,
      idempotencyKey: what.idempotencyKey,
      payload: what.payload,
      occurredAt: cmd.occurredAt,
    };
    const stored = interaction
      ? await insertSequencedEvent(tx, { ...event, interactionId: interaction.id })
      : await insertEvent(tx, { ...event, interactionId: null, seq: null });
    if (!stored) throw new DuplicateKey();
    return stored;
  }
}
