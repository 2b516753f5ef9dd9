/**
 * Outbound SMS and email through an outbox. The row is written with the `message.sent` event (same
 * transaction); a BullMQ job with a deterministic id sends it, retrying with backoff.
 *
 * The crash between "the provider accepted it" and "we recorded that": before each attempt
 * the row is marked `submitted` (attempts + 1). An attempt that finds the row already
 * `submitted` first asks the provider for messages sent to that number since the previous
 * attempt began; one with the same body whose id no other row holds is taken as ours, and
 * nothing is sent again. Only when none is found is the message sent again. A status
 * callback that arrives first (it carries our outbox id) records the provider id too.
 */
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Logger } from '../../platform/logger';
import { PermanentSendError, type SmsProvider } from '../twilio/twilio.client';
import {
  findOutbox, markFailed, markSubmitting, noteError, providerIdsInUse, recordProviderId, staleUnsent,
} from './outbox.repository';
import { fromTwilioStatus } from '../sms/delivery';

export const OUTBOX_QUEUE = 'outbox';
export const OUTBOX_JOB = 'send';
export const outboxJobId = (id: string): string => `outbox-${id}`;

/** How far back, before the previous attempt began, a provider's record may be dated (clock skew). */
const RECONCILE_SKEW_MS = 60_000;

/** Sends one email (the SMTP transport); the Message-ID is ours, fixed before the first attempt. */
export interface EmailSender {
  send(m: { to: string; from: string; subject: string; text: string; messageId: string; inReplyTo?: string; references?: string[] }): Promise<void>;
}

export class Outbox {
  /** Set when SMTP is configured: email rows go out through it. */
  email: EmailSender | null = null;

  private readonly queue: Queue<{ outboxId: string }>;
  private worker: Worker<{ outboxId: string }> | null = null;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Pool,
    private readonly provider: SmsProvider | null,
    private readonly statusCallbackUrl: (outboxId: string) => string,
    connection: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    this.queue = new Queue(OUTBOX_QUEUE, { connection, prefix });
    // Without a listener BullMQ writes a lost connection to the console, outside our logs.
    this.queue.on('error', (err) => this.log.warn({ err }, 'outbox queue error'));
  }

  async enqueue(outboxId: string): Promise<void> {
    await this.queue.add(OUTBOX_JOB, { outboxId }, {
      jobId: outboxJobId(outboxId),
      attempts: 8,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  /** Send one outbox row; safe to run any number of times. */
  async process(outboxId: string): Promise<'sent' | 'reconciled' | 'skipped'> {
    const row = await findOutbox(this.db, outboxId);
    if (!row) throw new UnrecoverableError(`outbox ${outboxId} does not exist`);
    if (row.status !== 'pending' && row.status !== 'submitted') return 'skipped';
    if (row.channel === 'email') return this.sendEmail(row);
    if (!this.provider) throw new Error('SMS provider is not configured');
    if (row.status === 'submitted' && row.submittedAt) {
      const since = new Date(row.submittedAt.getTime() - RECONCILE_SKEW_MS);
      const sent = await this.provider.listSent({ to: row.to, from: row.from, since });
      const taken = await providerIdsInUse(this.db, sent.map((m) => m.sid));
      const ours = sent.find((m) => m.body === row.body && !taken.has(m.sid));
      if (ours) {
        await recordProviderId(this.db, row.id, ours.sid, 'queued');
        this.log.info({ outboxId, attempts: row.attempts }, 'interrupted send reconciled with the provider; not sent again');
        return 'reconciled';
      }
    }
    if (!(await markSubmitting(this.db, row.id))) return 'skipped';
    try {
      const sent = await this.provider.send({ to: row.to, from: row.from, body: row.body, statusCallback: this.statusCallbackUrl(row.id) });
      await recordProviderId(this.db, row.id, sent.sid, fromTwilioStatus(sent.status) ?? 'queued');
      return 'sent';
    } catch (err) {
      if (err instanceof PermanentSendError) {
        await markFailed(this.db, row.id, err.message);
        throw new UnrecoverableError(err.message);
      }
      await noteError(this.db, row.id, (err as Error).message).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Email has no way to ask the server what it already accepted, so a crash after the SMTP
   * server accepted a message and before we recorded it sends it again on retry — with the
   * same Message-ID, which mail clients use to show it once.
   */
  private async sendEmail(row: Awaited<ReturnType<typeof findOutbox>> & object): Promise<'sent' | 'skipped'> {
    if (!this.email) throw new Error('SMTP is not configured');
    if (!(await markSubmitting(this.db, row.id))) return 'skipped';
    const h = row.headers as { messageId: string; inReplyTo?: string; references?: string[] };
    try {
      await this.email.send({ to: row.to, from: row.from, subject: row.subject ?? '', text: row.body, messageId: h.messageId, inReplyTo: h.inReplyTo, references: h.references });
    } catch (err) {
      const code = (err as { responseCode?: number }).responseCode;
      if (code !== undefined && code >= 500 && code < 600) {
        await markFailed(this.db, row.id, `SMTP ${code}`);
        throw new UnrecoverableError(`SMTP rejected the message (${code})`);
      }
      await noteError(this.db, row.id, (err as Error).message).catch(() => undefined);
      throw err;
    }
    await recordProviderId(this.db, row.id, h.messageId, 'sent');
    return 'sent';
  }

  startWorker(connection: Redis): void {
    this.worker = new Worker<{ outboxId: string }>(OUTBOX_QUEUE, async (job) => {
      await this.process(job.data.outboxId);
    }, {
      connection,
      prefix: this.prefix,
      concurrency: 8,
      // A worker that dies mid-send loses its lock within seconds; the job then runs again
      // (and reconciles with the provider first).
      lockDuration: 10_000,
      stalledInterval: 5_000,
      maxStalledCount: 5,
    });
    this.worker.on('error', (err) => this.log.warn({ err }, 'outbox worker error'));
    // Retries used up (a long provider outage): the row says failed, so history shows it was not delivered.
    this.worker.on('failed', (job, err) => {
      if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
      void markFailed(this.db, job.data.outboxId, `gave up after ${job.attemptsMade} attempts: ${err.message}`).catch((e) => this.log.warn({ err: e }, 'could not mark outbox row failed'));
    });
    // Rows whose job was never queued (Redis down right after the commit), or was lost with
    // Redis's data, are picked up here (see staleUnsent).
    this.sweeper = setInterval(() => {
      void staleUnsent(this.db, 5).then(
        (ids) => Promise.all(ids.map((id) => this.enqueue(id))),
        (err) => this.log.warn({ err }, 'outbox sweep failed'),
      ).catch((err) => this.log.warn({ err }, 'outbox re-enqueue failed'));
    }, 5000);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.worker?.close();
    await this.queue.close();
  }
}
