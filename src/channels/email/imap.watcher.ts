/**
 * The IMAP watcher: one per mailbox across all processes (a Postgres lease with a fencing
 * token), IDLE with a short pickup delay, a new client per connection with backoff after any
 * drop, resuming from the checkpoint (UIDVALIDITY + last UID) committed with the messages.
 * A UIDVALIDITY change resyncs the whole mailbox; Message-IDs keep that from duplicating.
 */
import { randomUUID } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import type { Pool } from 'pg';
import type { Logger } from '../../platform/logger';
import { LeaseLost, type EmailIntake, type Fence } from './email.intake';

export interface ImapTarget {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  pass: string;
  mailbox: string;
}

export function parseImapUrl(url: string): ImapTarget {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || (u.protocol === 'imaps:' ? 993 : 143)),
    secure: u.protocol === 'imaps:',
    user: decodeURIComponent(u.username),
    pass: decodeURIComponent(u.password),
    mailbox: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'INBOX',
  };
}

export class ImapWatcher {
  readonly holder = randomUUID();
  private stopped = false;
  private client: ImapFlow | null = null;
  private running: Promise<void> | null = null;
  private fence: Fence | null = null;

  constructor(
    private readonly deps: { db: Pool; intake: EmailIntake; target: ImapTarget; mailboxKey: string; log: Logger; leaseSeconds?: number; idleDelayMs?: number; checkIntervalMs?: number },
  ) {}

  start(): void {
    this.running = this.loop();
  }

  private get leaseSeconds(): number {
    return this.deps.leaseSeconds ?? 15;
  }

  private async loop(): Promise<void> {
    let backoff = 200;
    while (!this.stopped) {
      try {
        const fence = await this.acquireLease();
        if (!fence) {
          await this.sleep((this.leaseSeconds * 1000) / 3);
          continue;
        }
        this.fence = fence;
        await this.session(fence);
        backoff = 200;
      } catch (err) {
        if (this.stopped) break;
        this.deps.log.warn({ err: err instanceof LeaseLost ? undefined : err, reason: (err as Error).message }, 'IMAP session ended; reconnecting');
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  /** One connection: drain, then IDLE and drain on every new message, until it drops or the lease is lost. */
  private async session(fence: Fence): Promise<void> {
    const t = this.deps.target;
    const client = new ImapFlow({ host: t.host, port: t.port, secure: t.secure, auth: { user: t.user, pass: t.pass }, logger: false, autoIdleDelay: this.deps.idleDelayMs ?? 500 });
    this.client = client;
    // The session ends when the connection closes. Also checked on every poll below: a client no
    // longer usable ends it even should its 'close' event never come, or else a watcher could
    // wait on a dead connection for good.
    let ended!: () => void;
    const closed = new Promise<void>((resolve) => {
      ended = resolve;
      client.once('close', () => resolve());
    });
    client.on('error', () => undefined); // 'close' follows; the loop reconnects
    let check: NodeJS.Timeout | null = null;
    const renew = setInterval(() => {
      void this.renewLease(fence).then((ok) => {
        if (!ok) client.close();
      }, () => client.close());
    }, (this.leaseSeconds * 1000) / 3);
    try {
      await client.connect();
      const mailbox = await client.mailboxOpen(t.mailbox);
      const uidValidity = Number(mailbox.uidValidity);
      let draining: Promise<void> = this.drain(client, uidValidity, fence);
      let again = false;
      const requestDrain = () => {
        again = true;
        draining = draining.then(async () => {
          while (again) {
            again = false;
            await this.drain(client, uidValidity, fence);
          }
        }).catch((err) => {
          this.deps.log.warn({ reason: (err as Error).message }, 'IMAP drain failed');
          client.close();
        });
      };
      client.on('exists', requestDrain);
      // IDLE can miss things (a mailbox deleted and recreated under us, a lost notification):
      // every few seconds compare UIDVALIDITY and UIDNEXT, reconnect or drain as needed.
      check = setInterval(() => {
        if (!client.usable) {
          ended();
          return;
        }
        void client.status(t.mailbox, { uidValidity: true, uidNext: true }).then(
          (st) => {
            if (st && st.uidValidity !== undefined && Number(st.uidValidity) !== uidValidity) client.close();
            else requestDrain();
          },
          () => client.close(),
        );
      }, this.deps.checkIntervalMs ?? 5000);
      // The first drain's failure ends the session with an error (the loop backs off); a
      // connection closed under it ends the session without waiting for that drain to give up.
      await Promise.race([draining, closed]);
      await closed;
    } finally {
      clearInterval(renew);
      if (check) clearInterval(check);
      if (client.usable) client.close();
    }
  }

  private async drain(client: ImapFlow, uidValidity: number, fence: Fence): Promise<void> {
    const cp = await this.deps.intake.checkpoint();
    const resync = cp !== null && cp.uidValidity !== uidValidity;
    if (resync) this.deps.log.warn({ previousUidValidity: cp.uidValidity, uidValidity }, 'UIDVALIDITY changed: resyncing the mailbox (deduplicated by Message-ID)');
    const lastUid = cp && !resync ? cp.lastUid : 0;
    // IMAP always returns the highest message for "N:*", even below N: skip what we have.
    const uids: number[] = [];
    for await (const msg of client.fetch(`${lastUid + 1}:*`, { uid: true }, { uid: true })) {
      if (msg.uid > lastUid) uids.push(msg.uid);
    }
    for (const uid of uids.sort((a, b) => a - b)) {
      if (this.stopped) return;
      const msg = await client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
      if (!msg || !msg.source) continue;
      await this.deps.intake.ingest(uidValidity, uid, msg.source, fence);
    }
  }

  private async acquireLease(): Promise<Fence | null> {
    const { rows } = await this.deps.db.query<{ fence: string }>(
      `INSERT INTO mailbox_leases (mailbox, holder, fence, expires_at) VALUES ($1, $2, 1, now() + make_interval(secs => $3))
       ON CONFLICT (mailbox) DO UPDATE SET holder = EXCLUDED.holder, fence = mailbox_leases.fence + 1, expires_at = EXCLUDED.expires_at
        WHERE mailbox_leases.holder = $2 OR mailbox_leases.expires_at < now()
       RETURNING fence::text`,
      [this.deps.mailboxKey, this.holder, this.leaseSeconds],
    );
    return rows[0] ? { holder: this.holder, token: Number(rows[0].fence) } : null;
  }

  private async renewLease(fence: Fence): Promise<boolean> {
    const { rowCount } = await this.deps.db.query(
      `UPDATE mailbox_leases SET expires_at = now() + make_interval(secs => $4) WHERE mailbox = $1 AND holder = $2 AND fence = $3 AND expires_at > now()`,
      [this.deps.mailboxKey, fence.holder, fence.token, this.leaseSeconds],
    );
    return (rowCount ?? 0) > 0;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref();
    });
  }

  /** Stop watching; with `release`, give the lease up so another process takes over at once. */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    this.client?.close();
    await this.running;
    if (release && this.fence) {
      await this.deps.db.query('DELETE FROM mailbox_leases WHERE mailbox = $1 AND holder = $2', [this.deps.mailboxKey, this.holder]).catch(() => undefined);
    }
  }
}
