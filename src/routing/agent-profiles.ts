/**
 * Agents' skills, capacity and queues as routing passes hold them across passes, by version (see
 * AgentProfiles). The free-agent walk that uses them is in free-candidates.ts.
 */
import type { AgentProfile } from './free-agents.repository';

/** A profile as held: `current` turns false once a newer one replaces it or it is pruned. */
export interface Held {
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
  /** Moves whenever a profile is set or pruned: what is derived from the profiles held is kept while it stands. */
  generation = 0;

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
    this.generation++;
    this.byId.set(id, { profile: { ...profile, queueIds: this.shared(profile.queueIds) }, current: true });
  }

  /** Forget every agent not in `keep` (deleted, or not free for a long time). */
  prune(keep: Set<string>): void {
    this.generation++;
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
export const PROFILE_CACHE_LIMIT = 20000;
