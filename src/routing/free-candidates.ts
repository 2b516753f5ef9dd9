/**
 * The free agents as a routing pass takes them, in memory: agents' profiles kept across passes by
 * version, candidates built once per free-agent row, and what a pass reads waiting work for
 * because of them. The SQL behind it is in free-agents.repository.ts.
 */
import type { Queryable } from '../platform/db';
import { CHANNELS, type Channel } from '../interactions/events.types';
import type { AgentCandidate } from './selection';
import { loadProfiles, readAllFree, type AgentProfile, type FreeAgentRow, type FreeAgentView } from './free-agents.repository';

/**
 * Agents' profiles by id, kept across routing passes. A pass reads each free agent's
 * profile_version and re-reads the profiles whose version it does not hold, so a pass costs
 * the same few columns per agent however many skills and queues they have. A version is
 * moved by triggers on every change of skills, capacity or queues (migration 008), so a kept
 * profile is never stale beyond the pass that reads a newer version.
 */
export class AgentProfiles {
  private readonly byId = new Map<string, AgentProfile>();

  /** The kept profile if it is at least `version` (versions only grow: a newer one is as good). */
  get(id: string, version: number): AgentProfile | undefined {
    const p = this.byId.get(id);
    return p && p.version >= version ? p : undefined;
  }

  set(id: string, profile: AgentProfile): void {
    this.byId.set(id, profile);
  }

  /** Forget every agent not in `keep` (deleted, or not free for a long time). */
  prune(keep: Set<string>): void {
    for (const id of this.byId.keys()) if (!keep.has(id)) this.byId.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }
}

/** Profiles are pruned to the agents seen in a pass when more than this many are kept. */
const PROFILE_CACHE_LIMIT = 20000;

/** Only these agents, and the agents of these queues (a pass for what a trigger named). */
export interface AgentScope {
  agentIds: string[];
  queueIds: string[];
}

/** Free agents who can take work, and what a pass reads waiting work for because of them. */
export interface FreeCandidates {
  agents: AgentCandidate[];
  /** Every queue those agents serve. */
  queueIds: string[];
  /** The channels on which at least one of them has a slot free. */
  channels: Channel[];
  /** Their free slots, on every channel together. */
  freeSlots: number;
}

/**
 * Agents who can take work, with their load and idle time (the later of becoming available and
 * last freeing a slot). Agents at capacity are left out here, not after reading them. Skills,
 * capacity and queues come from `profiles` when it holds the agent's current version, else
 * from a second read of just the agents it lacks (and are kept there for the next pass).
 * `scope`: only the agents named and those of the queues named. `view`: refreshed, instead of
 * reading every free agent. One walk over the free agents, with what is derived from each kept
 * from the pass before unless the agent changed: a pass at 1,000 free agents spent 2.4 ms in
 * six walks over them (cold in the cache each time), for 0.3 ms of SQL.
 */
export async function loadFreeCandidates(db: Queryable, profiles: AgentProfiles = new AgentProfiles(), scope?: AgentScope, view?: FreeAgentView): Promise<FreeCandidates> {
  const rows = view ? await view.refresh(db) : (await readAllFree(db)).agents;
  let walked = walk(rows, profiles, scope);
  if (walked.missing.length > 0) {
    await holdProfiles(db, profiles, walked.missing, rows);
    // Only agents deleted since the first read are still missing; they are left out.
    walked = walk(rows, profiles, scope);
  }
  return { agents: walked.agents, queueIds: [...walked.queues], channels: CHANNELS.filter((_, k) => walked.open & (1 << k)), freeSlots: walked.slots };
}

export async function loadAvailableAgents(db: Queryable, profiles?: AgentProfiles, scope?: AgentScope, view?: FreeAgentView): Promise<AgentCandidate[]> {
  return (await loadFreeCandidates(db, profiles, scope, view)).agents;
}

