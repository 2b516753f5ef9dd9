/**
 * The repair steps the router's sweep runs every second, in every worker process: expire
 * offers whose timers were lost, close overdue wrap-ups, apply escalation steps, forget old
 * agent changes, sign out agents whose consoles have been gone for the whole grace period, and
 * analyze tables that have outgrown their statistics (see platform/table-stats).
 */
import type { Pool } from 'pg';
import type { Logger } from '../platform/logger';
import type { IngestService } from '../interactions/ingest.service';
import type { AgentStateService } from '../agents/agent-state.service';
import type { WorkService } from '../agents/work.service';
import type { Presence } from '../agents/presence';
import type { OffersService } from './offers.service';
import type { RouterService } from './router.service';
import { dueSteps } from './escalation';
import { applyEscalation, escalationCandidates, wrapupOverdue } from './routing.repository';
import { overdueOfferIds } from './offers.repository';
import { AGENT_CHANGES_KEPT_SECONDS, pruneAgentChanges } from './free-agents.repository';
import { findInteraction } from '../interactions/interactions.repository';
import { analyzeOutgrownTables } from '../platform/table-stats';

export interface SweepDeps {
  db: Pool;
  offers: OffersService;
  work: WorkService;
  agentState: AgentStateService;
  presence: Presence;
  ingest: IngestService;
  graceSeconds: number;
  log: Logger;
}

export function registerSweepSteps(router: RouterService, d: SweepDeps): void {
  router.addSweepStep({
    name: 'expire-offers',
    run: async () => {
      for (const id of await overdueOfferIds(d.db)) await d.offers.expire(id);
    },
  });
  router.addSweepStep({
    name: 'close-wrapups',
    run: async () => {
      for (const id of await wrapupOverdue(d.db)) await d.work.closeOverdueWrapup(id);
    },
  });
  router.addSweepStep({ name: 'escalate', run: () => escalate(d) });
  router.addSweepStep({ name: 'prune-agent-changes', run: () => pruneAgentChanges(d.db, AGENT_CHANGES_KEPT_SECONDS) });
  router.addSweepStep({
    name: 'analyze-outgrown-tables',
    run: async () => {
      const analyzed = await analyzeOutgrownTables(d.db);
      if (analyzed.length > 0) d.log.debug({ tables: analyzed }, 'analyzed tables that had outgrown their statistics');
    },
  });
  router.addSweepStep({
    name: 'presence',
    run: async () => {
      const { rows } = await d.db.query<{ id: string }>(
        `SELECT id FROM agents WHERE state <> 'offline' AND state_changed_at < clock_timestamp() - make_interval(secs => $1)`,
        [d.graceSeconds],
      );
      for (const id of await d.presence.absent(rows.map((r) => r.id))) {
        d.log.info({ agentId: id }, 'agent console gone past the grace period; signing out');
        await d.agentState.set(id, 'offline', 'disconnected', 'system');
      }
    },
  });
}

async function escalate(d: SweepDeps): Promise<void> {
  for (const c of await escalationCandidates(d.db)) {
    for (const { index, step } of dueSteps(c.escalation, c.step, c.waitedSeconds)) {
      const change =
        step.action === 'raise-priority'
          ? { nextStep: index + 1, raisePriority: step.by }
          : step.action === 'relax-skills'
            ? { nextStep: index + 1, relax: step.by }
            : { nextStep: index + 1, queueId: step.queueId };
      const i = await findInteraction(d.db, c.id);
      if (!i) break;
      const applied = await d.ingest.ingest({
        idempotencyKey: `escalation:${c.id}:${c.queueId}:${index}`,
        type: 'interaction.escalated',
        channel: i.channel,
        direction: 'internal',
        occurredAt: new Date(),
        payload: { queueId: c.queueId, step: index, ...step },
        customer: { id: i.customerId },
        interaction: { kind: 'existing', id: c.id },
        apply: async (tx) => {
          if (!(await applyEscalation(tx, c.id, index, change))) throw new StaleEscalation();
        },
      }).then(() => true, (err) => {
        if (err instanceof StaleEscalation) return false;
        throw err;
      });
      if (!applied) break;
    }
  }
}

class StaleEscalation extends Error {}
