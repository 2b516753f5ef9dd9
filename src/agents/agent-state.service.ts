/**
 * Agent state changes, by the agent, a supervisor or the system. They take the routing lock,
 * so the router never offers to an agent who has just left. Leaving `available` withdraws
 * pending offers; going offline also hands the agent's open work back to routing, keeping its age.
 */
import { notFound } from '../platform/errors';
import type { AcdContext } from '../routing/acd.context';
import type { OffersService } from '../routing/offers.service';
import { interactionsOfAgent, logAgentState, transition } from '../routing/routing.repository';
import { releaseAccepted } from '../routing/offers.repository';
import { setAgentState, type AgentState } from './agents.repository';

export class AgentStateService {
  constructor(
    private readonly acd: AcdContext,
    private readonly offers: OffersService,
  ) {}

  /** Returns the state now in force. */
  async set(agentId: string, state: AgentState, reason: string | null, actor: string): Promise<AgentState> {
    return this.acd.run(async (tx, fx) => {
      const { rows } = await tx.query<{ state: AgentState }>('SELECT state FROM agents WHERE id = $1 FOR UPDATE', [agentId]);
      if (!rows[0]) throw notFound('agent', agentId);
      const effectiveReason = state === 'away' ? reason : null;
      if (await setAgentState(tx, agentId, state, effectiveReason, new Date())) {
        await logAgentState(tx, agentId, state, reason, actor);
        fx.agentStates.push({ agentId, state, reason: effectiveReason });
      }
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
    }, { routerLock: true });
  }
}
