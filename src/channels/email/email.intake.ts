/**
 * One fetched message → history, in one transaction with the mailbox checkpoint (and only while
 * this process holds the mailbox lease, checked by its fencing token). Threading: In-Reply-To,
 * then References, then our subject tag; a thread closed within REOPEN_DAYS is reopened.
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '../../platform/db';
import type { Logger } from '../../platform/logger';
import type { IngestService } from '../../interactions/ingest.service';
import type { IngestCommand, IngestResult } from '../../interactions/events.types';
import { findEventByKey } from '../../interactions/events.repository';
import { normalizeEmail } from '../../customers/identity';
import { isAutomatic, messageIds, tagFromSubject, type EmailFacts } from './email.mapper';

export const REOPEN_DAYS = 7;
const MAX_TEXT = 100_000;

export interface Fence {
  holder: string;
  token: number;
}

export class LeaseLost extends Error {}

export type IntakeOutcome = 'stored' | 'duplicate' | 'automatic' | 'unreadable';

export class EmailIntake {
  /** Threads reopened in the current transaction (their interaction.queued event follows the message). */
  private readonly reopened = new Set<string>();

  /**
   * `mailbox` keys the checkpoint and lease (the IMAP account and folder); `address` is the
   * support address that entry points name.
   */
  constructor(private readonly deps: { db: Pool; ingest: IngestService; mailbox: string; address: string; maxAttachmentBytes: number; log: Logger }) {}

  async ingest(uidValidity: number, uid: number, source: Buffer, fence: Fence): Promise<IntakeOutcome> {
    let parsed: ParsedMail | null = null;
    try {
      parsed = await simpleParser(source, { skipHtmlToText: false, maxHtmlLengthToParse: 2_000_000 });
    } catch (err) {
      this.deps.log.warn({ err, uid }, 'unparseable message; skipped');
    }
    const facts = parsed ? toFacts(parsed) : null;
    const from = facts?.from ? normalizeEmail(facts.from) : null;
    if (!facts || !from) {
      await this.checkpointOnly(uidValidity, uid, fence);
      this.deps.log.warn({ uid }, 'message without a usable sender; checkpoint advanced, nothing stored');
      return 'unreadable';
    }
    const messageId = facts.messageId ?? `<uid.${uidValidity}.${uid}@${this.deps.address.split('@')[1] ?? 'mailbox'}>`;
    const key = `email:${this.deps.mailbox}:${messageId}`;
    if (await findEventByKey(this.deps.db, key)) {
      await this.checkpointOnly(uidValidity, uid, fence);
      this.deps.log.info({ uid }, 'message already stored; checkpoint advanced');
      return 'duplicate';
    }
    const automatic = isAutomatic({ from, headers: facts.headers });
    const results: IngestResult[] = [];
    await withTransaction(this.deps.db, async (tx) => {
      this.reopened.clear(); // messages are taken one at a time; nothing carries over from a failed one
      await this.checkFence(tx, fence);
      const target = automatic ? null : await this.thread(tx, facts);
      const payload = {
        text: facts.text.slice(0, MAX_TEXT),
        from: 'customer' as const,
        subject: facts.subject,
        messageId,
        ...(automatic ? { automatic } : {}),
        ...(parsed!.attachments.length ? { attachments: parsed!.attachments.map((a) => ({ name: a.filename ?? null, type: a.contentType, size: a.size })) } : {}),
      };
      const cmd: IngestCommand = {
        idempotencyKey: key,
        type: 'message.received',
        channel: 'email',
        direction: 'in',
        occurredAt: parsed!.date && !Number.isNaN(parsed!.date.getTime()) ? parsed!.date : new Date(),
        payload,
        customer: { identity: { kind: 'email', value: from } },
        interaction: automatic
          ? { kind: 'none' }
          : target
            ? { kind: 'existing', id: target }
            : {
                kind: 'conversation',
                key: `email:${messageId}`,
                open: { direction: 'in', entryAddress: this.deps.address, subject: facts.subject.slice(0, 500), attributes: { customerAddress: from, ourAddress: this.deps.address } },
              },
      };
      const result = await this.deps.ingest.appendWithin(tx, cmd);
      results.push(result);
      if (this.reopened.delete(target ?? '')) {
        // The reopened thread waits in its queue again: history says so.
        results.push(await this.deps.ingest.appendWithin(tx, {
          idempotencyKey: `${key}#reopened`, type: 'interaction.queued', channel: 'email', direction: 'internal', occurredAt: new Date(),
          payload: { via: 'reopen' }, customer: { identity: { kind: 'email', value: from } }, interaction: { kind: 'existing', id: target! },
        }));
      }
      if (result.event.interactionId) {
        await tx.query('INSERT INTO email_messages (message_id, interaction_id, direction) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [messageId, result.event.interactionId, 'in']);
      }
      for (const a of parsed!.attachments) {
        await tx.query('INSERT INTO attachments (event_id, filename, content_type, size, content) VALUES ($1, $2, $3, $4, $5)', [
          result.event.id, a.filename ?? null, a.contentType, a.size, a.size <= this.deps.maxAttachmentBytes ? a.content : null,
        ]);
      }
      await this.advance(tx, uidValidity, uid);
    });
    await this.deps.ingest.publish(...results);
    return automatic ? 'automatic' : 'stored';
  }

  /** The interaction this message answers: by In-Reply-To, References, then subject tag; reopened if recently closed. */
  private async thread(tx: PoolClient, f: EmailFacts): Promise<string | null> {
    const candidates = [...(f.inReplyTo ? [f.inReplyTo] : []), ...[...f.references].reverse()];
    let id: string | null = null;
    if (candidates.length) {
      const { rows } = await tx.query<{ message_id: string; interaction_id: string }>('SELECT message_id, interaction_id FROM email_messages WHERE message_id = ANY($1::text[])', [candidates]);
      const byId = new Map(rows.map((r) => [r.message_id, r.interaction_id]));
      id = candidates.map((c) => byId.get(c)).find((x) => x !== undefined) ?? null;
    }
    const tag = id ? null : tagFromSubject(f.subject);
    if (tag) {
      const { rows } = await tx.query<{ id: string }>(`SELECT id FROM interactions WHERE channel = 'email' AND id::text LIKE $1 ORDER BY created_at DESC LIMIT 1`, [`${tag}%`]);
      id = rows[0]?.id ?? null;
    }
    if (!id) return null;
    const { rows } = await tx.query<{ state: string; recent: boolean }>(
      `SELECT state, closed_at > now() - make_interval(days => $2) AS recent FROM interactions WHERE id = $1 FOR UPDATE`,
      [id, REOPEN_DAYS],
    );
    const row = rows[0];
    if (!row) return null;
    // In wrap-up the agent can no longer answer: a new conversation is opened and queued instead.
    if (row.state === 'wrapup') return null;
    if (row.state !== 'closed') return id;
    if (!row.recent) return null; // long closed: a new conversation
    this.reopened.add(id);
    await tx.query(
      `UPDATE interactions SET state = 'queued', agent_id = NULL, outcome = NULL, closed_at = NULL, ended_at = NULL, wrapup_deadline = NULL,
              queued_at = clock_timestamp(), escalation_step = 0, skill_relax = 0, updated_at = clock_timestamp() WHERE id = $1`,
      [id],
    );
    return id;
  }

  private async checkFence(tx: PoolClient, fence: Fence): Promise<void> {
    const { rowCount } = await tx.query(
      'SELECT 1 FROM mailbox_leases WHERE mailbox = $1 AND holder = $2 AND fence = $3 AND expires_at > now() FOR SHARE',
      [this.deps.mailbox, fence.holder, fence.token],
    );
    if (!rowCount) throw new LeaseLost('the mailbox lease was lost');
  }

  private async advance(tx: PoolClient, uidValidity: number, uid: number): Promise<void> {
    await tx.query(
      `INSERT INTO mailbox_checkpoints (mailbox, uid_validity, last_uid) VALUES ($1, $2, $3)
       ON CONFLICT (mailbox) DO UPDATE SET
         last_uid = CASE WHEN mailbox_checkpoints.uid_validity = EXCLUDED.uid_validity THEN GREATEST(mailbox_checkpoints.last_uid, EXCLUDED.last_uid) ELSE EXCLUDED.last_uid END,
         uid_validity = EXCLUDED.uid_validity, updated_at = now()`,
      [this.deps.mailbox, uidValidity, uid],
    );
  }

  private async checkpointOnly(uidValidity: number, uid: number, fence: Fence): Promise<void> {
    await withTransaction(this.deps.db, async (tx) => {
      await this.checkFence(tx, fence);
      await this.advance(tx, uidValidity, uid);
    });
  }

  async checkpoint(): Promise<{ uidValidity: number; lastUid: number } | null> {
    const { rows } = await this.deps.db.query<{ uid_validity: string; last_uid: string }>('SELECT uid_validity, last_uid FROM mailbox_checkpoints WHERE mailbox = $1', [this.deps.mailbox]);
    return rows[0] ? { uidValidity: Number(rows[0].uid_validity), lastUid: Number(rows[0].last_uid) } : null;
  }
}

function toFacts(p: ParsedMail): EmailFacts {
  const headers: Record<string, string> = {};
  for (const [k, v] of p.headers) headers[k.toLowerCase()] = typeof v === 'string' ? v : typeof v === 'object' && v && 'value' in v ? String((v as { value: unknown }).value) : String(v);
  const first = p.from?.value[0];
  return {
    messageId: messageIds(p.messageId)[0] ?? null,
    inReplyTo: messageIds(p.inReplyTo)[0] ?? null,
    references: messageIds(p.references),
    from: first?.address ?? null,
    fromName: first?.name || null,
    subject: p.subject ?? '',
    text: p.text ?? '',
    headers,
  };
}

