/**
 * Working an interaction: reply, end, wrap-up, transfer, and the customer leaving. Each is one
 * transaction on the locked interaction with its history event; freed capacity triggers routing.
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { AppError, notFound } from '../platform/errors';
import type { InteractionRecord } from '../interactions/events.types';
import type { IngestService } from '../interactions/ingest.service';
import { findInteraction } from '../interactions/interactions.repository';
import type { AcdContext, Effects } from '../routing/acd.context';
import type { OffersService } from '../routing/offers.service';
import { loadRoutingQueues, takeRouterLock, transition } from '../routing/routing.repository';
import { releaseAccepted } from '../routing/offers.repository';

export type TransferTarget = { queueId: string } | { agentId: string };

/**
 * Delivery of agent replies over a provider channel (SMS, email): `prepare` runs inside the
 * reply's transaction (it writes the outbox row and returns what the event records);
 * `dispatch` runs after commit, and again for a retried reply, idempotently.
 */
export interface OutboundChannel {
  prepare(tx: PoolClient, interaction: InteractionRecord, text: string): Promise<{ outboxId: string }>;
  dispatch(outboxId: string): Promise<void>;
}

export class WorkService {
  constructor(
    private readonly acd: AcdContext,
    private readonly offers: OffersService,
    private readonly ingest: IngestService,
    private readonly outbound: Partial<Record<InteractionRecord['channel'], OutboundChannel>> = {},
  ) {}

  async reply(agentId: string, interactionId: string, clientMessageId: string, text: string) {
    const current = await findInteraction(this.acd.db, interactionId);
    if (!current) throw notFound('interaction', interactionId);
    const outbound = this.outbound[current.channel];
    if (current.channel !== 'chat' && !outbound) throw new AppError('SB_VALIDATION', `replies over ${current.channel} are not available`);
    const result = await this.ingest.ingest({
      idempotencyKey: `agent:${agentId}:reply:${clientMessageId}`,
      type: 'message.sent',
      channel: current.channel,
      direction: 'out',
      occurredAt: new Date(),
      payload: { text, from: 'agent', agentId },
      customer: { id: current.customerId },
      interaction: { kind: 'existing', id: interactionId },
      // A chat reply writes nothing beside its event: in one statement while the agent holds it, active.
      ...(outbound ? {} : { inOneStatementWhen: { agentId, state: 'active' as const } }),
      apply: async (tx, { interaction }, payload) => {
        if (interaction!.agentId !== agentId) throw new AppError('SB_NOT_OWNER', `interaction ${interactionId} is not yours`);
        if (interaction!.state !== 'active') throw new AppError('SB_INVALID_STATE', `interaction ${interactionId} is ${interaction!.state}; replies need it active`);
        if (outbound) {
          payload.outboxId = (await outbound.prepare(tx as PoolClient, interaction!, text)).outboxId;
        }
      },
    });
    // The stored event names the outbox row (a retried reply dispatches the first one's; the job id makes it once).
    // Not the closure's id: a losing concurrent duplicate ran `apply` in a transaction that rolled back.
    const toDispatch = result.event.payload.outboxId as string | undefined;
    if (outbound && toDispatch) await outbound.dispatch(toDispatch);
    return result;
  }

  /** A message from the system (an SMS menu's answer) on a provider channel, sent once per key. */
  async systemReply(interactionId: string, text: string, key: string): Promise<void> {
    const current = await findInteraction(this.acd.db, interactionId);
    if (!current) throw notFound('interaction', interactionId);
    const outbound = this.outbound[current.channel];
    if (!outbound) throw new AppError('SB_VALIDATION', `system replies over ${current.channel} are not available`);
    const result = await this.ingest.ingest({
      idempotencyKey: key,
      type: 'message.sent',
      channel: current.channel,
      direction: 'out',
      occurredAt: new Date(),
      payload: { text, from: 'system' },
      customer: { id: current.customerId },
      interaction: { kind: 'existing', id: interactionId },
      allowClosed: true,
      apply: async (tx, { interaction }, payload) => {
        payload.outboxId = (await outbound.prepare(tx as PoolClient, interaction!, text)).outboxId;
      },
    });
    const toDispatch = result.event.payload.outboxId as string | undefined;
    if (toDispatch) await outbound.dispatch(toDispatch);
  }

