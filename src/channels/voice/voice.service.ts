/**
 * Calls: an incoming call becomes an interaction held in a Twilio queue named after it while
 * our ACD finds an agent; on accept the agent's softphone is dialled and its leg dequeues the
 * caller; status callbacks end the call (abandoned while waiting, wrap-up when answered).
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { Logger } from '../../platform/logger';
import { AppError } from '../../platform/errors';
import type { IngestService } from '../../interactions/ingest.service';
import type { InteractionRecord, InteractionState } from '../../interactions/events.types';
import { findInteraction } from '../../interactions/interactions.repository';
import type { WorkService } from '../../agents/work.service';
import type { VoiceProvider } from '../twilio/twilio.client';
import { softphoneIdentity } from './softphone.routes';
import { incomingCallCommand, waitAnnouncement, type CallStatus, type IncomingCall, type Recording } from './voice.mapper';
import { bridgeTwiml, callBackTwiml, enqueueTwiml, sayAndHangup, voicemailTwiml, waitTwiml } from './voice.twiml';
import { transition } from '../../routing/routing.repository';

/** States in which a call's caller belongs in its Twilio queue. */
const HELD: ReadonlySet<InteractionState> = new Set(['queued', 'offered', 'active']);

export class VoiceService {
  constructor(
    private readonly deps: { db: Pool; ingest: IngestService; work: WorkService; provider: VoiceProvider | null; publicBaseUrl: string; log: Logger; requestRouting?: () => void;
      /** How long after a voicemail caller hangs up we wait for the recording before calling it abandoned. */
      voicemailGraceSeconds?: number },
  ) {}

  private url(path: string): string {
    return `${this.deps.publicBaseUrl}${path}`;
  }

  async incoming(call: IncomingCall): Promise<{ twiml: string; interaction: InteractionRecord }> {
    const result = await this.deps.ingest.ingest(incomingCallCommand(call, new Date()));
    const interaction = (await findInteraction(this.deps.db, result.event.interactionId!))!;
    // Routing may offer the call, and an agent accept it, before this reply reaches Twilio (or
    // before a retried webhook arrives): the caller is still to be held in the queue the agent's
    // leg dequeues from.
    if (HELD.has(interaction.state) && interaction.queueId) {
      return { interaction, twiml: enqueueTwiml(interaction.id, this.url('/twilio/voice/wait'), 'Thank you for calling. Please hold for the next available agent.') };
    }
    if (interaction.state === 'ivr') return { interaction, twiml: '' }; // the IVR answers
    return { interaction, twiml: sayAndHangup('Sorry, no one can take your call right now. Please try again later.') };
  }

  async findByCallSid(callSid: string): Promise<InteractionRecord | null> {
    const { rows } = await this.deps.db.query<{ id: string }>(
      `SELECT id FROM interactions WHERE channel = 'voice' AND attributes ->> 'callSid' = $1 ORDER BY created_at DESC LIMIT 1`,
      [callSid],
    );
    return rows[0] ? findInteraction(this.deps.db, rows[0].id) : null;
  }

  /** Hold announcements: the caller's place in our queue and an estimate from the last day's waits. */
  async wait(callSid: string): Promise<string> {
    const i = await this.findByCallSid(callSid);
    if (!i || !i.queueId || i.state !== 'queued') return waitTwiml('Please stay on the line.');
    const { rows } = await this.deps.db.query<{ position: number; avg_wait: number | null }>(
      `SELECT (SELECT count(*)::int FROM interactions w WHERE w.queue_id = $1 AND w.state = 'queued' AND w.queued_at <= $2) AS position,
              (SELECT avg(extract(epoch FROM o.decided_at - o.queued_at))::float8 FROM offers o
                WHERE o.queue_id = $1 AND o.state = 'accepted' AND o.decided_at > now() - interval '24 hours') AS avg_wait`,
      [i.queueId, i.queuedAt],
    );
    const position = rows[0]?.position ?? 1;
    const avg = rows[0]?.avg_wait ?? null;
    return waitTwiml(waitAnnouncement(position, avg === null ? null : avg * position), this.url('/twilio/voice/wait/choice'));
  }

