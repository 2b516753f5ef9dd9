/** The Twilio Voice webhooks: /twilio/voice, /wait, /agent, /status, /recording. */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../platform/errors';
import { twiml } from '../twilio/twilio.plugin';
import { parseCallStatus, parseIncomingCall, parseRecording } from './voice.mapper';
import type { VoiceService } from './voice.service';
import type { IvrDriver } from '../../ivr/ivr.driver';
import type { IvrInput } from '../../ivr/interpreter.types';
import { afterRecordingTwiml } from './voice.twiml';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
type Form = Record<string, unknown>;

export function voiceRoutes(scope: FastifyInstance, deps: { voice: VoiceService; ivr: IvrDriver; defaultPhoneRegion: string }): void {
  const opts = { config: { auth: 'none' as const }, schema: { hide: true } };

  scope.post('/twilio/voice', opts, async (req, reply) => {
    const parsed = parseIncomingCall((req.body ?? {}) as Form, deps.defaultPhoneRegion);
    if (!parsed.ok) throw new AppError('SB_VALIDATION', parsed.message);
    const { twiml: xml, interaction } = await deps.voice.incoming(parsed.value);
    if (interaction.state === 'ivr') return twiml(reply, await deps.ivr.run(interaction.id, { kind: 'start' }, 'start'));
    return twiml(reply, xml);
  });

  scope.post('/twilio/voice/gather', opts, async (req, reply) => {
    const form = (req.body ?? {}) as Form;
    if (typeof form.CallSid !== 'string') throw new AppError('SB_VALIDATION', 'CallSid is required');
    const i = await deps.voice.findByCallSid(form.CallSid);
    if (!i) throw new AppError('SB_NOT_FOUND', 'no call with that CallSid');
    const timedOut = (req.query as { timeout?: string }).timeout === '1';
    const input: IvrInput = timedOut
      ? { kind: 'timeout' }
      : typeof form.Digits === 'string' && form.Digits !== ''
        ? { kind: 'digits', value: form.Digits.slice(0, 32) }
        : typeof form.SpeechResult === 'string' && form.SpeechResult !== ''
          ? { kind: 'speech', value: form.SpeechResult.slice(0, 500) }
          : { kind: 'timeout' };
    const token = req.headers['i-twilio-idempotency-token'];
    return twiml(reply, await deps.ivr.run(i.id, input, typeof token === 'string' && token.length <= 200 ? token : undefined));
  });

  scope.post('/twilio/voice/wait', opts, async (req, reply) => {
    const callSid = ((req.body ?? {}) as Form).CallSid;
    if (typeof callSid !== 'string') throw new AppError('SB_VALIDATION', 'CallSid is required');
    return twiml(reply, await deps.voice.wait(callSid));
  });

  scope.post('/twilio/voice/wait/choice', opts, async (req, reply) => {
    const form = (req.body ?? {}) as Form;
    if (typeof form.CallSid !== 'string') throw new AppError('SB_VALIDATION', 'CallSid is required');
    return twiml(reply, await deps.voice.waitChoice(form.CallSid, typeof form.Digits === 'string' ? form.Digits : ''));
  });

  scope.post('/twilio/voice/agent', opts, async (req, reply) => {
    const interactionId = (req.query as { interactionId?: string }).interactionId;
    const callSid = ((req.body ?? {}) as Form).CallSid;
    if (typeof interactionId !== 'string' || !UUID_RE.test(interactionId)) throw new AppError('SB_VALIDATION', 'interactionId query parameter is required');
    if (typeof callSid !== 'string') throw new AppError('SB_VALIDATION', 'CallSid is required');
    return twiml(reply, await deps.voice.agentLeg(interactionId, callSid));
  });

  scope.post('/twilio/voice/status', opts, async (req, reply) => {
    const parsed = parseCallStatus((req.body ?? {}) as Form);
    if (!parsed.ok) throw new AppError('SB_VALIDATION', parsed.message);
    await deps.voice.status(parsed.value);
    return reply.code(204).send();
  });

  scope.post('/twilio/voice/recording', opts, async (req, reply) => {
    const parsed = parseRecording((req.body ?? {}) as Form);
    if (!parsed.ok) throw new AppError('SB_VALIDATION', parsed.message);
    await deps.voice.recording(parsed.value);
    // Also the <Record> action of a voicemail, which answers with TwiML.
    return twiml(reply, afterRecordingTwiml());
  });
}