  /** The conversation is over; wrap-up starts and its clock runs. */
  async end(agentId: string, interactionId: string): Promise<InteractionRecord> {
    return this.acd.run(async (tx, fx) => {
      const i = await this.owned(tx, agentId, interactionId, ['active']);
      await this.startWrapup(tx, fx, i, agentId, 'agent');
      return (await findInteraction(tx, interactionId))!;
    });
  }

  async wrapup(agentId: string, interactionId: string, disposition: string | null, notes: string | null): Promise<InteractionRecord> {
    return this.acd.run(async (tx, fx) => {
      const i = await this.owned(tx, agentId, interactionId, ['active', 'wrapup']);
      if (i.state === 'active') await this.startWrapup(tx, fx, i, agentId, 'agent');
      await this.close(tx, fx, i, { agentId, disposition, ...(notes ? { text: notes } : {}), reason: 'wrapped-up' });
      await transition(tx, i.id, ['wrapup'], { state: 'closed', outcome: 'handled', disposition, closedNow: true });
      return (await findInteraction(tx, interactionId))!;
    });
  }

  /** The customer left: waiting work is abandoned; work in progress goes to wrap-up. */
  async customerLeft(interactionId: string): Promise<void> {
    await this.acd.run(async (tx, fx) => {
      const i = await this.acd.lock(tx, interactionId);
      if (i.state === 'queued' || i.state === 'offered' || i.state === 'ivr') {
        await this.offers.revokePending(tx, fx, i, 'abandoned');
        await this.acd.append(tx, fx, i, 'interaction.closed', { reason: 'customer-left', outcome: 'abandoned', from: 'customer' });
        await transition(tx, i.id, ['queued', 'offered', 'ivr'], { state: 'closed', agentId: null, outcome: 'abandoned', closedNow: true });
        await tx.query('UPDATE interactions SET conversation_key = NULL WHERE id = $1', [i.id]);
        fx.route = true;
      } else if (i.state === 'active') {
        await this.startWrapup(tx, fx, i, i.agentId!, 'customer');
      }
    });
  }

  async transfer(actor: { agentId?: string; supervisor: boolean }, interactionId: string, target: TransferTarget): Promise<InteractionRecord> {
    return this.acd.run(async (tx, fx) => {
      if ('agentId' in target) await takeRouterLock(tx);
      const i = await this.acd.lock(tx, interactionId);
      if (!actor.supervisor && (i.agentId !== actor.agentId || i.state !== 'active')) {
        throw new AppError('SB_NOT_OWNER', `interaction ${interactionId} is not an active interaction of yours`);
      }
      if (!['queued', 'offered', 'active'].includes(i.state)) throw new AppError('SB_INVALID_STATE', `interaction ${interactionId} is ${i.state}`);
      const queues = await loadRoutingQueues(tx);
      const queueId = 'queueId' in target ? target.queueId : i.queueId;
      const queue = queueId ? queues.get(queueId) : undefined;
      if (!queue) throw new AppError('SB_VALIDATION', `queueId ${queueId} names no queue`);
      if (!queue.channels.includes(i.channel)) throw new AppError('SB_VALIDATION', `queue ${queue.name} does not take ${i.channel} work (it takes ${queue.channels.join(', ')})`);
      await this.offers.revokePending(tx, fx, i, 'cancelled');
      await releaseAccepted(tx, i.id);
      if (i.agentId) fx.changed.push({ agentId: i.agentId, interactionId: i.id, state: 'transferred' });
      await this.acd.append(tx, fx, i, 'interaction.transferred', { fromQueueId: i.queueId, toQueueId: queue.id, fromAgentId: i.agentId, ...('agentId' in target ? { toAgentId: target.agentId } : {}), byAgentId: actor.agentId });
      // Priority starts again from the new queue's own (escalation raises are per queue).
      await transition(tx, i.id, ['queued', 'offered', 'active'], { state: 'queued', agentId: null, queueId: queue.id, priority: 0, resetEscalation: true });
      if ('agentId' in target) {
        const offer = await this.acd.offer(tx, fx, { interactionId: i.id, agentId: target.agentId, explanation: { strategy: 'supervisor', reason: 'moved to this agent by a supervisor' }, eventExplanation: { strategy: 'supervisor' } });
        if (!offer) throw new AppError('SB_AGENT_UNAVAILABLE', `agent ${target.agentId} is not available or has no free ${i.channel} slot`);
      } else {
        fx.route = true;
      }
      const after = (await findInteraction(tx, interactionId))!;
      if (i.state === 'active') fx.transferred.push(after);
      return after;
    });
  }

