/** The Twilio Voice webhooks: /twilio/voice, /wait, /agent, /status, /recording. */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../platform/errors';
import { twiml } from '../twilio/twilio.plugin';
import { parseCallStatus, parseIncomingCall, parseRecording } from './voice.mapper';
import type { VoiceService } from './voice.service';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
type Form = Record<string, unknown>;

export function voiceRoutes(scope: FastifyInstance, deps: { voice: VoiceService; defaultPhoneRegion: string; ivr?: (interactionId: string) => Promise<string> }): void {
  const opts = { config: { auth: 'none' as const }, schema: { hide: true } };

  scope.post('/twilio/voice', opts, async (req, reply) => {
    const parsed = parseIncomingCall((req.body ?? {}) as Form, deps.defaultPhoneRegion);
    if (!parsed.ok) throw new AppError('SB_VALIDATION', parsed.message);
    const { twiml: xml, interaction } = await deps.voice.incoming(parsed.value);
    if (interaction.state === 'ivr' && deps.ivr) return twiml(reply, await deps.ivr(interaction.id));
    return twiml(reply, xml);
  });

  scope.post('/twilio/voice/wait', opts, async (req, reply) => {
    const callSid = ((req.body ?? {}) as Form).CallSid;
    if (typeof callSid !== 'string') throw new AppError('SB_VALIDATION', 'CallSid is required');
    return twiml(reply, await deps.voice.wait(callSid));
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
    return reply.code(204).send();
  });
}
