/**
 * What a routing trigger says changed, and what a pass makes of it: the agents it considers and
 * the contacts it names. The pass itself is RouterService's.
 */
import type { Channel } from '../interactions/events.types';
import type { AgentScope } from './free-candidates';

/**
 * What changed, when a trigger knows: work started waiting in a queue, or an agent may have a
 * slot free (became available, finished a wrap-up). A pass is then run only if the change can
 * lead to an offer; a trigger without a hint always runs one.
 */
export type RoutingHint = { queueId: string | null; channel: Channel; interactionId?: string } | { agentId: string };

/** The contacts a trigger's hints name as new work, or null when any hint is something else (or names none). */
function namedWork(hints: RoutingHint[]): string[] | null {
  const ids = hints.map((h) => ('interactionId' in h ? h.interactionId : undefined));
  return ids.length > 0 && ids.every((id): id is string => id !== undefined) ? ids : null;
}

/**
 * What a trigger's hints name, for a pass that may plan from reads sent behind the write that
 * made the change (see RouterService.pass): the contacts of new work, or agents who became
 * available (every hint names an agent). Null for anything else.
 */
export type NamedChange = { work: string[] } | { freed: string[] };

export function namedChange(hints: RoutingHint[]): NamedChange | null {
  const work = namedWork(hints);
  if (work) return { work };
  const agents = hints.map((h) => ('agentId' in h ? h.agentId : undefined));
  return agents.length > 0 && agents.every((id): id is string => id !== undefined) ? { freed: [...new Set(agents)] } : null;
}

export const workKey = (queueId: string, channel: Channel): string => `${queueId} ${channel}`;

/**
 * The agents a hinted pass considers: the agents freed, and the agents of the queues new work
 * waits in. Everything else was settled by earlier passes: of two changes committed at once, at
 * least one trigger's pass reads after both (the argument that makes skipping a pass safe), and
 * the sweep runs a full pass every ROUTER_SWEEP_MS.
 */
export function scopeOf(hints: RoutingHint[]): AgentScope {
  const agentIds = new Set<string>();
  const queueIds = new Set<string>();
  for (const h of hints) {
    if ('agentId' in h) agentIds.add(h.agentId);
    else if (h.queueId) queueIds.add(h.queueId);
  }
  return { agentIds: [...agentIds], queueIds: [...queueIds] };
}

/** Beyond this many hints waiting for one check, the next pass simply runs. */
export const MAX_HINTS = 100;