  /** An accepted interaction its agent cannot work after all (their softphone could not be rung): back to its queue, keeping its age. */
  async returnToQueue(interactionId: string, reason: string): Promise<void> {
    await this.acd.run(async (tx, fx) => {
      const i = await this.acd.lock(tx, interactionId);
      if (i.state !== 'active') return;
      await releaseAccepted(tx, i.id);
      await this.acd.append(tx, fx, i, 'interaction.requeued', { agentId: i.agentId ?? undefined, reason });
      await transition(tx, i.id, ['active'], { state: 'queued', agentId: null });
      if (i.agentId) fx.changed.push({ agentId: i.agentId, interactionId: i.id, state: 'requeued' });
      fx.route = true;
    });
  }

  /** Sweep step: wrap-ups past their deadline close on their own. */
  async closeOverdueWrapup(interactionId: string): Promise<void> {
    await this.acd.run(async (tx, fx) => {
      const i = await this.acd.lock(tx, interactionId);
      if (i.state !== 'wrapup') return;
      const { rows } = await tx.query<{ due: boolean }>('SELECT wrapup_deadline <= clock_timestamp() AS due FROM interactions WHERE id = $1', [i.id]);
      if (!rows[0]?.due) return;
      await this.close(tx, fx, i, { agentId: i.agentId, reason: 'wrapup-timeout' });
      await transition(tx, i.id, ['wrapup'], { state: 'closed', outcome: 'handled', closedNow: true });
      if (i.agentId) fx.changed.push({ agentId: i.agentId, interactionId: i.id, state: 'closed' });
    });
  }

  private async startWrapup(tx: PoolClient, fx: Effects, i: InteractionRecord, agentId: string, by: 'agent' | 'customer'): Promise<void> {
    const { rows } = await tx.query<{ wrapup_seconds: number }>('SELECT wrapup_seconds FROM agents WHERE id = $1', [agentId]);
    await this.acd.append(tx, fx, i, 'interaction.ended', { agentId, endedBy: by });
    await transition(tx, i.id, ['active'], { state: 'wrapup', endedNow: true, wrapupSeconds: rows[0]?.wrapup_seconds ?? 30 });
    // The conversation is over: the customer's next message starts a new one.
    await tx.query('UPDATE interactions SET conversation_key = NULL WHERE id = $1', [i.id]);
    if (by === 'customer') fx.changed.push({ agentId, interactionId: i.id, state: 'wrapup' });
  }

  private async close(tx: PoolClient, fx: Effects, i: InteractionRecord, payload: Record<string, unknown>): Promise<void> {
    await releaseAccepted(tx, i.id);
    await this.acd.append(tx, fx, i, 'interaction.wrappedup', payload, `interaction.wrappedup:${i.id}:${randomUUID()}`);
    await this.acd.append(tx, fx, i, 'interaction.closed', { reason: payload.reason as string, outcome: 'handled' });
    // Its agent's slot frees: route if they can take something that waits.
    if (i.agentId) fx.freed.push(i.agentId);
  }

  private async owned(tx: PoolClient, agentId: string, interactionId: string, states: string[]): Promise<InteractionRecord> {
    const i = await this.acd.lock(tx, interactionId);
    if (i.agentId !== agentId) throw new AppError('SB_NOT_OWNER', `interaction ${interactionId} is not yours`);
    if (!states.includes(i.state)) throw new AppError('SB_INVALID_STATE', `interaction ${interactionId} is ${i.state}`);
    return i;
  }

}
