/**
 * The reads a routing pass for new work begins with, sent right behind the statement of messages
 * that may open conversations (on its connection, so Postgres runs them once it has committed),
 * and the plan made from them. Which passes use them, and when they may be sent, is
 * RouterService's: see its readBehind and passOnReadsBehind.
 */
import type { Queryable } from '../platform/db';
import type { Assignment } from './selection';
import { planFor, readWaitingAhead, shortOfSlots, within, type EarlyReads } from './pass-reads';
import type { FreeAgentView } from './free-agents.repository';
import { expectedCandidates, heldCandidates, keptIndex, prepareCandidates, type AgentScope } from './free-candidates';
import type { AgentProfiles } from './agent-profiles';

export class ReadsBehindMessages {
  /** The reads sent last and not yet taken by a pass. */
  private early: EarlyReads | null = null;
  /** Reads sent and not yet answered: no more are sent meanwhile. */
  underWay = false;

  constructor(
    private readonly profiles: AgentProfiles,
    private readonly view: FreeAgentView,
  ) {}

  /**
   * Send on `db`, right behind a statement just issued there (messages whose conversations, if
   * they open, get the ids `opening`): the free agents' changes (applied to the view as they
   * come) and the waiting work the view's agents call for. Null when nothing is expected (nobody
   * free), else settled once both are answered.
   */
  send(db: Queryable, opening: string[]): Promise<unknown> | null {
    // As many contacts per queue and channel as a pass for this many new ones reads first: sent
    // behind every such statement while the router is idle, they must stay few.
    const expected = expectedCandidates(this.profiles, this.view);
    const ahead = readWaitingAhead(db, { ...expected, freeSlots: Math.min(expected.freeSlots, opening.length) });
    if (!ahead) return null;
    const refreshed = this.view.refresh(db);
    const settled = Promise.allSettled([refreshed, ahead.read]);
    // While the statement and these reads are on their way (once the caller has sent them, which
    // it does before any microtask runs): the pass's walk and planning index, then at hand.
    queueMicrotask(() => prepareCandidates(this.profiles, this.view));
    this.early = { refreshed, ahead, opening: new Set(opening) };
    this.underWay = true;
    void settled.then(() => (this.underWay = false));
    return settled;
  }

  /** The reads sent last, for the next pass (which takes them whether it uses them or not). */
  take(): EarlyReads | null {
    const early = this.early;
    this.early = null;
    return early;
  }
}

/**
 * The plan for the contacts `work` names from reads sent behind their statement, for the free
 * agents in `scope`. Null when they cannot be planned from those reads: the trigger names other
 * contacts, the reads did not see every one it names (the statement failed; its messages were
 * stored another way) or failed, or the free agents lack a profile or call for queues and
 * channels the reads do not cover. Else whether the planning index was prepared beforehand, and
 * the plan, null when it would need reading further (slots left free while a queue was cut short).
 */
export async function planOnReadsBehind(
  profiles: AgentProfiles,
  view: FreeAgentView,
  early: EarlyReads,
  scope: AgentScope,
  work: string[],
): Promise<{ prepared: boolean; plan: Assignment[] | null } | null> {
  if (!work.every((id) => early.opening.has(id))) return null;
  const read = await Promise.all([early.refreshed, early.ahead.read]).then(([, r]) => r, () => null);
  if (!read || !work.every((id) => read.waiting.some((w) => w.id === id))) return null;
  const found = heldCandidates(profiles, view, scope);
  if (!found || found.agents.length === 0 || !early.ahead.covers(found.queueIds, found.channels)) return null;
  const prepared = Boolean(keptIndex(found.agents));
  const waiting = within(read.waiting, found.queueIds, found.channels);
  const plan = planFor(waiting, found.agents, read.strategies);
  return { prepared, plan: shortOfSlots(plan, found.freeSlots, waiting, early.ahead.limit) ? null : plan };
}
