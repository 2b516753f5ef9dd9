/**
 * The router: event-triggered routing passes plus a sweep that repairs whatever events missed
 * (lost triggers, crashed processes, expired timers). Stateless: every pass writes with
 * conditional updates under the routing lock, and reads Postgres under that lock too, except a
 * pass for contacts a message has just opened, which plans from reads sent right behind that
 * message's statement (see readBehind) and follows any claim refused with a full pass. So any
 * number of processes can run it.
 */
import type { Pool, PoolClient } from 'pg';
import type { Logger } from '../platform/logger';
import type { Config } from '../platform/config';
import { createPool, type Queryable } from '../platform/db';
import type { AcdContext, ReadsBehindChange } from './acd.context';
import type { PassResult } from './pass-reads';
import { MAX_HINTS, namedChange, scopeOf, type NamedChange, type RoutingHint } from './routing-hints';
import { FreeAgentView } from './free-agents.repository';
import { loadFreeCandidates, prepareCandidates, type AgentScope } from './free-candidates';
import { PassCheck } from './pass-check';
import { AgentProfiles } from './agent-profiles';
import { SweepRunner, type SweepStep } from './sweep-runner';
import { ReadsBehindWrites } from './reads-behind-writes';
import type { NewContact, ReadsBehind } from '../interactions/reads-behind';
import { RoutingPass } from './routing-pass';
import { EntryRoutes } from './claim-ahead';

const NOTHING_READ = Promise.resolve();

/**
 * The router's own connections: two (a pass, and the check for the next trigger beside it), so a
 * pass never waits for a connection of the service's pool; on generic plans, since every
 * statement a pass and its checks run is an equality or index-order lookup, and the checks,
 * which run outside a transaction, were planned afresh on every call (0.8 ms of binding against
 * 0.12 ms of running, from the server's log at 1,000 agents and 10,000 waiting).
 */
export const createRouterPool = (config: Config): Pool => createPool(config, { max: 2, genericPlans: true });

export interface PassCounts {
  /** Passes run, and how many of them made at least one offer. */
  passes: number;
  offering: number;
  /** Triggers whose hints showed that no offer could follow, so no pass ran. */
  skipped: number;
  /** Passes run without that check, for new work where a pass had offered (see PassCheck.presumed). */
  presumed: number;
}

export class RouterService {
  private running: Promise<void> | null = null;
  /** Pending work for the loop: a full pass, or the hints of triggers that came with one. */
  private full = false;
  private hints: RoutingHint[] = [];
  readonly counts: PassCounts = { passes: 0, offering: 0, skipped: 0, presumed: 0 };
  /** An agent may have changed since the view's last read (a trigger named one, or a pass offered): see prepareWhileIdle. */
  private agentsMoved = false;
  private preparing: Promise<void> | null = null;
  private stopped = false;
  /** The sweep: its steps, then a full pass. */
  private readonly sweep: SweepRunner;
  /** Agents' skills, capacity and queues, kept across passes (re-read when their version moves). */
  private readonly profiles = new AgentProfiles();
  /** The free agents, refreshed each pass with only the agents changed since the last. */
  private readonly freeAgents = new FreeAgentView();
  /** Reads sent behind a write that may lead to an offer, for the next pass (see readBehind, readsBehindAvailable). */
  private readonly readsBehind = new ReadsBehindWrites(this.profiles, this.freeAgents);
  /** Where new contacts wait, as last read (for claims sent ahead of a pass: see claim-ahead.ts). */
  private readonly routes = new EntryRoutes();
  /** Whether a trigger's hints call for a pass (see PassCheck). */
  private readonly check: PassCheck;
  /** The passes themselves: their reads, plans and claims. */
  private readonly passes: RoutingPass;

