/**
 * Agent replies (and agent-started conversations) over email: the Message-ID is generated and
 * stored, with In-Reply-To and References, in the reply's transaction; the outbox sends it
 * through SMTP (nodemailer) so the customer's client threads it, with our subject tag.
 */
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { PoolClient } from 'pg';
import { AppError } from '../../platform/errors';
import type { InteractionRecord } from '../../interactions/events.types';
import type { OutboundChannel } from '../../agents/work.service';
import { insertOutbox } from '../outbox/outbox.repository';
import type { EmailSender, Outbox } from '../outbox/outbox.service';
import { replySubject, subjectTag } from './email.mapper';

export function emailOutbound(outbox: Outbox, from: string): OutboundChannel {
  const domain = from.split('@')[1] ?? 'switchboard.invalid';
  return {
    async prepare(tx: PoolClient, interaction: InteractionRecord, text: string) {
      const to = interaction.attributes.customerAddress;
      if (typeof to !== 'string') throw new AppError('SB_INVALID_STATE', `interaction ${interaction.id} has no email address`);
      const { rows } = await tx.query<{ message_id: string; direction: string }>(
        'SELECT message_id, direction FROM email_messages WHERE interaction_id = $1 ORDER BY created_at',
        [interaction.id],
      );
      const references = rows.map((r) => r.message_id).slice(-20);
      const inReplyTo = [...rows].reverse().find((r) => r.direction === 'in')?.message_id;
      const messageId = `<${randomUUID()}@${domain}>`;
      const id = randomUUID();
      await insertOutbox(tx, {
        id, interactionId: interaction.id, channel: 'email', to, from, body: text,
        // A reply is "Re: …"; the first message of a conversation we start is its own subject.
        subject: rows.length === 0 ? `${interaction.subject ?? 'Message'} ${subjectTag(interaction.id)}` : replySubject(interaction.subject, interaction.id),
        headers: { messageId, ...(inReplyTo ? { inReplyTo } : {}), references },
      });
      await tx.query('INSERT INTO email_messages (message_id, interaction_id, direction) VALUES ($1, $2, $3)', [messageId, interaction.id, 'out']);
      return { outboxId: id };
    },
    dispatch: (outboxId) => outbox.enqueue(outboxId),
  };
}

export function smtpSender(smtpUrl: string): EmailSender & { close(): void } {
  const transport = nodemailer.createTransport(smtpUrl);
  return {
    async send(m) {
      await transport.sendMail({
        from: m.from,
        to: m.to,
        subject: m.subject,
        text: m.text,
        messageId: m.messageId,
        ...(m.inReplyTo ? { inReplyTo: m.inReplyTo } : {}),
        ...(m.references?.length ? { references: m.references } : {}),
      });
    },
    close: () => transport.close(),
  };
}
