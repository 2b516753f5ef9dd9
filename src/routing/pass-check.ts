/**
 * Whether a trigger's hints call for a routing pass at all, decided without the routing lock:
 * new work in a (queue, channel) where this process's last pass there offered goes straight to a
 * pass (presumed worth it); otherwise one read says whether an offer can follow. The pass itself
 * is RouterService's.
 */
import type { Queryable } from '../platform/db';
import { workKey, type RoutingHint } from './routing-hints';
import { mayOffer, type FreeAgentView } from './free-agents.repository';
import { freeAgentFor } from './free-candidates';
import type { AgentProfiles } from './agent-profiles';

export class PassCheck {
  /**
   * (queue, channel) pairs where a pass of this process made an offer: new work there goes
   * straight to a pass, without the check, until such a pass offers nothing there (which removes
   * the pair; the next contact is checked again). At most one per queue and channel.
   */
  private readonly offeringIn = new Set<string>();

  constructor(
    private readonly db: Queryable,
    private readonly profiles: AgentProfiles,
    private readonly view: FreeAgentView,
  ) {}

  /**
   * When every hint is new work in a (queue, channel) where the last pass offered, the keys of
   * those pairs (a pass is presumed worth it); otherwise none, and the check decides.
   */
  presumed(hints: RoutingHint[]): string[] {
    const keys = hints.map((h) => ('queueId' in h && h.queueId ? workKey(h.queueId, h.channel) : null));
    return keys.every((k): k is string => k !== null && this.offeringIn.has(k)) ? keys : [];
  }

  /**
   * Whether the hinted changes can lead to an offer (no lock). New work only: some free agent of
   * its queue has a slot there, by the free-agent view (one read of what changed). Freed agents:
   * one read of whether work they can take waits.
   */
  async worthAPass(hints: RoutingHint[]): Promise<boolean> {
    const work = hints.flatMap((h) => ('queueId' in h && h.queueId ? [{ queueId: h.queueId, channel: h.channel }] : []));
    const agents = hints.flatMap((h) => ('agentId' in h ? [h.agentId] : []));
    if (agents.length > 0) return mayOffer(this.db, work, [...new Set(agents)]);
    return work.length > 0 && freeAgentFor(this.db, this.profiles, this.view, work);
  }

  /** After a pass: the pairs presumed that it offered nothing in are checked again; those it offered in are presumed. */
  passed(presumed: string[], offeredIn: Set<string>): void {
    for (const key of presumed) if (!offeredIn.has(key)) this.offeringIn.delete(key);
    for (const key of offeredIn) this.offeringIn.add(key);
  }
}
