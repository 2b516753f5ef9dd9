/**
 * A claim sent ahead of the pass: for a message that may open a conversation while the router is
 * idle, the offer of that contact to the agent a pass would choose, planned before the message
 * leaves and sent right behind its statement on the same connection. Postgres runs it once the
 * statement has committed, and makes it only if what it was planned from still holds there (see
 * ClaimAheadGuard: the contact new in the queue the plan took, the queue as the plan took it,
 * nothing else waiting that the agent could take, no agent changed since the free agents were
 * read, the routing lock free). Then the pass that message calls for has nothing left to do, and
 * the offer comes back with the message's own answer instead of a round trip later. Otherwise
 * nothing is written, and the pass plans as usual from the reads sent behind it.
 *
 * Why the plan is the pass's: with no agent changed since the view's last read, and nothing
 * waiting in the agent's queues on the channels it has free, no other contact competes for that
 * agent, and the best eligible agent for the new contact is the one planned here from the same
 * rows (the new contact's priority and age then decide nothing).
 */
import type { Queryable } from '../platform/db';
import { CHANNELS, type Channel } from '../interactions/events.types';
import type { NewContact } from '../interactions/reads-behind';
import { hasFreeSlot, type Assignment, type Strategy } from './selection';
import type { ClaimAheadGuard } from './offers.repository';
import type { FreeAgentView } from './free-agents.repository';
import type { AgentProfiles } from './agent-profiles';
import { heldCandidates } from './free-candidates';
import { planFor } from './pass-reads';

/** An entry point with its queue's skills and strategy, as EntryRoutes reads them. */
export interface EntryRouteRow {
  channel: Channel;
  address: string;
  queue_id: string | null;
  flow_id: string | null;
  skills: Record<string, number> | null;
  strategy: Strategy | null;
}

interface Route {
  queueId: string | null;
  flowId: string | null;
  skills: Record<string, number>;
  strategy: Strategy;
}

/**
 * Where new contacts go (entry points and their queues' skills and strategy), as last read. A
 * claim checks in its statement what it took from here, so a change not yet read costs only that
 * claim (the pass then plans as usual).
 */
export class EntryRoutes {
  private readonly byAddress = new Map<string, Route>();

  /** Read every entry point with its queue (a small table, read while the router is idle). */
  async refresh(db: Queryable): Promise<void> {
    const { rows } = await db.query<EntryRouteRow>({
      name: 'routing.entry-routes',
      text: 'SELECT e.channel, e.address, e.queue_id, e.flow_id, q.skills, q.strategy FROM entry_points e LEFT JOIN queues q ON q.id = e.queue_id',
    });
    this.set(rows);
  }

  /** Hold these entry points (every one there is) in place of those held. */
  set(rows: EntryRouteRow[]): void {
    this.byAddress.clear();
    for (const r of rows) this.byAddress.set(key(r.channel, r.address), { queueId: r.queue_id, flowId: r.flow_id, skills: r.skills ?? {}, strategy: r.strategy ?? 'longest-idle' });
  }

  /**
   * The queue a new contact on `channel` to `address` waits in, as the message's statement
   * decides it (the address's entry point, else the channel's `*`), with that queue's skills and
   * strategy; null when it would not wait in a queue (an outbound conversation, a flow first, no
   * queue).
   */
  queueFor(contact: Pick<NewContact, 'channel' | 'entryAddress' | 'ivr' | 'direction'>): (Route & { queueId: string }) | null {
    if (contact.direction === 'out') return null;
    const route = this.byAddress.get(key(contact.channel, contact.entryAddress)) ?? this.byAddress.get(key(contact.channel, '*'));
    if (!route || route.queueId === null || (contact.ivr && route.flowId !== null)) return null;
    return { ...route, queueId: route.queueId };
  }
}

const key = (channel: string, address: string): string => `${channel}\n${address}`;

/**
 * The offer a pass would make of `contact`, had its message opened it into its queue, from the
 * free agents and profiles held (no read), with what its claim must find unchanged; null when
 * there is nothing to claim ahead: the contact would not wait in a queue, brings skills of its
 * own, a profile is not held, or no free agent can take it.
 */
export function planClaimAhead(
  profiles: AgentProfiles,
  view: FreeAgentView,
  routes: EntryRoutes,
  contact: NewContact,
  now = Date.now(),
): { assignment: Assignment; guard: ClaimAheadGuard } | null {
  const horizon = view.readThrough;
  const route = routes.queueFor(contact);
  if (!horizon || !route || contact.ownSkills) return null;
  const found = heldCandidates(profiles, view, { agentIds: [], queueIds: [route.queueId] });
  if (!found || found.agents.length === 0) return null;
  const waiting = { id: contact.id, queueId: route.queueId, channel: contact.channel, priority: 0, queuedAt: now, requiredSkills: route.skills, declinedBy: [] };
  const [assignment] = planFor([waiting], found.agents, new Map([[route.queueId, route.strategy]]));
  const agent = assignment && found.agents.find((a) => a.id === assignment.agentId);
  if (!assignment || !agent) return null;
  return {
    assignment,
    guard: {
      queueId: route.queueId,
      queueSkills: route.skills,
      strategy: route.strategy,
      agentQueueIds: agent.queueIds,
      agentChannels: CHANNELS.filter((ch: Channel) => hasFreeSlot(agent, ch)),
      horizon: horizon.snapshot,
      epoch: horizon.epoch,
    },
  };
}
