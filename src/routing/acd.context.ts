/**
 * What every ACD operation shares: one transaction at a time, the events it appends through
 * the ingest path (an offer's own event goes in with its claim, through the events' same
 * insert: see `offer`), and the notifications (socket pushes, routing triggers, timers) that
 * may only go out after that transaction commits.
 */
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { flushWal, transactionOn, withTransaction, type Queryable, type TransactionEnd } from '../platform/db';
import { AppError, notFound } from '../platform/errors';
import type { Logger } from '../platform/logger';
import type { IngestService } from '../interactions/ingest.service';
import type { EventPayload, EventType, HeldInteraction, IngestResult, InteractionRecord, StoredEvent } from '../interactions/events.types';
import { lockInteraction } from '../interactions/interactions.repository';
import { createOffer, type ClaimAheadGuard, type CreatedOffer } from './offers.repository';
import type { Explanation } from './selection';
import { ROUTER_LOCK_KEY } from './routing.repository';
import type { RoutingHint } from './routing-hints';

export type RevokeReason = 'timeout' | 'abandoned' | 'cancelled';

/** Most screen pops a pass reads behind its COMMIT (see AcdContext.readPopsBehind). */
const POPS_BEHIND_MAX = 8;

/** An offer's screen pop reads, started while its transaction is open (opaque to the ACD). */
export type ScreenPopReads = Promise<unknown>;

/** Pushes to agents; implemented by the /agent gateway. */
export interface AgentNotifier {
  /**
   * Start reading an offer's screen pop at once, beside the rest of its transaction. The reads
   * see only committed data; `offer` adds the transaction's own events (`appended`) to them.
   * Given `db` (the transaction's own connection, behind its COMMIT), on it instead. Given only
   * the interaction (a read sent before its claim is answered: see AcdContext.readPopsBehind), the
   * customer and queue are the interaction's own.
   */
  readScreenPop(offer: Pick<CreatedOffer, 'interactionId'> & Partial<Pick<CreatedOffer, 'customerId' | 'queueId'>>, db?: Queryable): ScreenPopReads;
  /** Push the offer to its agent (reading its screen pop now if `reads` is not given). */
  offer(offer: CreatedOffer, reads?: ScreenPopReads, appended?: StoredEvent[]): Promise<void>;
  revoked(agentId: string, offerId: string, reason: RevokeReason): void;
  agentState(agentId: string, state: string, reason: string | null): void;
  interactionChanged(agentId: string, interactionId: string, state: string): void;
}

/**
 * Reads the router sends right behind the COMMIT of an agent's change to available (see
 * RouterService.readsBehindAvailable), and how to drop them should that change not commit.
 */
export interface ReadsBehindChange {
  send(db: Queryable): Promise<unknown>;
  drop(): void;
}

/** Delayed jobs (offer timeouts); implemented with BullMQ. */
export interface OfferTimers {
  schedule(offer: Pick<CreatedOffer, 'id' | 'agentId' | 'expiresAt'>): Promise<void>;
  /** Drop the timers of offers answered or withdrawn (one that fires anyway finds nothing to do). */
  cancel(offerIds: string[]): Promise<void>;
}

export class Effects {
  readonly results: IngestResult[] = [];
  readonly offers: CreatedOffer[] = [];
  /** Screen pop reads of `offers`, by offer id, started as each was claimed. */
  readonly pops = new Map<string, ScreenPopReads>();
  /** Screen pop reads sent behind the COMMIT for the offers a pass claims, by interaction id (see AcdContext.readPopsBehind). */
  readonly popsBehind = new Map<string, ScreenPopReads>();
  readonly revoked: Array<{ agentId: string; offerId: string; reason: RevokeReason }> = [];
  /** Offers accepted or rejected in this transaction (their timers are no longer needed). */
  readonly answered: string[] = [];
  readonly agentStates: Array<{ agentId: string; state: string; reason: string | null }> = [];
  readonly changed: Array<{ agentId: string; interactionId: string; state: string }> = [];
  /** Interactions accepted by an agent in this transaction (voice bridges the call then). */
  readonly accepted: InteractionRecord[] = [];
  /** Answered interactions sent back to a queue (voice puts the caller on hold again). */
  readonly transferred: InteractionRecord[] = [];
  /** Undone in memory should the transaction not commit (run before its error is thrown). */
  readonly ifRolledBack: Array<() => void> = [];
  /** A flush of the WAL sent behind the COMMIT of a transaction that did not wait for it (see AcdContext.run, `visibleFirst`). */
  durable: Promise<void> | null = null;
  /** Route after commit: a full pass… */
  route = false;
  /** …or, when only these agents may have had a slot freed, a pass only if one of them can take waiting work. */
  readonly freed: string[] = [];
}