  /**
   * A waiting caller pressed a key. 1: call me back — the interaction stays where it is in the
   * queue (same age), the caller hangs up, and the agent who gets it calls them.
   */
  async waitChoice(callSid: string, digits: string): Promise<string> {
    const i = await this.findByCallSid(callSid);
    if (!i || i.state !== 'queued' || digits !== '1') return '<?xml version="1.0" encoding="UTF-8"?><Response/>'; // back to waiting
    await this.deps.ingest.ingest({
      idempotencyKey: `callback-request:${i.id}`,
      type: 'ivr.step',
      channel: 'voice',
      direction: 'in',
      occurredAt: new Date(),
      payload: { node: 'wait-callback', input: digits, callback: true },
      customer: { id: i.customerId },
      interaction: { kind: 'existing', id: i.id },
      apply: async (tx) => {
        await tx.query(`UPDATE interactions SET attributes = attributes || '{"callback": true}'::jsonb WHERE id = $1 AND state IN ('queued', 'offered')`, [i.id]);
      },
    });
    return sayAndHangup('Thank you. We will call you back as soon as an agent is free. You keep your place in line. Goodbye.');
  }

  /** After an agent accepts a call: ring their softphone; its leg fetches /twilio/voice/agent. */
  async onAccepted(i: InteractionRecord): Promise<void> {
    if (i.channel !== 'voice' || !i.agentId || !this.deps.provider) return;
    try {
      await this.dialAgent(i, i.agentId);
    } catch (err) {
      // The caller must not wait for an agent whose phone never rang: back to the queue.
      this.deps.log.warn({ err, interactionId: i.id }, 'could not ring the agent; returning the call to its queue');
      await this.deps.work.returnToQueue(i.id, 'softphone-unreachable');
    }
  }

  /**
   * Ring an agent's softphone for a call interaction. For an outbound call or a callback the
   * leg then dials the customer, and its status callbacks (it is the call) end the interaction.
   */
  async dialAgent(i: InteractionRecord, agentId: string): Promise<void> {
    if (!this.deps.provider) throw new AppError('SB_UNAVAILABLE', 'Twilio is not configured');
    const from = typeof i.attributes.ourAddress === 'string' ? i.attributes.ourAddress : '';
    const dialsCustomer = i.attributes.callback === true || i.attributes.outbound === true;
    const dialled = await this.deps.provider.dial({
      to: `client:${softphoneIdentity(agentId)}`,
      from,
      url: this.url(`/twilio/voice/agent?interactionId=${i.id}`),
      ...(dialsCustomer ? { statusCallback: this.url('/twilio/voice/status') } : {}),
    });
    if (dialsCustomer) {
      await this.deps.db.query(`UPDATE interactions SET attributes = attributes || jsonb_build_object('callSid', $2::text) WHERE id = $1`, [i.id, dialled.sid]);
    }
    await this.append(i, 'call.agent-dialed', `twilio:dial:${dialled.sid}`, { agentId, providerId: dialled.sid });
  }