  /**
   * `db`: the router's own connections (see createRouterPool): a pass and the checks before it
   * read and write only through them.
   */
  constructor(
    private readonly acd: AcdContext,
    private readonly db: Pool,
    private readonly log: Logger,
  ) {
    this.check = new PassCheck(db, this.profiles, this.freeAgents);
    this.passes = new RoutingPass(acd, db, this.profiles, this.freeAgents, this.readsBehind, this.routes, () => this.trigger());
    acd.requestRouting = (hint) => this.trigger(hint);
    acd.readsBehindAvailable = (agentId) => this.readsBehindAvailable(agentId);
    acd.agentsTouched = () => {
      this.agentsMoved = true;
      this.prepareWhileIdle();
    };
    this.sweep = new SweepRunner(log, () => {
      this.trigger();
      return this.running ?? Promise.resolve();
    });
  }

  /** Ask for a routing pass; passes requested while one runs collapse into one more. */
  trigger(hint?: RoutingHint): void {
    if (this.stopped) return;
    if (!hint || 'agentId' in hint) this.agentsMoved = true;
    if (!hint || this.hints.length >= MAX_HINTS) {
      this.full = true;
      this.hints = [];
    } else if (!this.full) {
      this.hints.push(hint);
    }
    if (this.running) return;
    this.running = this.loop().finally(() => {
      this.running = null;
      this.prepareWhileIdle();
    });
  }

  /**
   * Once the router is idle after agents may have changed: read the free agents' changes (and
   * the profiles of agents new to it) and prepare the walk and planning index that a pass for new
   * work would otherwise make on its way to the offer (0.5 ms at 1,000 free agents on a slow
   * machine). The reads sent behind the next message then usually bring no change, and its pass
   * plans from what is prepared, or its contact is claimed ahead (see claim-ahead.ts) from these
   * rows and the entry points read beside them. One read at a time; a failure is left to the next
   * pass, which reads for itself.
   */
  private prepareWhileIdle(): void {
    if (!this.agentsMoved || this.stopped || this.running || this.preparing) return;
    this.agentsMoved = false;
    const agents = loadFreeCandidates(this.db, this.profiles, undefined, this.freeAgents).then(() => prepareCandidates(this.profiles, this.freeAgents));
    this.preparing = Promise.allSettled([agents, this.routes.refresh(this.db)])
      .then(() => undefined)
      .finally(() => {
        this.preparing = null;
        // Agents changed while it read: read again (a claim ahead plans only from a view with no change since).
        this.prepareWhileIdle();
      });
  }

  private async loop(): Promise<void> {
    while ((this.full || this.hints.length > 0) && !this.stopped) {
      const full = this.full;
      const hints = this.hints;
      this.full = false;
      this.hints = [];
      try {
        const presumed = full ? [] : this.check.presumed(hints);
        const named = full ? null : namedChange(hints);
        // Agents who went available with the reads their pass begins with sent behind the COMMIT:
        // no check, those reads tell (a pass planned from them takes no lock when nothing waits).
        const freedBehind = named !== null && 'freed' in named && this.readsBehind.sentFor(named);
        // A contact claimed ahead of its pass (see claim-ahead.ts): no check, the claim tells.
        const claimedAhead = this.readsBehind.claimedAheadFor(named);
        if (!full && presumed.length === 0 && !freedBehind && !claimedAhead && !(await this.check.worthAPass(hints))) {
          this.counts.skipped++;
          continue;
        }
        if (presumed.length > 0) this.counts.presumed++;
        // A hint that led here already found someone free: no second check. The pass reads only
        // the agents the hints name and those of the queues they name (see `scopeOf`).
        const { offered, full: more, offeredIn } = await this.passes.run(!full, full ? undefined : scopeOf(hints), named);
        this.counts.passes++;
        if (offered > 0) {
          this.counts.offering++;
          this.agentsMoved = true;
        }
        if (more && offered > 0) this.full = true;
        this.check.passed(presumed, offeredIn);
      } catch (err) {
        this.log.warn({ err }, 'routing pass failed; the sweep retries');
        return;
      }
    }
  }

  /** Resolves once no pass is running or pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Asked right before messages that may open conversations are sent (see
   * IngestService.readsBehindMessages): null when no reads would follow them now (a pass runs or
   * waits in this process, such reads are under way, or nobody was free at the view's last read),
   * so their statement commits as usual; else the function that sends the reads (readBehind),
   * for which their statement commits without waiting for the WAL.
   */
  wantsReadsBehind(): ReadsBehind | null {
    if (!this.mayReadBehind() || this.freeAgents.size === 0) return null;
    return (db, opening) => this.readBehind(db, opening.map((c) => c.id), opening.length === 1 ? { client: db, contact: opening[0]! } : undefined) ?? NOTHING_READ;
  }

