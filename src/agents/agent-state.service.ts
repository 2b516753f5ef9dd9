/**
 * Agent state changes, by the agent, a supervisor or the system. They take the routing lock,
 * so the router never offers to an agent who has just left. Leaving `available` withdraws
 * pending offers; going offline also hands the agent's open work back to routing, keeping its age.
 */
import { notFound } from '../platform/errors';
import type { AcdContext } from '../routing/acd.context';
import type { OffersService } from '../routing/offers.service';
import { changeAgentState, interactionsOfAgent, transition } from '../routing/routing.repository';
import { releaseAccepted } from '../routing/offers.repository';
import type { AgentState } from './agents.repository';

export class AgentStateService {
  constructor(
    private readonly acd: AcdContext,
    private readonly offers: OffersService,
  ) {}

  /** Returns the state now in force. */
  async set(agentId: string, state: AgentState, reason: string | null, actor: string): Promise<AgentState> {
    return this.acd.run(async (tx, fx, end) => {
      const effectiveReason = state === 'away' ? reason : null;
      const changing = changeAgentState(tx, { agentId, state, reason: effectiveReason, logReason: reason, actor });
      // Going available writes nothing else: its COMMIT goes right behind the change, one round
      // trip for the whole transaction (an unknown agent changes nothing, so that COMMIT keeps
      // nothing either), and the reads the router's pass for the agent begins with go behind it.
      // It does not wait for the WAL: the pass starts once it is visible, while a flush behind
      // the reads makes it durable before the agent's consoles and the caller are told.
      if (state === 'available') {
        end.commitBehind();
        this.acd.readBehindAvailable(end, fx, agentId);
        this.acd.flushBehind(end, fx);
      }
      const { found, changed } = await changing;
      if (!found) throw notFound('agent', agentId);
      if (changed) fx.agentStates.push({ agentId, state, reason: effectiveReason });
      if (state === 'available') {
        fx.freed.push(agentId);
        return state;
      }
      await this.offers.withdrawPendingOf(tx, fx, agentId);
      if (state === 'offline') {
        for (const id of await interactionsOfAgent(tx, agentId, ['active', 'wrapup'])) {
          const i = await this.acd.lock(tx, id);
          await releaseAccepted(tx, id);
          if (i.state === 'active') {
            await this.acd.append(tx, fx, i, 'interaction.requeued', { agentId, reason: reason ?? 'agent-offline' });
            await transition(tx, id, ['active'], { state: 'queued', agentId: null });
            fx.changed.push({ agentId, interactionId: id, state: 'queued' });
          } else {
            await this.acd.append(tx, fx, i, 'interaction.closed', { agentId, reason: 'agent-offline-in-wrapup' });
            await transition(tx, id, ['wrapup'], { state: 'closed', outcome: 'handled', closedNow: true });
            fx.changed.push({ agentId, interactionId: id, state: 'closed' });
          }
          fx.route = true;
        }
      }
      return state;
    }, { routerLock: true, visibleFirst: state === 'available' });
  }
}