export class AcdContext {
  notifier: AgentNotifier | null = null;
  timers: OfferTimers | null = null;
  /** Set by the router: ask for a routing pass soon (with what changed, when known). */
  requestRouting: (hint?: RoutingHint) => void = () => undefined;
  /**
   * Set by the router: asked as an agent's change to available goes out with its COMMIT, the
   * reads to send right behind that COMMIT for the pass it will ask for (see
   * RouterService.readsBehindAvailable), or null for none.
   */
  readsBehindAvailable: (agentId: string) => ReadsBehindChange | null = () => null;
  /**
   * Set by the router: told after a transaction that changed what an agent holds or is (an offer
   * made or answered, an interaction of theirs changed, a state set) has committed, so that it
   * reads the free agents again while idle (see RouterService.prepareWhileIdle).
   */
  agentsTouched: () => void = () => undefined;
  /** Channels that act when an agent accepts (voice: dial the agent's softphone). */
  readonly onAccepted: Array<(i: InteractionRecord) => Promise<void>> = [];
  readonly onTransferred: Array<(i: InteractionRecord) => Promise<void>> = [];

  constructor(
    readonly db: Pool,
    readonly ingest: IngestService,
    readonly log: Logger,
    readonly offerTimeoutSeconds: number,
  ) {}

  /**
   * Run `fn` in one transaction; after commit publish its events and send its notifications.
   * `routerLock`: the transaction holds the routing lock from its start (taken with its BEGIN).
   * `genericPlans`, `asyncCommit`: see TransactionOptions (the routing pass). `pool`: run on
   * these connections instead (the router's own). `visibleFirst`: the transaction commits without
   * waiting for the WAL, and the routing it asks for starts once its COMMIT is answered (it is
   * visible then); its notifications, and the answer to the caller, wait for the WAL flush that
   * `fn` sends behind the COMMIT (flushBehind), or else one made after it. A routing pass writes
   * only after the commit it acts on, so a crash of Postgres that lost that commit loses the
   * pass's writes too; nobody has been told of it. `on`: run on this connection, which the caller
   * holds, with BEGIN sent before this returns (see transactionOn; the caller keeps it until
   * `released` settles) instead of on a connection of a pool.
   */
  async run<T>(
    fn: (tx: PoolClient, fx: Effects, end: TransactionEnd) => Promise<T>,
    opts: { routerLock?: boolean; genericPlans?: boolean; asyncCommit?: boolean; visibleFirst?: boolean; pool?: Pool; on?: { client: PoolClient; released: (p: Promise<boolean>) => void } } = {},
  ): Promise<T> {
    const fx = new Effects();
    let result: T;
    try {
      const body = (tx: PoolClient, end: TransactionEnd): Promise<T> => fn(tx, fx, end);
      const txOpts = { advisoryLock: opts.routerLock ? ROUTER_LOCK_KEY : undefined, genericPlans: opts.genericPlans, asyncCommit: opts.asyncCommit || opts.visibleFirst };
      if (opts.on) {
        const running = transactionOn(opts.on.client, body, txOpts);
        opts.on.released(running.released);
        result = await running.result;
      } else {
        result = await withTransaction(opts.pool ?? this.db, body, txOpts);
      }
    } catch (err) {
      for (const undo of fx.ifRolledBack) undo();
      fx.durable?.catch(() => undefined);
      throw err;
    }
    if (opts.visibleFirst) {
      this.route(fx);
      await (fx.durable ?? flushWal(this.db));
      await this.notify(fx);
    } else {
      await this.notify(fx);
      this.route(fx);
    }
    if (fx.offers.length + fx.answered.length + fx.revoked.length + fx.agentStates.length + fx.changed.length > 0) this.agentsTouched();
    return result;
  }

