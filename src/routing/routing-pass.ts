/**
 * A routing pass: match waiting work to free agents and record the offers, in one transaction
 * under the routing lock (or, for the change a trigger names, planned from the reads sent behind
 * the write that made it: see passOnReadsBehind). When passes run and for what is the router's
 * affair (router.service.ts); this is what one does.
 */
import type { Pool, PoolClient } from 'pg';
import type { NewContact } from '../interactions/reads-behind';
import type { CreatedOffer } from './offers.repository';
import { planClaimAhead, type EntryRoutes } from './claim-ahead';
import type { TransactionEnd } from '../platform/db';
import type { AcdContext, Effects } from './acd.context';
import type { Assignment, Strategy, WaitingInteraction } from './selection';
import { loadWaiting } from './routing.repository';
import { limitFor, PASS_LIMIT, PASS_TRANSACTION, planFor, readWaitingAhead, shortOfSlots, within, type EarlyReads, type PassResult } from './pass-reads';
import { workKey, type NamedChange } from './routing-hints';
import type { FreeAgentView } from './free-agents.repository';
import { expectedCandidates, loadFreeCandidates, type AgentScope } from './free-candidates';
import type { AgentProfiles } from './agent-profiles';
import { planOnReadsBehind, type ReadsBehindWrites } from './reads-behind-writes';

export class RoutingPass {
  /**
   * Passes' first reads of waiting work: read ahead and used; read ahead but the changes called
   * for queues or channels it did not read (read again); none read ahead (nothing expected);
   * read behind the statement that queued the work, and the pass planned from it
   * (RouterService.readBehind); read behind the COMMIT of an agent's change to available, and the
   * pass planned from it (RouterService.readsBehindAvailable); none, its contact claimed ahead of
   * it (claimedAhead: see claimAhead), or read behind such a claim refused (aheadRefused, also
   * counted by how the pass then read).
   */
  readonly waitingReads = { ahead: 0, missed: 0, plain: 0, behind: 0, behindAvailable: 0, claimedAhead: 0, aheadRefused: 0 };
  /**
   * Plans of passes for contacts a message opened (see passOnReadsBehind): with the walk and
   * planning index prepared before the reads behind came back (see prepareCandidates), or not.
   */
  readonly prepared = { used: 0, missed: 0 };

  /**
   * `db`: the router's own connections (see createRouterPool); `profiles`, `freeAgents`,
   * `readsBehind`, `routes`: the router's, kept across passes; `refused`: asks for a full pass,
   * when a claim planned outside the routing lock was refused.
   */
  constructor(
    private readonly acd: AcdContext,
    private readonly db: Pool,
    private readonly profiles: AgentProfiles,
    private readonly freeAgents: FreeAgentView,
    private readonly readsBehind: ReadsBehindWrites,
    private readonly routes: EntryRoutes,
    private readonly refused: () => void,
  ) {}

  /**
   * One routing pass: match waiting work to free agents and record the offers. `scope`: only
   * those agents can take work (the rest of the pass is the same). `named`: what the trigger
   * named, the contacts of new work or agents freed; when reads were sent behind the write that
   * made that change (RouterService.readBehind, readsBehindAvailable) and saw it, the pass is
   * planned from those reads and sends only its claims.
   */
  async run(someoneFree = false, scope?: AgentScope, named?: NamedChange | null): Promise<PassResult> {
    const early = this.readsBehind.take();
    if (early?.claimedAhead && this.readsBehind.claimedAheadFor(named ?? null, early)) {
      const offer = await early.claimedAhead;
      if (offer) {
        this.waitingReads.claimedAhead++;
        return { offered: 1, full: false, offeredIn: new Set(offer.queueId ? [workKey(offer.queueId, offer.channel)] : []) };
      }
      this.waitingReads.aheadRefused++;
    }
    if (early && scope && named) {
      const done = await this.passOnReadsBehind(early, scope, named);
      if (done) return done;
    }
    const offeredIn = new Set<string>();
    // Nobody can take work: skip the lock. Whatever frees an agent commits, then triggers a pass.
    if (!someoneFree && (await this.freeAgents.refresh(this.db)).length === 0) return { offered: 0, full: false, offeredIn };
    // What the free agents as last read call for, worked out before the pass's first write.
    const expected = expectedCandidates(this.profiles, this.freeAgents, scope);
    // The pass commits without waiting for the WAL (asyncCommit): an offer is a decision made
    // again from what is kept, so should Postgres crash right after this commit and lose it, the
    // contact is waiting again and the sweep offers it anew.
    return this.acd.run(async (tx, fx, end) => {
      // The free agents' changes go out with the BEGIN, and the read of the waiting work they
      // would call for had none of them changed goes with them: one round trip for both when the
      // changes leave the pass within what was read ahead (see readWaitingAhead).
      const reading = loadFreeCandidates(tx, this.profiles, scope, this.freeAgents);
      const ahead = readWaitingAhead(tx, expected);
      const { agents, queueIds, channels, freeSlots } = await reading;
      if (agents.length === 0) return { offered: 0, full: false, offeredIn };
      let limit: number;
      let waiting: WaitingInteraction[];
      let strategies: Map<string, Strategy>;
      if (ahead?.covers(queueIds, channels)) {
        this.waitingReads.ahead++;
        limit = ahead.limit;
        ({ waiting, strategies } = await ahead.read);
        waiting = within(waiting, queueIds, channels);
      } else {
        this.waitingReads[ahead ? 'missed' : 'plain']++;
        limit = limitFor(freeSlots);
        ({ waiting, strategies } = await loadWaiting(tx, queueIds, channels, limit));
      }
      if (waiting.length === 0) return { offered: 0, full: false, offeredIn };
      let plan = planFor(waiting, agents, strategies);
      // Slots left free while a queue and channel were cut short: the contacts beyond the first
      // read may fit them (a plan over a longer read begins with the same assignments).
      if (shortOfSlots(plan, freeSlots, waiting, limit)) {
        limit = PASS_LIMIT;
        ({ waiting, strategies } = await loadWaiting(tx, queueIds, channels, limit));
        plan = planFor(waiting, agents, strategies);
      }
      const { offered } = await this.claim(tx, fx, end, plan, offeredIn);
      return { offered, full: limit === PASS_LIMIT && waiting.length >= PASS_LIMIT, offeredIn };
    }, PASS_TRANSACTION(this.db));
  }