  /**
   * Send on `db`, right behind a statement just issued there that may queue new work (messages
   * that may open conversations, whose ids would be `opening`), the reads a pass for that work
   * begins with: the free agents' changes (applied to the view as they come) and the waiting
   * work the view's agents call for. Postgres runs them once that statement has committed, so
   * they see what it queued, and their answers follow its own with no round trip of theirs. The
   * pass the statement's trigger starts then sends only its claims, with BEGIN, the lock and
   * COMMIT (see `pass`). Sent only while no pass runs or waits in this process, someone was free
   * at the view's last read and no such reads are under way (asked first: wantsReadsBehind);
   * null when not sent, else settled once everything sent is answered (the caller keeps `db`
   * until then). `ahead`: one contact the statement may open, on the statement's own connection:
   * ahead of those reads goes the claim a pass would make of it, when one can be planned now
   * (see claim-ahead.ts); its pass then only learns the outcome.
   */
  readBehind(db: Queryable, opening: string[], ahead?: { client: PoolClient; contact: NewContact }): Promise<unknown> | null {
    if (!this.mayReadBehind()) return null;
    const claim = ahead && !this.preparing ? this.passes.claimAhead(ahead.client, ahead.contact) : null;
    const reads = this.readsBehind.send(db, { opening }, claim?.offer);
    return claim ? Promise.allSettled([reads, claim.released]) : reads;
  }

  /**
   * Asked as an agent's change to available goes out with its COMMIT (see AgentStateService.set):
   * null when no reads would follow it now (a pass runs or waits in this process, or such reads
   * are under way); else the function that sends, right behind that COMMIT on its connection,
   * the reads a pass for that agent begins with: the free agents' changes (that agent's among
   * them) and the waiting work of its queues and channels. The pass its trigger starts then plans
   * from them without a check, and sends only its claims (none, and no lock, when nothing waits
   * that the agent can take). Those reads are made outside the routing lock, after the agent's
   * commit; a claim refused (another pass took the contact or the agent since) asks for a full
   * pass, which plans again under the lock. Should the change not commit, `drop` discards them:
   * they would show the agent as it was, and another change of the same agent to available,
   * asking while they are on their way, sends none and would plan from them.
   */
  readsBehindAvailable(agentId: string): ReadsBehindChange | null {
    if (!this.mayReadBehind()) return null;
    return {
      send: (db) => this.readsBehind.send(db, { freed: [agentId] }) ?? NOTHING_READ,
      drop: () => this.readsBehind.drop({ freed: [agentId] }),
    };
  }

  /** Reads may be sent behind a write now: no pass runs or waits in this process, and no such reads are under way. */
  private mayReadBehind(): boolean {
    return !this.stopped && !this.running && !this.readsBehind.underWay;
  }

  /** Passes' first reads of waiting work, by how they were made (see RoutingPass.waitingReads). */
  get waitingReads(): RoutingPass['waitingReads'] {
    return this.passes.waitingReads;
  }

  /** Plans of passes for contacts a message opened, prepared beforehand or not (see RoutingPass.prepared). */
  get prepared(): RoutingPass['prepared'] {
    return this.passes.prepared;
  }

  /** One routing pass (see RoutingPass.run). */
  pass(someoneFree = false, scope?: AgentScope, named?: NamedChange | null): Promise<PassResult> {
    return this.passes.run(someoneFree, scope, named);
  }

  /** Add a repair step to the sweep (expiry, wrap-up timeouts, escalation, presence). */
  addSweepStep(step: SweepStep): void {
    this.sweep.add(step);
  }

  sweepOnce(): Promise<void> {
    return this.sweep.once();
  }

  startSweeping(intervalMs: number): void {
    this.sweep.start(intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.sweep.stop();
    await this.running;
    await this.preparing;
  }
}