  /**
   * Flush the WAL right behind the COMMIT, already sent, of a `visibleFirst` transaction, and
   * behind whatever was sent behind that COMMIT before (reads that then need not wait for it).
   * Should the flush on that connection fail, one on the pool flushes the WAL as far.
   */
  flushBehind(end: TransactionEnd, fx: Effects): void {
    fx.durable = end.behindCommit(flushWal).catch(() => flushWal(this.db));
  }

  /** What a committed (and, for `visibleFirst`, durable) transaction tells: events, offers, timers, consoles, channels. */
  private async notify(fx: Effects): Promise<void> {
    // The events go to the stream while the offers' screen pops are read and pushed: neither waits
    // for the other (no listener of an offer's event pushes to its agent).
    const appended = fx.offers.length > 0 ? fx.results.flatMap((r) => r.appended) : [];
    await Promise.all([this.ingest.publish(...fx.results), ...fx.offers.map((o) => this.notifier?.offer(o, fx.pops.get(o.id), appended))]);
    // The agent sees the offer first; its ring-no-answer timer follows (the sweep expires it if that fails).
    for (const o of fx.offers) {
      try {
        await this.timers?.schedule(o);
      } catch (err) {
        this.log.warn({ err, offerId: o.id }, 'offer timer not scheduled; the sweep will expire it');
      }
    }
    this.cancelTimers([...fx.answered, ...fx.revoked.map((r) => r.offerId)]);
    for (const r of fx.revoked) this.notifier?.revoked(r.agentId, r.offerId, r.reason);
    for (const s of fx.agentStates) this.notifier?.agentState(s.agentId, s.state, s.reason);
    for (const c of fx.changed) this.notifier?.interactionChanged(c.agentId, c.interactionId, c.state);
    for (const [list, listeners] of [[fx.accepted, this.onAccepted], [fx.transferred, this.onTransferred]] as const) {
      for (const i of list) {
        for (const listener of listeners) {
          try {
            await listener(i);
          } catch (err) {
            this.log.warn({ err, interactionId: i.id }, 'channel follow-up failed');
          }
        }
      }
    }
  }

  /** The routing a committed transaction asks for: a full pass, or passes for the agents it may have freed. */
  private route(fx: Effects): void {
    if (fx.route) this.requestRouting();
    else for (const agentId of new Set(fx.freed)) this.requestRouting({ agentId });
  }

  /**
   * Drop the ring-no-answer timers of offers decided (answered, withdrawn, expired), without
   * waiting: otherwise each would fire at its time, run its job and read its offer only to find
   * it decided. Left to fire should this fail; it then changes nothing.
   */
  private cancelTimers(offerIds: string[]): void {
    if (!this.timers || offerIds.length === 0) return;
    this.timers.cancel(offerIds).catch((err: unknown) => this.log.warn({ err }, 'offer timers not cancelled; they will fire and find their offers decided'));
  }

