/**
 * The free agents as a routing pass takes them, in memory: agents' profiles kept across passes by
 * version, candidates built once per free-agent row, and what a pass reads waiting work for
 * because of them. The SQL behind it is in free-agents.repository.ts.
 */
import type { Queryable } from '../platform/db';
import { CHANNELS, type Channel } from '../interactions/events.types';
import type { AgentCandidate } from './selection';
import { loadProfiles, readAllFree, type AgentProfile, type FreeAgentRow, type FreeAgentView } from './free-agents.repository';

/** A profile as held: `current` turns false once a newer one replaces it or it is pruned. */
interface Held {
  readonly profile: AgentProfile;
  current: boolean;
}

/**
 * Agents' profiles by id, kept across routing passes. A pass reads each free agent's
 * profile_version and re-reads the profiles whose version it does not hold, so a pass costs
 * the same few columns per agent however many skills and queues they have. A version is
 * moved by triggers on every change of skills, capacity or queues (migration 008), so a kept
 * profile is never stale beyond the pass that reads a newer version. Agents with the same queues
 * share one array of them (a pass decides its scope and its queues once per such array).
 */
export class AgentProfiles {
  private readonly byId = new Map<string, Held>();
  private readonly memberships = new Map<string, string[]>();

  /** The kept profile if it is at least `version` (versions only grow: a newer one is as good). */
  get(id: string, version: number): AgentProfile | undefined {
    return this.held(id, version)?.profile;
  }

  /** As `get`, with the flag that says whether it is still the one kept. */
  held(id: string, version: number): Held | undefined {
    const h = this.byId.get(id);
    return h && h.profile.version >= version ? h : undefined;
  }

  /** The newest profile kept, whatever its version. */
  latest(id: string): AgentProfile | undefined {
    return this.byId.get(id)?.profile;
  }

  set(id: string, profile: AgentProfile): void {
    const old = this.byId.get(id);
    if (old) old.current = false;
    this.byId.set(id, { profile: { ...profile, queueIds: this.shared(profile.queueIds) }, current: true });
  }