  /**
   * Sweep step: callers who have waited past their queue's `maxWaitSeconds` are offered
   * voicemail instead; the message becomes work in the same queue (see `recording`).
   */
  async voicemailPastMaxWait(): Promise<number> {
    if (!this.deps.provider) return 0;
    const { rows } = await this.deps.db.query<{ id: string }>(
      `SELECT i.id FROM interactions i JOIN queues q ON q.id = i.queue_id
        WHERE i.channel = 'voice' AND i.state = 'queued' AND q.max_wait_seconds IS NOT NULL
          AND i.attributes ->> 'callSid' IS NOT NULL AND NOT (i.attributes ? 'callback')
          AND i.queued_at < clock_timestamp() - make_interval(secs => q.max_wait_seconds)
        LIMIT 100`,
    );
    let moved = 0;
    for (const { id } of rows) {
      const i = await findInteraction(this.deps.db, id);
      if (!i || !i.queueId) continue;
      let claimed = false;
      const attempt = randomUUID();
      await this.deps.ingest.ingest({
        idempotencyKey: `max-wait:${i.id}:${attempt}`,
        type: 'ivr.step',
        channel: 'voice',
        direction: 'internal',
        occurredAt: new Date(),
        payload: { node: 'max-wait-voicemail', reason: 'the wait exceeded the queue limit' },
        customer: { id: i.customerId },
        interaction: { kind: 'existing', id: i.id },
        apply: async (tx) => {
          // Out of the queue (no offers), waiting for the caller's message.
          claimed = await transition(tx, i.id, ['queued'], { state: 'ivr' });
          if (!claimed) throw new AppError('SB_CONFLICT', 'no longer waiting'); // rolls back the event too
          await tx.query(`UPDATE interactions SET attributes = attributes || jsonb_build_object('voicemailQueueId', $2::text) WHERE id = $1`, [i.id, i.queueId]);
        },
      }).catch((err) => {
        claimed = false; // offered meanwhile, or already moved; any other failure is retried by the next sweep
        if (!(err instanceof AppError)) this.deps.log.warn({ err, interactionId: i.id }, 'max-wait voicemail failed');
      });
      if (!claimed) continue;
      try {
        await this.deps.provider.redirect(String(i.attributes.callSid), voicemailTwiml(
          'Sorry, all our agents are still busy. Please leave a message after the tone and we will get back to you.',
          this.url('/twilio/voice/recording'),
        ));
        moved++;
      } catch (err) {
        // The caller is still on hold: put the call back in its queue (same age); the next sweep tries again.
        this.deps.log.warn({ err, interactionId: i.id }, 'voicemail redirect failed; call back in its queue');
        await this.deps.ingest.ingest({
          idempotencyKey: `max-wait-undo:${i.id}:${attempt}`,
          type: 'interaction.requeued',
          channel: 'voice',
          direction: 'internal',
          occurredAt: new Date(),
          payload: { reason: 'voicemail-redirect-failed' },
          customer: { id: i.customerId },
          interaction: { kind: 'existing', id: i.id },
          apply: async (tx) => {
            await transition(tx, i.id, ['ivr'], { state: 'queued' });
            await tx.query(`UPDATE interactions SET attributes = attributes - 'voicemailQueueId' WHERE id = $1`, [i.id]);
          },
        });
      }
    }
    return moved;
  }

  /** An answered call moved back to a queue: put the caller on hold in its Twilio queue again. */
  async onTransferred(i: InteractionRecord): Promise<void> {
    if (i.channel !== 'voice' || !this.deps.provider || i.attributes.outbound === true || i.attributes.callback === true) return;
    if (typeof i.attributes.callSid !== 'string') return;
    await this.deps.provider.redirect(i.attributes.callSid, enqueueTwiml(i.id, this.url('/twilio/voice/wait'), 'Please hold while we transfer your call.'));
  }

  /** TwiML for the agent's leg: dequeue the caller, if they are still there. */
  async agentLeg(interactionId: string, agentCallSid: string): Promise<string> {
    const i = await findInteraction(this.deps.db, interactionId);
    if (!i || i.state !== 'active') return sayAndHangup('This call is no longer waiting.');
    await this.append(i, 'call.bridged', `twilio:bridge:${i.id}:${agentCallSid}`, { agentId: i.agentId, providerId: agentCallSid });
    // A callback: the customer is not waiting on the line; the agent's leg calls them.
    if (i.attributes.callback === true || i.attributes.outbound === true) return callBackTwiml(String(i.attributes.customerAddress), String(i.attributes.ourAddress));
    return bridgeTwiml(i.id);
  }

