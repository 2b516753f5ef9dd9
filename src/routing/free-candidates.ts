/**
 * The free agents as a routing pass takes them, in memory: candidates built once per free-agent
 * row (from the profiles kept in agent-profiles.ts), the walk over them kept while no agent or
 * profile changes (and the planning index of its groups, once prepared), and what a pass reads
 * waiting work for because of them. The SQL behind it is in free-agents.repository.ts.
 */
import type { Queryable } from '../platform/db';
import { CHANNELS, type Channel } from '../interactions/events.types';
import { indexAgents, joinIndexes, type AgentCandidate, type AgentIndex, type Slots } from './selection';
import { loadProfiles, readAllFree, type FreeAgentRow, type FreeAgentView } from './free-agents.repository';
import { AgentProfiles, PROFILE_CACHE_LIMIT, type Held } from './agent-profiles';

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
 * from the pass before unless the agent changed (a pass at 1,000 free agents spent 2.4 ms in
 * six walks over them, cold in the cache each time, for 0.3 ms of SQL), and the walk itself kept
 * while neither the view's rows nor the profiles change (see walkView).
 */
export async function loadFreeCandidates(db: Queryable, profiles: AgentProfiles = new AgentProfiles(), scope?: AgentScope, view?: FreeAgentView): Promise<FreeCandidates> {
  const rows = view ? await view.refresh(db) : (await readAllFree(db)).agents;
  const walkNow = (): Walked => (view ? walkFor(view, profiles, scope) : walk(rows, profiles));
  let walked = walkNow();
  if (walked.missing.length > 0) {
    await holdProfiles(db, profiles, walked.missing, rows);
    // Only agents deleted since the first read are still missing; they are left out.
    walked = walkNow();
  }
  return scoped(walked, scope);
}

/**
 * The free agents as `view` last read them, as loadFreeCandidates gives them, without a read:
 * for a pass whose changes were read already (see RouterService.readBehind). Null when a
 * profile is not held at its agent's version (a read is needed).
 */
export function heldCandidates(profiles: AgentProfiles, view: FreeAgentView, scope?: AgentScope): FreeCandidates | null {
  const walked = walkFor(view, profiles, scope);
  return walked.missing.length > 0 ? null : scoped(walked, scope);
}

/**
 * Walk the view's free agents now and index each group of them for planning (longest-idle order
 * included), so that a pass soon after finds both done unless an agent or a profile changes
 * meanwhile: while the router is idle, and while a statement that may queue work is on its way
 * (see RouterService.prepareWhileIdle and readBehind). Groups whose profiles are not held are
 * not walked (the pass reads them).
 */
export function prepareCandidates(profiles: AgentProfiles, view: FreeAgentView): void {
  for (const g of walkView(view, profiles).groups) g.index ??= indexAgents(g.agents, true);
}

/**
 * The planning index for these candidates (the array a walk handed out) when prepareCandidates
 * prepared their groups: the groups' indexes joined (the agents a scope names outside them are
 * indexed here, being few). Kept with the array.
 */
export function keptIndex(agents: AgentCandidate[]): AgentIndex | undefined {
  const kept = indexes.get(agents);
  if (kept) return kept;
  const parts = partsOf.get(agents);
  if (!parts || parts.some((g) => g.whole && !g.index)) return undefined;
  const index = joinIndexes(parts.map((g) => ({ index: g.index ?? indexAgents(g.agents, true), size: g.agents.length })));
  indexes.set(agents, index);
  return index;
}

const indexes = new WeakMap<AgentCandidate[], AgentIndex>();
/** The groups (or, for agents named outside the queues named, parts of groups) a walk's candidates were put together from, in order. */
const partsOf = new WeakMap<AgentCandidate[], Group[]>();

/**
 * The queues, channels and free slots a pass would read waiting work for if no agent had changed
 * since `view` last read: a walk over its rows as they stand (no read), widened by the agents
 * `scope` names, counted as free on every channel they have capacity for (a trigger names an
 * agent because a slot of theirs may have come free). For a pass to read waiting work ahead, in
 * the same round trip as the changes (see RouterService.pass), and check against what it finds.
 */
export function expectedCandidates(profiles: AgentProfiles, view: FreeAgentView, scope?: AgentScope): Omit<FreeCandidates, 'agents'> {
  const found = scoped(walkFor(view, profiles, scope), scope);
  const queues = new Set(found.queueIds);
  let open = CHANNELS.reduce((bits, ch, k) => (found.channels.includes(ch) ? bits | (1 << k) : bits), 0);
  let slots = found.freeSlots;
  for (const id of scope?.agentIds ?? []) {
    const p = profiles.latest(id);
    if (!p) continue;
    for (const q of p.queueIds) queues.add(q);
    CHANNELS.forEach((ch, k) => {
      if (p.capacity[ch] > 0) open |= 1 << k;
      slots += p.capacity[ch];
    });
  }
  return { queueIds: [...queues], channels: CHANNELS.filter((_, k) => open & (1 << k)), freeSlots: slots };
}

export async function loadAvailableAgents(db: Queryable, profiles?: AgentProfiles, scope?: AgentScope, view?: FreeAgentView): Promise<AgentCandidate[]> {
  return (await loadFreeCandidates(db, profiles, scope, view)).agents;
}

