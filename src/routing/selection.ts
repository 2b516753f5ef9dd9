/**
 * Pure ACD selection: which waiting interaction goes to which agent, and why. No I/O; `now`
 * comes in as an argument. The router feeds it rows read under the routing lock and writes
 * its plan back with conditional updates.
 */
import { CHANNELS, type Channel } from '../interactions/events.types';

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
 * (waiting + offers × agents in the queue), not waiting × agents. `index`: built for exactly
 * these agents beforehand (indexAgents), instead of here; kept with its agents longest idle
 * first, a contact that asks for no skills in a longest-idle queue looks at its best few agents
 * only (its eligible agents are then those with a slot free, already counted).
 */
export function planAssignments(
  waiting: WaitingInteraction[],
  agents: AgentCandidate[],
  strategyOf: (queueId: string) => Strategy,
  now: number,
  index?: AgentIndex,
): Assignment[] {
  // Per queue someone waits in: its agents, and how many have a free slot per channel (a copy,
  // counted down as the plan fills agents). Agents are copied only when the plan changes them.
  const wanted = new Map<string, Set<Channel>>();
  for (const i of waiting) {
    const chs = wanted.get(i.queueId);
    if (chs) chs.add(i.channel);
    else wanted.set(i.queueId, new Set([i.channel]));
  }
  const queues = new Map<string, PlanQueue>();
  const kept = index ?? indexAgents(agents, false, wanted);
  for (const id of wanted.keys()) {
    const q = kept.byQueue.get(id);
    queues.set(id, { agents: q?.agents ?? [], free: { ...(q?.free ?? NO_SLOTS) }, byIdle: q?.byIdle });
  }
  const pool = agents.slice();
  const plan: Assignment[] = [];
  for (const i of [...waiting].sort(compareWaiting)) {
    const q = queues.get(i.queueId)!;
    if (!q.free[i.channel]) continue;
    const required = Object.entries(i.requiredSkills);
    const strategy = strategyOf(i.queueId);
    // How many are eligible, and the five best of those who did not decline this contact and of
    // all of them (declined agents are the last resort).
    const fresh = new TopFive();
    const all = new TopFive();
    let eligible = 0;
    const consider = (idx: number, a: AgentCandidate): void => {
      const s = score(strategy, a, i);
      all.offer(idx, a, s);
      if (i.declinedBy.length === 0 || !i.declinedBy.includes(a.id)) fresh.offer(idx, a, s);
    };
    if (q.byIdle && strategy === 'longest-idle' && required.length === 0) {
      // In the order TopFive ranks them: the first five with a slot free (and not declined) are the best.
      eligible = q.free[i.channel];
      const next = longestIdleFirst(q.byIdle, pool, i.channel);
      for (let idx = next(); idx >= 0; idx = next()) {
        consider(idx, pool[idx]!);
        if (fresh.size === 5 && all.size === 5) break;
      }
    } else {
      for (const idx of q.agents) {
        const a = pool[idx]!;
        if (!hasFreeSlot(a, i.channel) || !meetsEach(a, required)) continue;
        eligible++;
        consider(idx, a);
      }
    }
    if (eligible === 0) continue;
    const ranked = fresh.size > 0 ? fresh : all;
    const { idx: bestIdx, a: best } = ranked.best;
    const chosen: AgentCandidate = { ...best, load: { ...best.load, [i.channel]: best.load[i.channel] + 1 }, lastOfferAt: now };
    pool[bestIdx] = chosen;
    if (!hasFreeSlot(chosen, i.channel)) {
      for (const id of chosen.queueIds) {
        const free = queues.get(id)?.free;
        if (free) free[i.channel]--;
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

const NO_SLOTS: Slots = { voice: 0, chat: 0, sms: 0, email: 0 };

/** Agents by queue: see indexAgents. */
export interface AgentIndex {
  readonly byQueue: Map<string, IndexedQueue>;
}

interface IndexedQueue {
  /** Indexes into the agents indexed. */
  readonly agents: number[];
  /** How many of them have a slot free, per channel. */
  readonly free: Slots;
  /**
   * The same agents as runs, each in longest-idle order (by idle time, then id), with an index
   * kept for several plans: one run per index joined (see joinIndexes).
   */
  readonly byIdle?: number[][];
}

interface PlanQueue {
  agents: number[];
  free: Slots;
  byIdle?: number[][];
}

/** Before `b` in longest-idle order (TopFive's, for that strategy). */
const idleBefore = (a: AgentCandidate, b: AgentCandidate): boolean => a.lastIdleAt - b.lastIdleAt < 0 || (a.lastIdleAt === b.lastIdleAt && a.id < b.id);

/**
 * The agents of these runs with a slot free on `channel`, in longest-idle order, one per call
 * (-1 once none is left): the runs merged only as far as they are read.
 */
function longestIdleFirst(runs: number[][], pool: AgentCandidate[], channel: Channel): () => number {
  const heads = runs.map(() => 0);
  return () => {
    let from = -1;
    let best = -1;
    runs.forEach((run, r) => {
      while (heads[r]! < run.length && !hasFreeSlot(pool[run[heads[r]!]!]!, channel)) heads[r]!++;
      const idx = run[heads[r]!];
      if (idx !== undefined && (best < 0 || idleBefore(pool[idx]!, pool[best]!))) {
        from = r;
        best = idx;
      }
    });
    if (from >= 0) heads[from]!++;
    return best;
  };
}

/**
 * One index for agents given as these parts one after another (each part's index over its own
 * agents, `size` of them): for a plan over candidates put together from groups prepared apart.
 */
export function joinIndexes(parts: Array<{ index: AgentIndex; size: number }>): AgentIndex {
  if (parts.length === 1) return parts[0]!.index;
  const byQueue = new Map<string, PlanQueue>();
  let offset = 0;
  for (const { index, size } of parts) {
    const shift = (xs: number[]): number[] => xs.map((x) => x + offset);
    for (const [id, q] of index.byQueue) {
      let joined = byQueue.get(id);
      if (!joined) byQueue.set(id, (joined = { agents: [], free: { ...NO_SLOTS }, byIdle: [] }));
      joined.agents.push(...shift(q.agents));
      for (const ch of CHANNELS) joined.free[ch] += q.free[ch];
      if (q.byIdle && joined.byIdle) joined.byIdle.push(...q.byIdle.map(shift));
      else joined.byIdle = undefined;
    }
    offset += size;
  }
  return { byQueue };
}

/**
 * Index agents by queue for planAssignments: per queue, its agents and how many have a slot free
 * on each channel. `idleOrder`: also each queue's agents in longest-idle order, for an index
 * built once for several plans (sorting costs more than one plan's walk saves). `only`: just
 * these queues and channels (the counts of others stay zero), for an index built for one plan.
 */
export function indexAgents(agents: AgentCandidate[], idleOrder = false, only?: Map<string, Set<Channel>>): AgentIndex {
  const byQueue = new Map<string, PlanQueue>();
  agents.forEach((a, idx) => {
    for (const id of a.queueIds) {
      const channels = only ? only.get(id) : CHANNELS;
      if (!channels) continue;
      let q = byQueue.get(id);
      if (!q) byQueue.set(id, (q = { agents: [], free: { ...NO_SLOTS } }));
      q.agents.push(idx);
      for (const ch of channels) if (hasFreeSlot(a, ch)) q.free[ch]++;
    }
  });
  if (idleOrder) {
    const order = (x: number, y: number): number => (idleBefore(agents[x]!, agents[y]!) ? -1 : 1);
    for (const q of byQueue.values()) q.byIdle = [[...q.agents].sort(order)];
  }
  return { byQueue };
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
