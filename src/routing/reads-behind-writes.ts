/**
 * The reads a routing pass begins with, sent right behind a write that may lead to an offer (on
 * its connection, so Postgres runs them once it has committed): the statement of messages that
 * may open conversations, or the COMMIT of an agent's change to available. And the plan made
 * from them. Which passes use them, and when they may be sent, is RouterService's: see its
 * readBehind, readsBehindAvailable and passOnReadsBehind.
 */
import type { Queryable } from '../platform/db';
import type { Assignment } from './selection';
import { planFor, readWaitingAhead, shortOfSlots, within, type EarlyReads } from './pass-reads';
import type { FreeAgentView } from './free-agents.repository';
import { expectedCandidates, heldCandidates, keptIndex, prepareCandidates, type AgentScope } from './free-candidates';
import type { AgentProfiles } from './agent-profiles';
import type { NamedChange } from './routing-hints';
import type { CreatedOffer } from './offers.repository';

export class ReadsBehindWrites {
  /** The reads sent last and not yet taken by a pass. */
  private early: EarlyReads | null = null;
  /** Reads sent and not yet answered: no more are sent meanwhile. */
  underWay = false;

  constructor(
    private readonly profiles: AgentProfiles,
    private readonly view: FreeAgentView,
  ) {}

  /**
   * Send on `db`, right behind a write just issued there: the free agents' changes (applied to
   * the view as they come) and the waiting work the agents expected free then call for. The
   * write: messages whose conversations, if they open, get the ids `opening` (the agents free at
   * the view's last read are expected, and as many contacts per queue and channel as a pass for
   * that many new ones reads first: sent behind every such statement while the router is idle,
   * they must stay few); or the COMMIT of the agents `freed` going available (those agents are
   * expected, with every slot their profiles give). `claimedAhead`: a claim of one of those
   * contacts sent ahead of these reads (see claim-ahead.ts), its offer or null. Null when nothing
   * is expected (nobody free, or only agents whose profiles are not held), else settled once both
   * are answered.
   */
  send(db: Queryable, sentFor: { opening: string[] } | { freed: string[] }, claimedAhead?: Promise<CreatedOffer | null>): Promise<unknown> | null {
    const opening = 'opening' in sentFor ? sentFor.opening : [];
    const freed = 'freed' in sentFor ? sentFor.freed : [];
    const expected = freed.length > 0 ? expectedCandidates(this.profiles, this.view, { agentIds: freed, queueIds: [] }) : expectedCandidates(this.profiles, this.view);
    const ahead = readWaitingAhead(db, freed.length > 0 ? expected : { ...expected, freeSlots: Math.min(expected.freeSlots, opening.length) });
    if (!ahead) return null;
    const refreshed = this.view.refresh(db);
    const settled = Promise.allSettled([refreshed, ahead.read]);
    // While the write and these reads are on their way (once the caller has sent them, which
    // it does before any microtask runs): the pass's walk and planning index, then at hand.
    queueMicrotask(() => prepareCandidates(this.profiles, this.view));
    this.early = { refreshed, ahead, opening: new Set(opening), freed: new Set(freed), claimedAhead };
    this.underWay = true;
    void settled.then(() => (this.underWay = false));
    return settled;
  }

  /** Whether the reads sent last, not yet taken, were sent for what `named` names. */
  sentFor(named: NamedChange | null): boolean {
    return this.early !== null && named !== null && sentFor(this.early, named);
  }

  /** Whether the reads sent last, not yet taken, came behind a claim of the one contact `named` names (see claim-ahead.ts). */
  claimedAheadFor(named: NamedChange | null, early: EarlyReads | null = this.early): boolean {
    return early?.claimedAhead !== undefined && named !== null && 'work' in named && named.work.length === 1 && sentFor(early, named);
  }

  /**
   * Drop the reads sent last if they were sent for what `named` names: its write did not commit,
   * so what they read is not what a later trigger naming the same contacts or agents would see.
   */
  drop(named: NamedChange): void {
    if (this.sentFor(named)) this.early = null;
  }

  /** The reads sent last, for the next pass (which takes them whether it uses them or not). */
  take(): EarlyReads | null {
    const early = this.early;
    this.early = null;
    return early;
  }
}

/** Whether `early` was sent for what `named` names: every contact named among those its write may open, or every agent named among those it freed. */
function sentFor(early: EarlyReads, named: NamedChange): boolean {
  return 'work' in named ? named.work.every((id) => early.opening.has(id)) : named.freed.every((id) => early.freed.has(id));
}

/**
 * The plan for what `named` names (the contacts of new work, or agents freed) from reads sent
 * behind the write that made that change, for the free agents in `scope`. Null when it cannot be
 * planned from those reads: they were sent for something else or failed, did not see every
 * contact named (the statement failed; its messages were stored another way), find none of the
 * free agents in scope (for new work), or the free agents lack a profile or call for queues and
 * channels the reads do not cover. Else whether the planning index was prepared beforehand, and
 * the plan: empty when the agents freed are not free in those reads; null when it would need
 * reading further (slots left free while a queue was cut short).
 */
export async function planOnReadsBehind(
  profiles: AgentProfiles,
  view: FreeAgentView,
  early: EarlyReads,
  scope: AgentScope,
  named: NamedChange,
): Promise<{ prepared: boolean; plan: Assignment[] | null } | null> {
  if (!sentFor(early, named)) return null;
  const work = 'work' in named ? named.work : [];
  const read = await Promise.all([early.refreshed, early.ahead.read]).then(([, r]) => r, () => null);
  if (!read || !work.every((id) => read.waiting.some((w) => w.id === id))) return null;
  const found = heldCandidates(profiles, view, scope);
  if (!found) return null;
  // Agents freed but not free as of reads made after their commit (their slots full, or gone
  // away since): nothing for this pass; whatever frees them later asks for a pass of its own.
  if (found.agents.length === 0 && 'freed' in named) return { prepared: false, plan: [] };
  if (found.agents.length === 0 || !early.ahead.covers(found.queueIds, found.channels)) return null;
  const prepared = Boolean(keptIndex(found.agents));
  const waiting = within(read.waiting, found.queueIds, found.channels);
  const plan = planFor(waiting, found.agents, read.strategies);
  return { prepared, plan: shortOfSlots(plan, found.freeSlots, waiting, early.ahead.limit) ? null : plan };
}
