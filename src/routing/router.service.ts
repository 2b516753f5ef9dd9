/**
 * The router: event-triggered routing passes plus a sweep that repairs whatever events missed
 * (lost triggers, crashed processes, expired timers). Stateless: every pass reads Postgres under
 * the routing lock and writes with conditional updates, so any number of processes can run it.
 */
import type { Logger } from '../platform/logger';
import { findInteraction } from '../interactions/interactions.repository';
import { CHANNELS } from '../interactions/events.types';
import type { AcdContext } from './acd.context';
import { planAssignments } from './selection';
import { loadWaiting, takeRouterLock } from './routing.repository';
import { AgentProfiles, anyFreeAgent, loadAvailableAgents } from './free-agents.repository';
import { createOffer } from './offers.repository';

/** How many waiting interactions one pass considers per queue and channel (the best ones); another pass follows if it read that many and offered some. */
export const PASS_LIMIT = 500;

export interface SweepStep {
  name: string;
  run(): Promise<unknown>;
}

export class RouterService {
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  private readonly steps: SweepStep[] = [];
  /** Agents' skills, capacity and queues, kept across passes (re-read when their version moves). */
  private readonly profiles = new AgentProfiles();
  /** What the last pass's check for a free agent found: picks the cheaper form of the next check. */
  private freeLastTime = true;

  constructor(
    private readonly acd: AcdContext,
    private readonly log: Logger,
  ) {
    acd.requestRouting = () => this.trigger();
  }

  /** Ask for a routing pass; passes requested while one runs collapse into one more. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        const { offered, full } = await this.pass();
        if (full && offered > 0) this.again = true;
      } catch (err) {
        this.log.warn({ err }, 'routing pass failed; the sweep retries');
        return;
      }
    } while (this.again && !this.stopped);
  }

  /** One routing pass: match waiting work to free agents and record the offers. */
  async pass(): Promise<{ offered: number; full: boolean }> {
    // Nobody can take work: skip the lock. Whatever frees an agent commits, then triggers a pass.
    this.freeLastTime = await anyFreeAgent(this.acd.db, this.freeLastTime);
    if (!this.freeLastTime) return { offered: 0, full: false };
    return this.acd.run(async (tx, fx) => {
      await takeRouterLock(tx);
      const agents = await loadAvailableAgents(tx, this.profiles);
      if (agents.length === 0) return { offered: 0, full: false };
      const queueIds = [...new Set(agents.flatMap((a) => a.queueIds))];
      const channels = CHANNELS.filter((ch) => agents.some((a) => a.load[ch] < a.capacity[ch]));
      const { waiting, strategies } = await loadWaiting(tx, queueIds, channels, PASS_LIMIT);
      if (waiting.length === 0) return { offered: 0, full: false };
      const plan = planAssignments(waiting, agents, (q) => strategies.get(q) ?? 'longest-idle', Date.now());
      let offered = 0;
      for (const a of plan) {
        const offer = await createOffer(tx, { interactionId: a.interactionId, agentId: a.agentId, explanation: a.explanation, timeoutSeconds: this.acd.offerTimeoutSeconds });
        if (!offer) continue;
        const i = (await findInteraction(tx, a.interactionId))!;
        await this.acd.append(tx, fx, i, 'offer.created', { offerId: offer.id, agentId: a.agentId, explanation: a.explanation }, `offer.created:${offer.id}`);
        fx.offers.push(offer);
        offered++;
      }
      return { offered, full: waiting.length >= PASS_LIMIT };
    });
  }

  /** Add a repair step to the sweep (expiry, wrap-up timeouts, escalation, presence). */
  addSweepStep(step: SweepStep): void {
    this.steps.push(step);
  }

  async sweepOnce(): Promise<void> {
    for (const step of this.steps) {
      try {
        await step.run();
      } catch (err) {
        this.log.warn({ err, step: step.name }, 'sweep step failed');
      }
    }
    this.trigger();
    await this.running;
  }

  startSweeping(intervalMs: number): void {
    this.sweepTimer = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.sweepOnce().finally(() => {
        this.sweeping = null;
      });
    }, intervalMs);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.sweeping;
    await this.running;
  }
}
