/**
 * Runs a call (or an SMS conversation) through its entry point's IVR flow: one interpreter step per webhook, the
 * progress stored on the interaction (so any process can take the next webhook) and every
 * step in history. The flow's end decides: enqueue into our ACD, a callback request, a
 * voicemail, or a hang-up.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { withTransaction } from '../platform/db';
import { AppError } from '../platform/errors';
import type { IngestService } from '../interactions/ingest.service';
import type { IngestResult } from '../interactions/events.types';
import { lockInteraction } from '../interactions/interactions.repository';
import { transition } from '../routing/routing.repository';
import type { Flow } from './flow.types';
import { initialState, step } from './interpreter';
import type { IvrAction, IvrContext, IvrInput, IvrState } from './interpreter.types';
import { renderText, renderTwiml } from './render';

/** What `interactions.ivr_state` holds: the interpreter state and the last answer, by webhook key. */
interface StoredIvr {
  state: IvrState;
  key: string;
  twiml: string;
}

export class IvrDriver {
  constructor(private readonly deps: { db: Pool; ingest: IngestService; publicBaseUrl: string }) {}

  /** Advance a call's flow with `input`; returns the TwiML to answer with. `key` dedupes webhook retries. */
  run(interactionId: string, input: IvrInput, key: string = randomUUID()): Promise<string> {
    return this.advance(interactionId, input, key, (actions, state) =>
      renderTwiml(actions, {
        gatherActionUrl: `${this.deps.publicBaseUrl}/twilio/voice/gather`,
        waitUrl: `${this.deps.publicBaseUrl}/twilio/voice/wait`,
        voicemailActionUrl: `${this.deps.publicBaseUrl}/twilio/voice/recording`,
        enqueueName: interactionId,
        ...(state.vars.language ? { language: state.vars.language } : {}),
      }),
    ).then((out) => out ?? '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>');
  }

  /** Advance a text conversation's flow (SMS menu); returns the text to answer with, or null when not in the IVR. */
  runText(interactionId: string, input: IvrInput, key: string): Promise<string | null> {
    return this.advance(interactionId, input, key, (actions) => renderText(actions));
  }

  private async advance(interactionId: string, input: IvrInput, key: string, render: (actions: IvrAction[], state: IvrState) => string): Promise<string | null> {
    const results: IngestResult[] = [];
    const twiml = await withTransaction(this.deps.db, async (tx) => {
      const i = await lockInteraction(tx, interactionId);
      if (!i) throw new AppError('SB_NOT_FOUND', `interaction ${interactionId} not found`);
      const { rows } = await tx.query<{ definition: Flow; ivr_state: StoredIvr | null; attributes: Record<string, unknown>; name: string | null; last_queue: string | null }>(
        `SELECT f.definition, i.ivr_state, c.attributes, c.name,
                (SELECT o.queue_id FROM offers o JOIN interactions p ON p.id = o.interaction_id
                  WHERE p.customer_id = i.customer_id AND o.state = 'accepted' ORDER BY o.decided_at DESC LIMIT 1) AS last_queue
           FROM interactions i JOIN entry_points e ON e.id = i.entry_point_id JOIN flows f ON f.id = e.flow_id
           JOIN customers c ON c.id = i.customer_id
          WHERE i.id = $1`,
        [interactionId],
      );
      const row = rows[0];
      if (!row) return null;
      // A retried webhook (same idempotency key) gets the same answer, and the flow does not advance twice.
      if (row.ivr_state?.key === key) return row.ivr_state.twiml;
      if (i.state !== 'ivr') return null;
      const ctx: IvrContext = {
        customer: { known: row.name !== null, ...(row.name ? { name: row.name } : {}), attributes: row.attributes, ...(row.last_queue ? { lastAgentQueueId: row.last_queue } : {}) },
      };
      const before = row.ivr_state?.state ?? initialState(row.definition);
      // A conversation's first text opens the menu rather than answering it.
      const effective: IvrInput = row.ivr_state === null && input.kind === 'text' ? { kind: 'start' } : input;
      const { state, actions } = step(row.definition, before, effective, ctx, new Date());
      const append = async (type: 'ivr.step' | 'interaction.queued' | 'interaction.closed', payload: Record<string, unknown>, suffix: string) => {
        results.push(await this.deps.ingest.appendWithin(tx, {
          idempotencyKey: `ivr:${interactionId}:${key}:${suffix}`, type, channel: i.channel, direction: 'internal', occurredAt: new Date(),
          payload, customer: { id: i.customerId }, interaction: { kind: 'existing', id: i.id },
        }));
      };
      const input_ = input.kind === 'start' ? undefined : input.kind === 'timeout' ? 'timeout' : input.value;
      await append('ivr.step', { node: state.node, path: state.path, ...(input_ !== undefined ? { input: input_ } : {}), actions: actions.map((a) => a.type) }, 'step');
      const terminal = actions[actions.length - 1];
      if (terminal?.type === 'enqueue' || terminal?.type === 'callback') {
        const priority = terminal.type === 'enqueue' ? terminal.priority : 0;
        await transition(tx, i.id, ['ivr'], { state: 'queued', queueId: terminal.queueId, priority, queuedNow: true });
        if (terminal.type === 'callback') await tx.query(`UPDATE interactions SET attributes = attributes || '{"callback": true}'::jsonb WHERE id = $1`, [i.id]);
        if (terminal.type === 'enqueue' && Object.keys(terminal.skills).length > 0) {
          // Skills the caller's choices call for: the router requires them on top of the queue's.
          await tx.query(`UPDATE interactions SET attributes = attributes || jsonb_build_object('skills', $2::jsonb) WHERE id = $1`, [i.id, JSON.stringify(terminal.skills)]);
        }
        await append('interaction.queued', { queueId: terminal.queueId, via: 'ivr', ...(terminal.type === 'callback' ? { callback: true } : {}), ...(terminal.type === 'enqueue' && Object.keys(terminal.skills).length ? { skills: terminal.skills } : {}) }, 'queued');
      }
      if (terminal?.type === 'hangup') {
        // The flow ended the contact: close it, so the customer's next message starts afresh.
        await append('interaction.closed', { reason: 'ivr-hangup', outcome: 'cancelled' }, 'closed');
        await transition(tx, i.id, ['ivr'], { state: 'closed', outcome: 'cancelled', closedNow: true });
        await tx.query('UPDATE interactions SET conversation_key = NULL WHERE id = $1', [i.id]);
      }
      if (terminal?.type === 'voicemail') {
        await tx.query(`UPDATE interactions SET attributes = attributes || jsonb_build_object('voicemailQueueId', $2::text) WHERE id = $1`, [i.id, terminal.queueId ?? null]);
      }
      const twiml = render(actions, state);
      const stored: StoredIvr = { state, key, twiml };
      await tx.query('UPDATE interactions SET ivr_state = $2 WHERE id = $1', [interactionId, JSON.stringify(stored)]);
      return twiml;
    });
    await this.deps.ingest.publish(...results);
    return twiml;
  }
}
