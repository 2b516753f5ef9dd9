/**
 * The sweep's schedule: its repair steps (registered by sweep.ts and the app) run one after
 * another every interval, a failed step logged and the rest run, never two sweeps at once; then
 * whatever the sweep asks for after its steps (the router's full pass).
 */
import type { Logger } from '../platform/logger';

export interface SweepStep {
  name: string;
  run(): Promise<unknown>;
}

export class SweepRunner {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  private readonly steps: SweepStep[] = [];

  /** `after`: run once the steps are done, as part of the sweep (see RouterService). */
  constructor(
    private readonly log: Logger,
    private readonly after: () => Promise<unknown>,
  ) {}

  add(step: SweepStep): void {
    this.steps.push(step);
  }

  async once(): Promise<void> {
    for (const step of this.steps) {
      try {
        await step.run();
      } catch (err) {
        this.log.warn({ err, step: step.name }, 'sweep step failed');
      }
    }
    await this.after();
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.once().finally(() => {
        this.sweeping = null;
      });
    }, intervalMs);
    this.timer.unref();
  }

  /** No further sweep starts; resolves once a sweep under way is done. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sweeping;
  }
}
