/**
 * Ring-no-answer timers as delayed BullMQ jobs, removed once their offers are decided. The
 * processor re-checks the offer in Postgres, so a timer that fires late, twice, or after the
 * offer was answered (its removal failed or came too late) changes nothing; the routing sweep
 * expires overdue offers too, should a timer be lost.
 */
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../platform/logger';
import type { OfferTimers } from '../routing/acd.context';
import type { CreatedOffer } from '../routing/offers.repository';
import { JOBS, QUEUES, type OfferTimeoutJob } from './jobs';

export class BullOfferTimers implements OfferTimers {
  private readonly queue: Queue<OfferTimeoutJob>;
  private worker: Worker<OfferTimeoutJob> | null = null;

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    this.queue = new Queue<OfferTimeoutJob>(QUEUES.offerTimeouts, { connection, prefix });
    // Without a listener BullMQ writes a lost connection to the console, outside our logs.
    this.queue.on('error', (err) => this.log.warn({ err }, 'offer timer queue error'));
  }

  async schedule(offer: Pick<CreatedOffer, 'id' | 'agentId' | 'expiresAt'>): Promise<void> {
    await this.queue.add(JOBS.offerTimeout.name, { offerId: offer.id, agentId: offer.agentId }, {
      jobId: JOBS.offerTimeout.id(offer.id),
      delay: Math.max(0, offer.expiresAt.getTime() - Date.now()),
      attempts: 5,
      backoff: { type: 'exponential', delay: 200 },
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 24 * 3600 },
    });
  }

  /** Remove the offers' delayed jobs; a job already running (locked) is left to finish. */
  async cancel(offerIds: string[]): Promise<void> {
    await Promise.all(offerIds.map((id) => this.queue.remove(JOBS.offerTimeout.id(id))));
  }

  startWorker(expire: (offerId: string, agentId?: string) => Promise<boolean>, workerConnection: Redis): void {
    this.worker = new Worker<OfferTimeoutJob>(QUEUES.offerTimeouts, async (job) => {
      await expire(job.data.offerId, job.data.agentId);
    }, { connection: workerConnection, prefix: this.prefix, concurrency: 4 });
    this.worker.on('error', (err) => this.log.warn({ err }, 'offer timer worker error'));
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