  /** A call status callback. Each status is recorded once; the first final one ends the interaction. */
  async status(s: CallStatus): Promise<void> {
    const i = await this.findByCallSid(s.callSid);
    if (!i) return;
    await this.append(i, 'call.status', `twilio:call:${s.callSid}:status:${s.status}`, { status: s.status });
    if (!s.final) return;
    // A caller who asked for a callback or left a voicemail has hung up on purpose: the work stays.
    const keepsWork = i.attributes.callback === true || typeof i.attributes.voicemailQueueId === 'string';
    if (i.state !== 'closed' && !keepsWork) await this.deps.work.customerLeft(i.id);
    // A voicemail caller's recording arrives after the hang-up, if they left one at all: note the
    // time, and the sweep closes the call as abandoned if no recording came within the grace period.
    if (i.state === 'ivr' && typeof i.attributes.voicemailQueueId === 'string') {
      await this.deps.db.query(
        `UPDATE interactions SET attributes = attributes || jsonb_build_object('callEndedAt', clock_timestamp()) WHERE id = $1 AND state = 'ivr'`,
        [i.id],
      );
    }
    const after = (await findInteraction(this.deps.db, i.id))!;
    await this.append(after, 'call.completed', `twilio:call:${s.callSid}:completed`, {
      status: s.status,
      durationSeconds: s.durationSeconds,
      outcome: after.state === 'closed' ? 'abandoned' : 'answered',
    });
  }

  /** Voicemail callers who hung up without leaving a message (no recording within the grace period): abandoned. */
  async voicemailNeverLeft(): Promise<number> {
    const { rows } = await this.deps.db.query<{ id: string }>(
      `SELECT id FROM interactions
        WHERE channel = 'voice' AND state = 'ivr' AND attributes ? 'callEndedAt'
          AND (attributes ->> 'callEndedAt')::timestamptz < clock_timestamp() - make_interval(secs => $1)
        LIMIT 100`,
      [this.deps.voicemailGraceSeconds ?? 60],
    );
    for (const { id } of rows) await this.deps.work.customerLeft(id);
    return rows.length;
  }

  /** A recording (of a call, or a voicemail left in the IVR, which then becomes work in its queue). */
  async recording(r: Recording): Promise<void> {
    const i = await this.findByCallSid(r.callSid);
    if (!i || r.status !== 'completed') return;
    const voicemailQueue = i.state === 'ivr' && typeof i.attributes.voicemailQueueId === 'string' ? i.attributes.voicemailQueueId : null;
    await this.deps.ingest.ingest({
      idempotencyKey: `twilio:recording:${r.recordingSid}`,
      type: 'recording.completed',
      channel: 'voice',
      direction: voicemailQueue ? 'in' : 'internal',
      occurredAt: new Date(),
      payload: { providerId: r.recordingSid, url: r.url, durationSeconds: r.durationSeconds, ...(voicemailQueue ? { voicemail: true } : {}) },
      customer: { id: i.customerId },
      interaction: { kind: 'existing', id: i.id },
      allowClosed: true,
      apply: async (tx) => {
        if (voicemailQueue) await transition(tx, i.id, ['ivr'], { state: 'queued', queueId: voicemailQueue, queuedNow: true });
      },
    });
    if (voicemailQueue) this.deps.requestRouting?.();
  }

  private async append(i: InteractionRecord, type: 'call.status' | 'call.completed' | 'call.agent-dialed' | 'call.bridged' | 'recording.completed', key: string, payload: Record<string, unknown>): Promise<void> {
    await this.deps.ingest.ingest({
      idempotencyKey: key,
      type,
      channel: 'voice',
      direction: 'internal',
      occurredAt: new Date(),
      payload,
      customer: { id: i.customerId },
      interaction: { kind: 'existing', id: i.id },
      allowClosed: true,
    });
  }
}
