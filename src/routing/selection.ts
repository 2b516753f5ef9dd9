/**
 * Pure ACD selection: which waiting interaction goes to which agent, and why. No I/O; `now`
 * comes in as an argument. The router feeds it rows read under the routing lock and writes
 * its plan back with conditional updates.
 */
import type { Channel } from '../interactions/events.types';

export const STRATEGIES = ['longest-idle', 'least-occupied', 'round-robin', 'skills-weighted'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export type Slots = Record<Channel, number>;

export interface WaitingInteraction {
  id: string;
  queueId: string;
  channel: Channel;
  priority: number;
  /** Epoch ms the interaction started waiting (kept across re-queues). */
  queuedAt: number;
  /** Skills required after escalation relaxed them: {skill: minLevel}. */
  requiredSkills: Record<string, number>;
  /** Agents who already rejected or missed this interaction: offered to them only as a last resort. */
  declinedBy: string[];
}

export interface AgentCandidate {
  id: string;
  queueIds: string[];
  skills: Record<string, number>;
  capacity: Slots;
  load: Slots;
  /** Epoch ms since the agent has been idle (last became available or last freed a slot). */
  lastIdleAt: number;
  /** Epoch ms of the agent's last offer, for round-robin; 0 when never. */
  lastOfferAt: number;
}

export interface Explanation {
  strategy: Strategy;
  reason: string;
  eligibleAgents: number;
  rank: Array<{ agentId: string; score: number }>;
  declinedFallback: boolean;
}

export interface Assignment {
  interactionId: string;
  agentId: string;
  explanation: Explanation;
}

/** Whether the agent has every required skill at its minimum level (requirements as entries, taken once per contact). */
const meetsEach = (agent: Pick<AgentCandidate, 'skills'>, required: Array<[string, number]>): boolean =>
  required.every(([skill, min]) => (agent.skills[skill] ?? -1) >= min);

export function hasFreeSlot(agent: Pick<AgentCandidate, 'capacity' | 'load'>, channel: Channel): boolean {
  return agent.load[channel] < agent.capacity[channel];
}

const occupancy = (a: AgentCandidate): number => {
  const cap = Object.values(a.capacity).reduce((s, n) => s + n, 0);
  const load = Object.values(a.load).reduce((s, n) => s + n, 0);
  return cap === 0 ? 1 : load / cap;
};

/** Lower score = better. Ties fall back to longest idle, then agent id, so every order is total. */
export function score(strategy: Strategy, a: AgentCandidate, i: WaitingInteraction): number {
  switch (strategy) {
    case 'longest-idle':
      return a.lastIdleAt;
    case 'least-occupied':
      return occupancy(a);
    case 'round-robin':
      return a.lastOfferAt;
    case 'skills-weighted':
      return -Object.keys(i.requiredSkills).reduce((s, skill) => s + (a.skills[skill] ?? 0), 0);
  }
}

function describe(strategy: Strategy, a: AgentCandidate, now: number): string {
  switch (strategy) {
    case 'longest-idle':
      return `longest idle among eligible agents (idle ${Math.max(0, Math.round((now - a.lastIdleAt) / 1000))}s)`;
    case 'least-occupied':
      return `least occupied among eligible agents (${Math.round(occupancy(a) * 100)}% of capacity in use)`;
    case 'round-robin':
      return a.lastOfferAt === 0 ? 'next in rotation (never offered before)' : 'next in rotation (longest since last offer)';
    case 'skills-weighted':
      return 'highest combined level in the required skills';
  }
}

export function compareWaiting(a: WaitingInteraction, b: WaitingInteraction): number {
  return b.priority - a.priority || a.queuedAt - b.queuedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Plan offers: highest priority first, then longest waiting; each goes to the best eligible
 * agent under its queue's strategy. Capacity is consumed as the plan goes, so one plan never
 * over-fills an agent. Agents are indexed by queue, and a count of agents with a free slot per
 * (queue, channel) lets contacts nobody can take be passed over at once, so a pass costs about
 * (waiting + offers × agents in the queue), not waiting × agents.
 */
export function planAssignments(
  waiting: WaitingInteraction[],
  agents: AgentCandidate[],
  strategyOf: (queueId: string) => Strategy,
  now: number,
): Assignment[] {
  // Only (queue, channel) pairs someone waits in are indexed; agents are copied only when the plan changes them.
  // Per queue: its agents, the channels wanted there, and how many agents have a free slot on each.
  const queues = new Map<string, QueueIndex>();
  for (const i of waiting) {
    let q = queues.get(i.queueId);
    if (!q) queues.set(i.queueId, (q = { agents: [], wanted: [], free: {} }));
    if (q.free[i.channel] === undefined) {
      q.free[i.channel] = 0;
      q.wanted.push(i.channel);
    }
  }
  const pool = agents.slice();
  for (let idx = 0; idx < pool.length; idx++) {
    const a = pool[idx]!;
    for (const id of a.queueIds) {
      const q = queues.get(id);
      if (!q) continue;
      q.agents.push(idx);
      for (const ch of q.wanted) if (hasFreeSlot(a, ch)) q.free[ch]!++;
    }
  }
  const plan: Assignment[] = [];
  for (const i of [...waiting].sort(compareWaiting)) {
    const q = queues.get(i.queueId)!;
    if (!q.free[i.channel]) continue;
    const required = Object.entries(i.requiredSkills);
    const strategy = strategyOf(i.queueId);
    // One walk over the queue's agents: how many are eligible, and the five best of those who
    // did not decline this contact and of all of them (declined agents are the last resort).
    const fresh = new TopFive();
    const all = new TopFive();
    let eligible = 0;
    for (const idx of q.agents) {
      const a = pool[idx]!;
      if (!hasFreeSlot(a, i.channel) || !meetsEach(a, required)) continue;
      eligible++;
      const s = score(strategy, a, i);
      all.offer(idx, a, s);
      if (i.declinedBy.length === 0 || !i.declinedBy.includes(a.id)) fresh.offer(idx, a, s);
    }
    if (eligible === 0) continue;
    const ranked = fresh.size > 0 ? fresh : all;
    const { idx: bestIdx, a: best } = ranked.best;
    const chosen: AgentCandidate = { ...best, load: { ...best.load, [i.channel]: best.load[i.channel] + 1 }, lastOfferAt: now };
    pool[bestIdx] = chosen;
    if (!hasFreeSlot(chosen, i.channel)) {
      for (const id of chosen.queueIds) {
        const free = queues.get(id)?.free;
        if (free?.[i.channel] !== undefined) free[i.channel]!--;
      }
    }
    plan.push({
      interactionId: i.id,
      agentId: chosen.id,
      explanation: {
        strategy,
        reason: describe(strategy, chosen, now),
        eligibleAgents: eligible,
        rank: ranked.entries.map((r) => ({ agentId: r.a.id, score: r.s })),
        declinedFallback: fresh.size === 0,
      },
    });
  }
  return plan;
}

interface QueueIndex {
  /** Indexes into the plan's pool of agents. */
  agents: number[];
  wanted: Channel[];
  free: Partial<Record<Channel, number>>;
}

interface Ranked {
  idx: number;
  a: AgentCandidate;
  s: number;
}

/** The five best candidates offered, best first: lower score, then longer idle, then agent id. No full sort. */
class TopFive {
  readonly entries: Ranked[] = [];

  get size(): number {
    return this.entries.length;
  }

  get best(): Ranked {
    return this.entries[0]!;
  }

  offer(idx: number, a: AgentCandidate, s: number): void {
    const top = this.entries;
    if (top.length === 5 && !TopFive.before(a, s, top[4]!)) return;
    let k = Math.min(top.length, 4);
    const entry = { idx, a, s };
    if (top.length < 5) top.push(entry);
    while (k > 0 && TopFive.before(a, s, top[k - 1]!)) {
      top[k] = top[k - 1]!;
      k--;
    }
    top[k] = entry;
  }

  private static before(a: AgentCandidate, s: number, y: Ranked): boolean {
    return (s - y.s || a.lastIdleAt - y.a.lastIdleAt || (a.id < y.a.id ? -1 : 1)) < 0;
  }
}

/** Required skills after relaxing every minimum level by `relax` (never below zero). */
export function relaxSkills(required: Record<string, number>, relax: number): Record<string, number> {
  if (relax <= 0) return required;
  return Object.fromEntries(Object.entries(required).map(([k, v]) => [k, Math.max(0, v - relax)]));
}
