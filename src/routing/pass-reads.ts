/**
 * What a routing pass reads and plans from: how many waiting contacts it reads first, the read
 * of waiting work sent ahead of knowing exactly what the pass needs (behind the free agents'
 * changes, or behind a message's statement), and the plan over what was read. The pass itself
 * is RouterService's.
 */
import type { Pool } from 'pg';
import type { Queryable } from '../platform/db';
import type { Channel } from '../interactions/events.types';
import { planAssignments, type AgentCandidate, type Assignment, type Strategy, type WaitingInteraction } from './selection';
import { loadWaiting } from './routing.repository';
import { keptIndex, type FreeCandidates } from './free-candidates';
import type { CreatedOffer } from './offers.repository';

/** How many waiting interactions one pass considers per queue and channel (the best ones); another pass follows if it read that many and offered some. */
export const PASS_LIMIT = 500;

/**
 * A pass for agents with few free slots first reads this many per queue and channel, plus a few
 * per slot: the best of a long queue are enough unless skills pass them over, and then it reads
 * PASS_LIMIT after all (reading 500 waiting SMS for one freed slot was most of an available ->
 * offer at 10,000 waiting).
 */
const FEW_BASE = 16;
const FEW_PER_SLOT = 4;

/** How many waiting interactions per queue and channel a pass first reads for agents with this many free slots. */
export const limitFor = (freeSlots: number): number => Math.min(PASS_LIMIT, FEW_BASE + FEW_PER_SLOT * freeSlots);

/** The contacts of `waiting` in these queues and on these channels. */
export const within = (waiting: WaitingInteraction[], queueIds: string[], channels: Channel[]): WaitingInteraction[] => {
  const queues = new Set(queueIds);
  return waiting.filter((w) => queues.has(w.queueId) && channels.includes(w.channel));
};

/** The plan for these contacts and agents (with the planning index kept for the agents, if any: see prepareCandidates). */
export const planFor = (waiting: WaitingInteraction[], agents: AgentCandidate[], strategies: Map<string, Strategy>): Assignment[] =>
  planAssignments(waiting, agents, (q) => strategies.get(q) ?? 'longest-idle', Date.now(), keptIndex(agents));

/** Slots left free while a queue and channel were read only to `limit`: the contacts beyond may fit them. */
export const shortOfSlots = (plan: Assignment[], freeSlots: number, waiting: WaitingInteraction[], limit: number): boolean =>
  limit < PASS_LIMIT && plan.length < freeSlots && waiting.length >= limit;

/** How a pass's transaction runs: see RouterService.pass (asyncCommit) and createRouterPool. */
export const PASS_TRANSACTION = (pool: Pool) => ({ routerLock: true, genericPlans: true, asyncCommit: true, pool });

export interface PassResult {
  offered: number;
  /** A queue and channel was read to PASS_LIMIT and offered from: another pass follows. */
  full: boolean;
  /** (queue, channel) keys where an offer was made. */
  offeredIn: Set<string>;
}

/** A read of waiting work sent ahead of knowing which queues and channels a pass needs. */
export interface WaitingAhead {
  limit: number;
  read: ReturnType<typeof loadWaiting>;
  /** Whether it read every (queue, channel) pair of these (its rows are then filtered to them). */
  covers(queueIds: string[], channels: Channel[]): boolean;
}

/**
 * Send the waiting read for the queues and channels `expected` (see expectedCandidates) now, so
 * it travels right behind the free agents' changes instead of a round trip after them. Used only
 * when the changes leave the pass inside what it read (an agent changed since the view's last read
 * may open a queue or channel it did not); otherwise the pass reads again. Its limit comes from
 * the expected free slots: a plan short of slots then reads further, as after any first read.
 * Null when nothing is expected (nobody free before, or only agents whose profiles are unknown).
 */
export function readWaitingAhead(tx: Queryable, expected: Omit<FreeCandidates, 'agents'>): WaitingAhead | null {
  if (expected.queueIds.length === 0 || expected.channels.length === 0) return null;
  const limit = limitFor(expected.freeSlots);
  const read = loadWaiting(tx, expected.queueIds, expected.channels, limit);
  // A pass that fails before awaiting it (its transaction then failed) must not leave it unhandled.
  read.catch(() => undefined);
  const queues = new Set(expected.queueIds);
  return { limit, read, covers: (queueIds, channels) => queueIds.every((q) => queues.has(q)) && channels.every((c) => expected.channels.includes(c)) };
}

/**
 * Reads of a pass sent on another connection right behind a write that may lead to an offer (see
 * RouterService.readBehind and readsBehindAvailable): the free agents' changes, applied to the
 * view as they come, and the waiting work the agents expected free call for.
 */
export interface EarlyReads {
  refreshed: Promise<unknown>;
  ahead: WaitingAhead;
  /** The ids of the contacts that statement may have queued. */
  opening: Set<string>;
  /** The agents whose change to available that statement committed (see RouterService.readsBehindAvailable). */
  freed: Set<string>;
  /** A claim of one of the contacts `opening` names, sent ahead of these reads (see claim-ahead.ts): its offer, or null. */
  claimedAhead?: Promise<CreatedOffer | null>;
}