/** What a free-agent row gives a pass, built once per row (a changed agent gets a new row). */
interface Built {
  profile: AgentProfile;
  candidate: AgentCandidate;
  /** Bit k set: a slot free on CHANNELS[k]. */
  open: number;
  /** Free slots on every channel together. */
  slots: number;
}

const built = new WeakMap<FreeAgentRow, Built>();

/** The walk: candidates in row order, their queues and open channels, and the agents whose profiles are not held. */
function walk(rows: FreeAgentRow[], profiles: AgentProfiles, scope?: AgentScope): { agents: AgentCandidate[]; queues: Set<string>; open: number; slots: number; missing: string[] } {
  const scopeQueues = scope ? new Set(scope.queueIds) : null;
  const scopeAgents = scope ? new Set(scope.agentIds) : null;
  const agents: AgentCandidate[] = [];
  const queues = new Set<string>();
  const missing: string[] = [];
  let open = 0;
  let slots = 0;
  for (const r of rows) {
    const b = builtFor(r, profiles);
    if (!b) {
      missing.push(r.id);
      continue;
    }
    const c = b.candidate;
    if (c.queueIds.length === 0) continue;
    if (scope && !scopeAgents!.has(r.id) && !c.queueIds.some((q) => scopeQueues!.has(q))) continue;
    agents.push(c);
    for (const q of c.queueIds) queues.add(q);
    open |= b.open;
    slots += b.slots;
  }
  return { agents, queues, open, slots, missing };
}

/**
 * The row's candidate, kept while the row and its profile are: a row is replaced when its agent
 * changes (a new profile version included), so a pass builds candidates only for agents that changed.
 * Candidates are never modified (a plan copies the agents it changes). Undefined: the profile
 * at the row's version is not held.
 */
function builtFor(r: FreeAgentRow, profiles: AgentProfiles): Built | undefined {
  const p = profiles.get(r.id, r.profileVersion);
  if (!p) return undefined;
  const kept = built.get(r);
  if (kept && kept.profile === p) return kept;
  const candidate = { id: r.id, skills: p.skills, capacity: p.capacity, queueIds: p.queueIds, load: r.load, lastIdleAt: r.lastIdleAt, lastOfferAt: r.lastOfferAt };
  let open = 0;
  let slots = 0;
  CHANNELS.forEach((ch, k) => {
    if (r.load[ch] < p.capacity[ch]) open |= 1 << k;
    slots += Math.max(0, p.capacity[ch] - r.load[ch]);
  });
  const b = { profile: p, candidate, open, slots };
  built.set(r, b);
  return b;
}

/** Read into `profiles` the profiles of `missing` (agents of `rows` it does not hold at their version), in one read. */
async function holdProfiles(db: Queryable, profiles: AgentProfiles, missing: string[], rows: FreeAgentRow[]): Promise<void> {
  if (missing.length === 0) return;
  if (profiles.size + missing.length > PROFILE_CACHE_LIMIT) profiles.prune(new Set(rows.map((r) => r.id)));
  for (const [id, p] of await loadProfiles(db, missing)) profiles.set(id, p);
}

/**
 * Whether new work in any of these (queue, channel) pairs can be offered: some free agent of the
 * queue has a slot free on that channel, by `view` refreshed now (skills are not checked; a pass
 * decides those). What `mayOffer` answers for work, from memory after one read of the changes.
 */
export async function freeAgentFor(db: Queryable, profiles: AgentProfiles, view: FreeAgentView, work: Array<{ queueId: string; channel: Channel }>): Promise<boolean> {
  const rows = await view.refresh(db);
  await holdProfiles(db, profiles, rows.filter((r) => !profiles.get(r.id, r.profileVersion)).map((r) => r.id), rows);
  return rows.some((r) => {
    const p = profiles.get(r.id, r.profileVersion);
    return p !== undefined && work.some((w) => r.load[w.channel] < p.capacity[w.channel] && p.queueIds.includes(w.queueId));
  });
}