/** Free agents who serve the same queues (the array their profiles share), as a walk found them. */
interface Group {
  queueIds: readonly string[];
  agents: AgentCandidate[];
  /** Bit k set: one of them has a slot free on CHANNELS[k]. */
  open: number;
  slots: number;
  /** A group the walk found (false: the agents a scope named out of one). */
  whole: boolean;
  /** Their planning index, once prepared (see prepareCandidates). */
  index?: AgentIndex;
}

/** What a walk over the free-agent rows found: the candidates by their queues, and the agents whose profiles are not held. */
interface Walked {
  groups: Group[];
  missing: string[];
  /** Every candidate, as `scoped` gives them without a scope: made once per walk. */
  all?: FreeCandidates;
}

/** A view's walk, kept while its rows and the profiles stand (views that keep no generation, such as tests' stand-ins, are walked each time). */
const walks = new WeakMap<FreeAgentView, { rows: number; profiles: AgentProfiles; held: number; walked: Walked }>();

function walkView(view: FreeAgentView, profiles: AgentProfiles): Walked {
  const rows = (view as { generation?: number }).generation;
  const kept = walks.get(view);
  if (rows !== undefined && kept && kept.rows === rows && kept.profiles === profiles && kept.held === profiles.generation) return kept.walked;
  const walked = walk(view.current(), profiles);
  if (rows !== undefined) walks.set(view, { rows, profiles, held: profiles.generation, walked });
  return walked;
}

/**
 * The walk a pass in `scope` needs. A scope that names agents only (a pass for agents freed)
 * considers no one else: those agents' rows alone are walked. Otherwise the view's walk, kept
 * while it stands; but any agent's change moves the view, and walking 1,000 free agents again for
 * the one an agent freed took 0.87 ms at p50 of an available -> offer of 6.3 ms.
 */
function walkFor(view: FreeAgentView, profiles: AgentProfiles, scope?: AgentScope): Walked {
  return scope && scope.queueIds.length === 0 ? walk(view.rowsOf(scope.agentIds), profiles) : walkView(view, profiles);
}

/**
 * The walk: candidates grouped by their (shared) array of queues, in row order, with each
 * group's open channels and free slots, and the agents whose profiles are not held. It touches
 * little per agent (a pass at 1,000 free agents spent most of its 0.55–0.75 ms walk missing the
 * CPU cache): the row, its built candidate and held profile.
 */
function walk(rows: FreeAgentRow[], profiles: AgentProfiles): Walked {
  const groups = new Map<readonly string[], Group>();
  const missing: string[] = [];
  for (const r of rows) {
    const b = builtFor(r, profiles);
    if (!b) {
      missing.push(r.id);
      continue;
    }
    const qs = b.queueIds;
    if (qs.length === 0) continue;
    let g = groups.get(qs);
    if (!g) groups.set(qs, (g = { queueIds: qs, agents: [], open: 0, slots: 0, whole: true }));
    g.agents.push(b.candidate);
    g.open |= b.open;
    g.slots += b.slots;
  }
  return { groups: [...groups.values()], missing };
}

/**
 * The candidates of a walk within `scope` (the agents of the queues it names, and the agents it
 * names), with the queues they serve, the channels one of them has a slot free on and their
 * free slots. The scope is decided once per group; without one, or when it takes every group
 * whole, the same object each time (a planning index kept for its agents then serves).
 */
function scoped(walked: Walked, scope?: AgentScope): FreeCandidates {
  const scopeQueues = scope ? new Set(scope.queueIds) : null;
  const whole = walked.groups.map((g) => !scopeQueues || g.queueIds.some((q) => scopeQueues.has(q)));
  if (whole.every(Boolean)) return (walked.all ??= candidatesOf(walked.groups));
  const named = new Set(scope!.agentIds);
  const parts: Group[] = [];
  walked.groups.forEach((g, k) => {
    if (whole[k]) return parts.push(g);
    if (named.size === 0) return;
    // Agents named outside the queues named: each brings its own slots (built again, as the group's are summed).
    const agents = g.agents.filter((a) => named.has(a.id));
    if (agents.length > 0) parts.push({ queueIds: g.queueIds, agents, ...openOf(agents), whole: false });
  });
  return candidatesOf(parts);
}

/** The channels with a slot free (bit k: CHANNELS[k]) and the free slots on all of them, of an agent with this capacity and load. */
function freeOf(capacity: Slots, load: Slots): { open: number; slots: number } {
  let open = 0;
  let slots = 0;
  CHANNELS.forEach((ch, k) => {
    if (load[ch] < capacity[ch]) open |= 1 << k;
    slots += Math.max(0, capacity[ch] - load[ch]);
  });
  return { open, slots };
}

const openOf = (agents: AgentCandidate[]): { open: number; slots: number } =>
  agents.map((a) => freeOf(a.capacity, a.load)).reduce((x, y) => ({ open: x.open | y.open, slots: x.slots + y.slots }), { open: 0, slots: 0 });

function candidatesOf(groups: Group[]): FreeCandidates {
  const queues = new Set<string>();
  let open = 0;
  let slots = 0;
  for (const g of groups) {
    for (const q of g.queueIds) queues.add(q);
    open |= g.open;
    slots += g.slots;
  }
  const agents = groups.flatMap((g) => g.agents);
  partsOf.set(agents, groups);
  return { agents, queueIds: [...queues], channels: CHANNELS.filter((_, k) => open & (1 << k)), freeSlots: slots };
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
  const b = { held, candidate, queueIds: p.queueIds, ...freeOf(p.capacity, r.load) };
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
