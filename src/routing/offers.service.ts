/**
 * The offer lifecycle after the router made it: accept and reject (compare-and-set on the
 * offer row, interaction locked first), ring-no-answer expiry, and revocation.
 */
import type { PoolClient } from 'pg';
import { AppError } from '../platform/errors';
import type { InteractionRecord } from '../interactions/events.types';
import { findInteraction } from '../interactions/interactions.repository';
import type { AcdContext, Effects, RevokeReason } from './acd.context';
import { changeAgentState, interactionsOfAgent, transition } from './routing.repository';
import { findOffer, markAccepted, markDeclined, pendingOfferOf } from './offers.repository';

export class OffersService {
  constructor(private readonly acd: AcdContext) {}

  async accept(agentId: string, offerId: string): Promise<InteractionRecord> {
    const offer = await findOffer(this.acd.db, offerId);
    if (!offer || offer.agentId !== agentId) throw new AppError('SB_OFFER_UNKNOWN', `offer ${offerId} is not yours or does not exist`);
    return this.acd.run(async (tx, fx) => {
      const i = await this.acd.lock(tx, offer.interactionId);
      if (!(await markAccepted(tx, offerId, agentId))) throw await this.whyNot(tx, offerId);
      fx.answered.push(offerId);
      await transition(tx, i.id, ['offered'], { state: 'active', acceptedNow: true });
      await this.acd.append(tx, fx, i, 'offer.accepted', { offerId, agentId }, `offer.accepted:${offerId}`);
      const accepted = (await findInteraction(tx, i.id))!;
      fx.accepted.push(accepted);
      // The agent's other consoles (a second tab) learn it is taken and open it too.
      fx.changed.push({ agentId, interactionId: i.id, state: 'active' });
      return accepted;
    });
  }

  async reject(agentId: string, offerId: string): Promise<void> {
    const offer = await findOffer(this.acd.db, offerId);
    if (!offer || offer.agentId !== agentId) throw new AppError('SB_OFFER_UNKNOWN', `offer ${offerId} is not yours or does not exist`);
    await this.acd.run(async (tx, fx) => {
      const i = await this.acd.lock(tx, offer.interactionId);
      if (!(await markDeclined(tx, offerId, 'rejected', 'agent-rejected', { agentId }))) throw await this.whyNot(tx, offerId);
      fx.answered.push(offerId);
      await transition(tx, i.id, ['offered'], { state: 'queued', agentId: null });
      await this.acd.append(tx, fx, i, 'offer.rejected', { offerId, agentId }, `offer.rejected:${offerId}`);
      fx.route = true;
    });
  }

  /**
   * Ring-no-answer: re-checked in Postgres, so a late or repeated timer does nothing. The
   * interaction goes back to the head of its queue (its age is kept); the agent goes away.
   * `agentId`, from the offer's timer: an offer Postgres does not have was pushed to that agent
   * and then lost in a crash (a pass commits without waiting for the WAL); the console is told
   * it was withdrawn, so its card does not wait for an answer nobody can give.
   */
  async expire(offerId: string, agentId?: string): Promise<boolean> {
    const offer = await findOffer(this.acd.db, offerId);
    if (!offer) {
      if (agentId) this.acd.notifier?.revoked(agentId, offerId, 'cancelled');
      return false;
    }
    if (offer.state !== 'pending') return false;
    return this.acd.run(async (tx, fx) => {
      const i = await this.acd.lock(tx, offer.interactionId);
      if (!(await markDeclined(tx, offerId, 'expired', 'no-answer', { onlyIfDue: true }))) return false;
      await transition(tx, i.id, ['offered'], { state: 'queued', agentId: null });
      await this.acd.append(tx, fx, i, 'offer.expired', { offerId, agentId: offer.agentId }, `offer.expired:${offerId}`);
      const { changed } = await changeAgentState(tx, { agentId: offer.agentId, state: 'away', reason: 'no-answer', logReason: 'no-answer', actor: 'system', onlyFrom: 'available' });
      if (changed) {
        fx.agentStates.push({ agentId: offer.agentId, state: 'away', reason: 'no-answer' });
        // Away, as any agent who leaves `available`: the other contacts ringing there wait again.
        await this.withdrawPendingOf(tx, fx, offer.agentId);
      }
      fx.revoked.push({ agentId: offer.agentId, offerId, reason: 'timeout' });
      fx.route = true;
      return true;
    }, { routerLock: true });
  }

  /**
   * Withdraw every pending offer of an agent who left `available` (in this transaction, under the
   * routing lock): each interaction waits again, keeping its age.
   */
  async withdrawPendingOf(tx: PoolClient, fx: Effects, agentId: string): Promise<void> {
    for (const id of await interactionsOfAgent(tx, agentId, ['offered'])) {
      const i = await this.acd.lock(tx, id);
      await this.revokePending(tx, fx, i, 'cancelled');
      await transition(tx, id, ['offered'], { state: 'queued', agentId: null });
      fx.route = true;
    }
  }

  /** Withdraw the pending offer of a locked interaction, if any (customer left, agent went away). */
  async revokePending(tx: PoolClient, fx: Effects, i: InteractionRecord, reason: RevokeReason): Promise<void> {
    const pending = await pendingOfferOf(tx, i.id);
    if (!pending) return;
    if (!(await markDeclined(tx, pending.id, 'revoked', reason))) return;
    await this.acd.append(tx, fx, i, 'offer.revoked', { offerId: pending.id, agentId: pending.agentId, reason }, `offer.revoked:${pending.id}`);
    fx.revoked.push({ agentId: pending.agentId, offerId: pending.id, reason });
  }

  private async whyNot(tx: PoolClient, offerId: string): Promise<AppError> {
    const now = await findOffer(tx, offerId);
    if (!now) return new AppError('SB_OFFER_UNKNOWN', `offer ${offerId} does not exist`);
    if (now.state === 'expired' || (now.state === 'pending' && now.expired)) return new AppError('SB_OFFER_EXPIRED', `offer ${offerId} expired`);
    if (now.state === 'accepted') return new AppError('SB_OFFER_TAKEN', `offer ${offerId} was already accepted`);
    return new AppError('SB_OFFER_TAKEN', `offer ${offerId} is no longer pending (${now.state})`);
  }
}