  /** Forget every agent not in `keep` (deleted, or not free for a long time). */
  prune(keep: Set<string>): void {
    for (const [id, h] of this.byId) {
      if (keep.has(id)) continue;
      h.current = false;
      this.byId.delete(id);
    }
    this.memberships.clear();
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * The one array kept for these queues (in the order given: profiles list them sorted). Arrays
   * of queues no agent has any more are dropped with a prune, or when as many are kept as
   * profiles may be (an array dropped early only costs the sharing).
   */
  private shared(queueIds: string[]): string[] {
    const key = queueIds.join(' ');
    const kept = this.memberships.get(key);
    if (kept) return kept;
    if (this.memberships.size >= PROFILE_CACHE_LIMIT) this.memberships.clear();
    this.memberships.set(key, queueIds);
    return queueIds;
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
  return candidatesOf(walked);
}

/**
 * The free agents as `view` last read them, as loadFreeCandidates gives them, without a read:
 * for a pass whose changes were read already (see RouterService.readBehind). Null when a
 * profile is not held at its agent's version (a read is needed).
 */
export function heldCandidates(profiles: AgentProfiles, view: FreeAgentView, scope?: AgentScope): FreeCandidates | null {
  const walked = walk(view.current(), profiles, scope);
  return walked.missing.length > 0 ? null : candidatesOf(walked);
}

const candidatesOf = (walked: Walked): FreeCandidates => ({
  agents: walked.agents,
  queueIds: [...walked.queues],
  channels: CHANNELS.filter((_, k) => walked.open & (1 << k)),
  freeSlots: walked.slots,
});

/**
 * The queues, channels and free slots a pass would read waiting work for if no agent had changed
 * since `view` last read: a walk over its rows as they stand (no read), widened by the agents
 * `scope` names, counted as free on every channel they have capacity for (a trigger names an
 * agent because a slot of theirs may have come free). For a pass to read waiting work ahead, in
 * the same round trip as the changes (see RouterService.pass), and check against what it finds.
 */
export function expectedCandidates(profiles: AgentProfiles, view: FreeAgentView, scope?: AgentScope): Omit<FreeCandidates, 'agents'> {
  const walked = walk(view.current(), profiles, scope);
  let { open, slots } = walked;
  for (const id of scope?.agentIds ?? []) {
    const p = profiles.latest(id);
    if (!p) continue;
    for (const q of p.queueIds) walked.queues.add(q);
    CHANNELS.forEach((ch, k) => {
      if (p.capacity[ch] > 0) open |= 1 << k;
      slots += p.capacity[ch];
    });
  }
  return { queueIds: [...walked.queues], channels: CHANNELS.filter((_, k) => open & (1 << k)), freeSlots: slots };
}

export async function loadAvailableAgents(db: Queryable, profiles?: AgentProfiles, scope?: AgentScope, view?: FreeAgentView): Promise<AgentCandidate[]> {
  return (await loadFreeCandidates(db, profiles, scope, view)).agents;
}

/** What a walk over the free-agent rows found: see `walk`. */
interface Walked {
  agents: AgentCandidate[];
  queues: Set<string>;
  open: number;
  slots: number;
  missing: string[];
}

/** What a free-agent row gives a pass, built once per row (a changed agent gets a new row). */
interface Built {
  held: Held;
  candidate: AgentCandidate;
  /** The candidate's queues: the array its profile shares with agents of the same queues. */
  queueIds: readonly string[];
  /** Bit k set: a slot free on CHANNELS[k]. */
  open: number;
  /** Free slots on every channel together. */
  slots: number;
}

const built = new WeakMap<FreeAgentRow, Built>();

/**
 * The walk: candidates in row order, their queues and open channels, and the agents whose
 * profiles are not held. It touches little per agent (a pass at 1,000 free agents spent most of
 * its 0.55–0.75 ms walk missing the CPU cache): the row, its built candidate and held profile;
 * the scope and the queues are decided once per shared array of queues.
 */
function walk(rows: FreeAgentRow[], profiles: AgentProfiles, scope?: AgentScope): Walked {
  const scopeQueues = scope ? new Set(scope.queueIds) : null;
  const scopeAgents = scope ? new Set(scope.agentIds) : null;
  const agents: AgentCandidate[] = [];
  const queues = new Set<string>();
  const missing: string[] = [];
  /** Per array of queues: whether its agents are in scope by queue (their queues then counted). */
  const byQueues = new Map<readonly string[], boolean>();
  let open = 0;
  let slots = 0;
  for (const r of rows) {
    const b = builtFor(r, profiles);
    if (!b) {
      missing.push(r.id);
      continue;
    }
    const qs = b.queueIds;
    if (qs.length === 0) continue;
    let inScope = byQueues.get(qs);
    if (inScope === undefined) {
      inScope = !scopeQueues || qs.some((q) => scopeQueues.has(q));
      byQueues.set(qs, inScope);
      if (inScope) for (const q of qs) queues.add(q);
    }
    if (!inScope) {
      if (!scopeAgents!.has(r.id)) continue;
      for (const q of qs) queues.add(q);
    }
    agents.push(b.candidate);
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
  const kept = built.get(r);
  if (kept && kept.held.current) return kept;
  const held = profiles.held(r.id, r.profileVersion);
  if (!held) return undefined;
  const p = held.profile;
  const candidate = { id: r.id, skills: p.skills, capacity: p.capacity, queueIds: p.queueIds, load: r.load, lastIdleAt: r.lastIdleAt, lastOfferAt: r.lastOfferAt };
  let open = 0;
  let slots = 0;
  CHANNELS.forEach((ch, k) => {
    if (r.load[ch] < p.capacity[ch]) open |= 1 << k;
    slots += Math.max(0, p.capacity[ch] - r.load[ch]);
  });
  const b = { held, candidate, queueIds: p.queueIds, open, slots };
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