  /**
   * A pass planned from reads sent behind the write that made the change its trigger names
   * (RouterService.readBehind, readsBehindAvailable), made after that commit but outside the
   * routing lock: its transaction is BEGIN, the lock, the claims and COMMIT in one write. For contacts a message
   * opened, the reads are the freshest there are of them (no rejection or timeout since); for an
   * agent gone available, of the work its queues hold as it went. Null (a pass as usual follows)
   * when the trigger names something else, or those reads did not see every contact it names
   * (the statement failed; its messages were stored another way), find none of the agents in
   * scope free, do not cover the queues and channels the free agents call for, failed, lack a
   * profile, or would need reading further. A claim refused here (another process's pass took its
   * agent or contact between the reads and the lock) asks for a full pass, which plans again
   * under the lock.
   */
  private async passOnReadsBehind(early: EarlyReads, scope: AgentScope, named: NamedChange): Promise<PassResult | null> {
    const planned = await planOnReadsBehind(this.profiles, this.freeAgents, early, scope, named);
    if (!planned) return null;
    if ('work' in named) this.prepared[planned.prepared ? 'used' : 'missed']++;
    const { plan } = planned;
    if (!plan) return null;
    this.waitingReads['work' in named ? 'behind' : 'behindAvailable']++;
    const offeredIn = new Set<string>();
    if (plan.length === 0) return { offered: 0, full: false, offeredIn };
    const { offered, refused } = await this.acd.run((tx, fx, end) => this.claim(tx, fx, end, plan, offeredIn), PASS_TRANSACTION(this.db));
    if (refused > 0) this.refused();
    return { offered, full: false, offeredIn };
  }

  /**
   * Send on `client`, right behind a message's statement just sent there, the claim a pass would
   * make of `contact` should that statement open it (see claim-ahead.ts), in a transaction of its
   * own: BEGIN, the claim, COMMIT and the offer's screen pop read in one write. `offer`: the offer
   * made (published, pushed and timed once committed, as a pass's), or null (what it was planned
   * from no longer held, or it failed: nothing written); `released`: once nothing sent is still on
   * its way (the caller keeps `client` until then). Null when no claim can be planned now.
   */
  claimAhead(client: PoolClient, contact: NewContact): { offer: Promise<CreatedOffer | null>; released: Promise<unknown> } | null {
    const planned = planClaimAhead(this.profiles, this.freeAgents, this.routes, contact);
    if (!planned) return null;
    const { assignment, guard } = planned;
    let released: Promise<unknown> = Promise.resolve();
    const offer = this.acd.run(
      (tx, fx, end) =>
        end.together(() => {
          const sent = this.acd.offer(tx, fx, assignment, guard);
          end.commitBehind();
          this.acd.readPopsBehind(end, fx, [assignment]);
          return sent;
        }),
      { genericPlans: true, asyncCommit: true, on: { client, released: (p) => (released = p) } },
    );
    // `released` was set as run() sent BEGIN, before it returned; it settles once the COMMIT and
    // the screen pop read behind it are answered.
    return { offer: offer.catch(() => null), released };
  }

  /**
   * Send the plan's claims with COMMIT right behind them and the offers' screen pop reads behind
   * that, in one write; then count the offers made (and note their queues and channels in
   * `offeredIn`) and the claims refused.
   */
  private async claim(tx: PoolClient, fx: Effects, end: TransactionEnd, plan: Assignment[], offeredIn: Set<string>): Promise<{ offered: number; refused: number }> {
    // Claimed in interaction id order: the order in which a batch of messages locks its
    // conversations, so the two never wait for each other in a cycle. No claim depends on
    // another's answer (each checks its own conditions, in the order Postgres runs them), so
    // all of them go out at once, in one write with the COMMIT right behind them and the
    // offers' screen pop reads behind that (they then see the offers' own writes, and need no
    // other connection).
    const claims = end.together(() => {
      const sent = [...plan].sort((x, y) => (x.interactionId < y.interactionId ? -1 : x.interactionId > y.interactionId ? 1 : 0)).map((a) => this.acd.offer(tx, fx, a));
      end.commitBehind();
      this.acd.readPopsBehind(end, fx, plan);
      return sent;
    });
    let offered = 0;
    for (const offer of await Promise.all(claims)) {
      if (!offer) continue;
      if (offer.queueId) offeredIn.add(workKey(offer.queueId, offer.channel));
      offered++;
    }
    return { offered, refused: plan.length - offered };
  }
}