  /**
   * Offer a waiting interaction to an agent in this transaction (see createOffer: the claim, the
   * offer and its `offer.created` event in one statement; `eventExplanation` is the event's
   * account of why, when not the offer's own). Null when the claim's conditions do not hold.
   * Pushed to its agent after commit, its screen pop read from now on, beside the rest of the
   * transaction. `guard`: a claim sent ahead of a pass, made only if what it was planned from
   * still holds (see ClaimAheadGuard).
   */
  async offer(
    tx: PoolClient,
    fx: Effects,
    o: { interactionId: string; agentId: string; explanation: Explanation | Record<string, unknown>; eventExplanation?: Record<string, unknown>; requireAvailable?: boolean },
    guard?: ClaimAheadGuard,
  ): Promise<CreatedOffer | null> {
    const offerId = randomUUID();
    const claimed = await createOffer(
      tx,
      { offerId, interactionId: o.interactionId, agentId: o.agentId, explanation: o.explanation, timeoutSeconds: this.offerTimeoutSeconds, requireAvailable: o.requireAvailable },
      { idempotencyKey: `offer.created:${offerId}`, payload: { offerId, agentId: o.agentId, explanation: o.eventExplanation ?? o.explanation }, occurredAt: new Date() },
      guard,
    );
    if (!claimed) return null;
    const { offer, held, event } = claimed;
    fx.results.push({ duplicate: false, event, appended: [event], interaction: held.interaction, customerId: held.customerRoot });
    fx.offers.push(offer);
    if (this.notifier) fx.pops.set(offer.id, fx.popsBehind.get(offer.interactionId) ?? this.notifier.readScreenPop(offer));
    return offer;
  }

  /**
   * Read the screen pops of offers just claimed (their claims and the COMMIT sent, not yet
   * answered) on the transaction's own connection, right behind its COMMIT: they come back with
   * the COMMIT's answer and see the offers' own writes, instead of a read on another connection
   * started as each claim is answered. A claim that fails leaves its read unused. Only for a few
   * offers at once (a pass for a contact or an agent); a larger pass reads them as before, on
   * the service's pool, side by side.
   */
  readPopsBehind(end: TransactionEnd, fx: Effects, claimed: Array<{ interactionId: string }>): void {
    const notifier = this.notifier;
    if (!notifier || claimed.length > POPS_BEHIND_MAX) return;
    for (const { interactionId } of claimed) fx.popsBehind.set(interactionId, end.behindCommit((db) => notifier.readScreenPop({ interactionId }, db)));
  }

  /**
   * Send the reads the router asks for (readsBehindAvailable) right behind the COMMIT, already
   * sent, of an agent's change to available; dropped should the transaction not commit. They are
   * the router's affair: should asking or sending fail, nothing more is sent, and its pass reads
   * for itself.
   */
  readBehindAvailable(end: TransactionEnd, fx: Effects, agentId: string): void {
    try {
      const reads = this.readsBehindAvailable(agentId);
      if (!reads) return;
      fx.ifRolledBack.push(reads.drop);
      end.behindCommit(reads.send).catch(() => undefined);
    } catch {
      // Nothing sent: the pass reads for itself.
    }
  }

  async lock(tx: PoolClient, interactionId: string): Promise<InteractionRecord> {
    const i = await lockInteraction(tx, interactionId);
    if (!i) throw notFound('interaction', interactionId);
    return i;
  }

  /**
   * Append a history event for a locked interaction inside the operation's transaction. Given
   * `held` (the row as this transaction just updated it, with its customer's root), the append
   * reads neither again.
   */
  async append(tx: PoolClient, fx: Effects, target: Pick<InteractionRecord, 'id' | 'state' | 'channel' | 'customerId'> | HeldInteraction, type: EventType, payload: EventPayload, key?: string): Promise<void> {
    const held = 'interaction' in target ? target : undefined;
    const i = held ? held.interaction : (target as Pick<InteractionRecord, 'id' | 'state' | 'channel' | 'customerId'>);
    if (i.state === 'closed') throw new AppError('SB_INTERACTION_CLOSED', `interaction ${i.id} is closed`);
    const result = await this.ingest.appendWithin(tx, {
      idempotencyKey: key ?? `${type}:${i.id}:${randomUUID()}`,
      type,
      channel: i.channel,
      direction: 'internal',
      occurredAt: new Date(),
      payload,
      customer: { id: i.customerId },
      interaction: { kind: 'existing', id: i.id, ...(held ? { held } : {}) },
    });
    fx.results.push(result);
  }
}
