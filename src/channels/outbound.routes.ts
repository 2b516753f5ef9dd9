/**
 * POST /api/interactions: an agent starts a conversation — an SMS through the outbox, or a call
 * that rings their softphone and then the customer. Either is owned by the agent from the start
 * and lands in the customer's history like an inbound contact.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Pool, PoolClient } from 'pg';
import { AppError } from '../platform/errors';
import { ErrorResponse, Uuid } from '../platform/schemas';
import type { IngestService } from '../interactions/ingest.service';
import { findInteraction } from '../interactions/interactions.repository';
import { findMergedSet, findRootId } from '../customers/customers.repository';
import type { OutboundChannel } from '../agents/work.service';
import { smsConversationKey } from './sms/sms.mapper';
import type { VoiceService } from './voice/voice.service';

const Body = Type.Object(
  {
    customerId: Uuid,
    channel: Type.Union([Type.Literal('sms'), Type.Literal('voice'), Type.Literal('email')]),
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 1600, pattern: '\\S' })),
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    from: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
  },
  { additionalProperties: false },
);

export function outboundRoutes(
  app: FastifyInstance,
  deps: { db: Pool; ingest: IngestService; sms?: OutboundChannel; email?: OutboundChannel; emailFrom?: string; voice: VoiceService; voiceEnabled: boolean },
): void {
  app.post<{ Body: Static<typeof Body> }>(
    '/api/interactions',
    { config: { auth: 'agent' }, schema: { tags: ['interactions'], body: Body, response: { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 503: ErrorResponse } } },
    async (req, reply) => {
      const agentId = req.user!.agentId;
      if (!agentId) throw new AppError('SB_FORBIDDEN', 'only agents start conversations');
      const b = req.body;
      const root = await findRootId(deps.db, b.customerId);
      if (!root) throw new AppError('SB_NOT_FOUND', `customer ${b.customerId} not found`);
      if (b.channel === 'email') return reply.code(201).send(await startEmail(deps, agentId, root, b));
      if (b.channel === 'sms' && !deps.sms) throw new AppError('SB_UNAVAILABLE', 'SMS is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)');
      if (b.channel === 'voice' && !deps.voiceEnabled) throw new AppError('SB_UNAVAILABLE', 'voice is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)');
      if (b.channel === 'sms' && !b.text) throw new AppError('SB_VALIDATION', 'body.text is required for an SMS');

      const phone = await customerPhone(deps.db, root);
      if (!phone) throw new AppError('SB_VALIDATION', 'the customer has no phone number');
      const ours = b.from ?? (await ourNumber(deps.db, b.channel));
      if (!ours) throw new AppError('SB_VALIDATION', `body.from is required: no ${b.channel} entry point has a number`);
      const key = b.channel === 'sms' ? smsConversationKey(phone, ours) : `voice:outbound:${randomUUID()}`;
      const attributes = { customerAddress: phone, ourAddress: ours, ...(b.channel === 'voice' ? { outbound: true } : {}) };

      const result = await deps.ingest.ingest({
        idempotencyKey: `agent:${agentId}:start:${randomUUID()}`,
        type: b.channel === 'sms' ? 'message.sent' : 'call.started',
        channel: b.channel,
        direction: 'out',
        occurredAt: new Date(),
        payload: b.channel === 'sms' ? { text: b.text, from: 'agent', agentId } : { agentId, outbound: true },
        customer: { id: root },
        interaction: { kind: 'conversation', key, open: { direction: 'out', entryAddress: ours, attributes, ...(b.subject ? { subject: b.subject } : {}) } },
        apply: async (tx, { interaction }, payload) => {
          const i = interaction!;
          if (i.direction !== 'out' || i.agentId) throw new AppError('SB_CONFLICT', `the customer already has an open ${b.channel} conversation with ${ours} (interaction ${i.id})`);
          await tx.query(`UPDATE interactions SET agent_id = $2, accepted_at = clock_timestamp() WHERE id = $1`, [i.id, agentId]);
          if (b.channel === 'sms') {
            payload.outboxId = (await deps.sms!.prepare(tx as PoolClient, { ...i, attributes }, b.text!)).outboxId;
          }
        },
      });
      const interaction = (await findInteraction(deps.db, result.event.interactionId!))!;
      const outboxId = result.event.payload.outboxId as string | undefined;
      if (outboxId) await deps.sms!.dispatch(outboxId);
      if (b.channel === 'voice') await deps.voice.dialAgent(interaction, agentId);
      return reply.code(201).send({ ...interaction, createdAt: interaction.createdAt.toISOString() });
    },
  );
}

async function customerPhone(db: Pool, rootId: string): Promise<string | null> {
  const set = await findMergedSet(db, rootId);
  const { rows } = await db.query<{ value: string }>(
    `SELECT value FROM customer_identities WHERE customer_id = ANY($1::uuid[]) AND kind = 'phone' ORDER BY created_at DESC LIMIT 1`,
    [set],
  );
  return rows[0]?.value ?? null;
}

async function ourNumber(db: Pool, channel: 'sms' | 'voice'): Promise<string | null> {
  const { rows } = await db.query<{ address: string }>(`SELECT address FROM entry_points WHERE channel = $1 AND address <> '*' ORDER BY created_at LIMIT 1`, [channel]);
  return rows[0]?.address ?? null;
}

/** A new email conversation: a thread of its own, with our first message's Message-ID to thread replies. */
async function startEmail(
  deps: { db: Pool; ingest: IngestService; email?: OutboundChannel; emailFrom?: string },
  agentId: string,
  root: string,
  b: { text?: string; subject?: string },
) {
  if (!deps.email || !deps.emailFrom) throw new AppError('SB_UNAVAILABLE', 'email is not configured (SMTP_URL, EMAIL_FROM)');
  if (!b.text) throw new AppError('SB_VALIDATION', 'body.text is required for an email');
  if (!b.subject) throw new AppError('SB_VALIDATION', 'body.subject is required for an email');
  const set = await findMergedSet(deps.db, root);
  const { rows } = await deps.db.query<{ value: string }>(
    `SELECT value FROM customer_identities WHERE customer_id = ANY($1::uuid[]) AND kind = 'email' ORDER BY created_at DESC LIMIT 1`,
    [set],
  );
  const to = rows[0]?.value;
  if (!to) throw new AppError('SB_VALIDATION', 'the customer has no email address');
  const result = await deps.ingest.ingest({
    idempotencyKey: `agent:${agentId}:start:${randomUUID()}`,
    type: 'message.sent',
    channel: 'email',
    direction: 'out',
    occurredAt: new Date(),
    payload: { text: b.text, from: 'agent', agentId, subject: b.subject },
    customer: { id: root },
    interaction: { kind: 'conversation', key: `email:outbound:${randomUUID()}`, open: { direction: 'out', entryAddress: deps.emailFrom, subject: b.subject, attributes: { customerAddress: to, ourAddress: deps.emailFrom } } },
    apply: async (tx, { interaction }, payload) => {
      await tx.query('UPDATE interactions SET agent_id = $2, accepted_at = clock_timestamp() WHERE id = $1', [interaction!.id, agentId]);
      payload.outboxId = (await deps.email!.prepare(tx as PoolClient, interaction!, b.text!)).outboxId;
    },
  });
  const outboxId = result.event.payload.outboxId as string | undefined;
  if (outboxId) await deps.email.dispatch(outboxId);
  const interaction = (await findInteraction(deps.db, result.event.interactionId!))!;
  return { ...interaction, createdAt: interaction.createdAt.toISOString() };
}
