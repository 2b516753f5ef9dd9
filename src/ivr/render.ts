/**
 * Renders interpreter actions for a channel: TwiML for voice, plain lines for SMS. Strings in,
 * string out; the Twilio SDK is not needed to write a few XML verbs, so a tiny local escaper
 * does it.
 *
 * TwiML conventions (the voice driver relies on these):
 * - gather → `<Gather input="dtmf" | "dtmf speech" timeout numDigits="1" action=gatherActionUrl
 *   method="POST">` around the prompt, followed by `<Redirect method="POST">` to the same
 *   gatherActionUrl with `timeout=1` added to its query. Twilio posts Digits / SpeechResult to
 *   the action; when the caller says nothing Twilio falls through to the Redirect, and the
 *   driver reads `timeout=1` as `{ kind: 'timeout' }`. Speech menus add `speechTimeout="auto"`
 *   and `hints` (the word options).
 * - enqueue → `<Enqueue waitUrl=… waitUrlMethod="POST">queueId</Enqueue>`: the Twilio queue is
 *   named by the Switchboard queue id. Skills, priority and language are not in the TwiML —
 *   Switchboard's own ACD routes, so the driver stores them from the action.
 * - voicemail → `<Say>` prompt, `<Record maxLength action=voicemailActionUrl method="POST"
 *   playBeep="true"/>`, then `<Hangup/>` (Twilio moves on to it when nothing was recorded).
 * - callback → `<Say>` confirmation (the node's prompt or a default) and `<Hangup/>`.
 * - hangup → optional `<Say>` and `<Hangup/>`.
 * `opts.language` (e.g. the call's `vars.language`) goes on every `<Say>` and on `<Gather>`.
 *
 * Text (SMS) conventions: each action is one or more lines joined with "\n". A menu with
 * `labels` lists "Reply 1 for Sales." per labelled option (unlabelled ones follow as
 * "Or reply with: …"); without labels it ends with "Reply with one of: 1, 2, 3".
 */
import type { IvrAction } from './interpreter.types';

export interface TwimlOptions {
  gatherActionUrl: string;
  waitUrl: string;
  voicemailActionUrl: string;
  /** BCP-47 language for `<Say>` and speech recognition, e.g. "en-US". */
  language?: string;
  /**
   * The Twilio queue a caller is held in. Switchboard names it after the interaction, so the
   * agent the ACD chose dequeues exactly this caller; defaults to the queue id.
   */
  enqueueName?: string;
}

export const CONFIRMATIONS = {
  callback: "Thanks. We'll call you back as soon as an agent is free. Goodbye.",
  enqueueText: "You're in the queue. An agent will reply here.",
  callbackText: "Thanks. An agent will call you back as soon as one is free.",
  hangupText: 'Goodbye.',
} as const;

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** XML-escapes text and attribute values, and drops control characters XML 1.0 cannot carry. */
export function escapeXml(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '').replace(/[&<>"']/g, (ch) => XML_ESCAPES[ch]!);
}

/** `gatherActionUrl` with `timeout=1` added to its query string. */
export function timeoutUrl(gatherActionUrl: string): string {
  const [base, hash] = gatherActionUrl.split('#', 2) as [string, string | undefined];
  const joined = `${base}${base.includes('?') ? '&' : '?'}timeout=1`;
  return hash === undefined ? joined : `${joined}#${hash}`;
}

function element(name: string, attrs: Record<string, string | number | undefined>, body?: string): string {
  const a = Object.entries(attrs)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
  return body === undefined ? `<${name}${a}/>` : `<${name}${a}>${body}</${name}>`;
}

export function renderTwiml(actions: IvrAction[], opts: TwimlOptions): string {
  const say = (text: string): string => element('Say', { language: opts.language }, escapeXml(text));
  const verbs = actions.map((action): string => {
    switch (action.type) {
      case 'say':
        return say(action.text);
      case 'gather': {
        const words = action.options.filter((k) => k.length > 1);
        const gather = element(
          'Gather',
          {
            input: action.speech ? 'dtmf speech' : 'dtmf',
            timeout: action.timeoutSeconds,
            numDigits: 1,
            action: opts.gatherActionUrl,
            method: 'POST',
            language: action.speech ? opts.language : undefined,
            speechTimeout: action.speech ? 'auto' : undefined,
            hints: action.speech && words.length > 0 ? words.join(', ') : undefined,
          },
          say(action.prompt),
        );
        return gather + element('Redirect', { method: 'POST' }, escapeXml(timeoutUrl(opts.gatherActionUrl)));
      }
      case 'enqueue':
        return element('Enqueue', { waitUrl: opts.waitUrl, waitUrlMethod: 'POST' }, escapeXml(opts.enqueueName ?? action.queueId));
      case 'voicemail':
        return (
          say(action.prompt) +
          element('Record', { maxLength: action.maxSeconds, action: opts.voicemailActionUrl, method: 'POST', playBeep: 'true' }) +
          '<Hangup/>'
        );
      case 'callback':
        return say(action.prompt ?? CONFIRMATIONS.callback) + '<Hangup/>';
      case 'hangup':
        return (action.text !== undefined ? say(action.text) : '') + '<Hangup/>';
    }
  });
  return `<?xml version="1.0" encoding="UTF-8"?><Response>${verbs.join('')}</Response>`;
}

export function renderText(actions: IvrAction[]): string {
  const lines: string[] = [];
  for (const action of actions) {
    switch (action.type) {
      case 'say':
        lines.push(action.text);
        break;
      case 'gather': {
        lines.push(action.prompt);
        const labelled = action.options.filter((k) => action.labels?.[k] !== undefined);
        const rest = action.options.filter((k) => action.labels?.[k] === undefined);
        for (const k of labelled) lines.push(`Reply ${k} for ${action.labels![k]}.`);
        if (rest.length > 0) lines.push(`${labelled.length > 0 ? 'Or reply with' : 'Reply with one of'}: ${rest.join(', ')}`);
        break;
      }
      case 'enqueue':
        lines.push(CONFIRMATIONS.enqueueText);
        break;
      case 'callback':
        lines.push(action.prompt ?? CONFIRMATIONS.callbackText);
        break;
      case 'voicemail':
        lines.push(action.prompt);
        break;
      case 'hangup':
        lines.push(action.text ?? CONFIRMATIONS.hangupText);
        break;
    }
  }
  return lines.join('\n');
}
