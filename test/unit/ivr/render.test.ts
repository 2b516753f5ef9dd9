import type { IvrAction } from '../../../src/ivr/interpreter.types';
import { CONFIRMATIONS, escapeXml, renderText, renderTwiml, timeoutUrl } from '../../../src/ivr/render';

const Q = '00000000-0000-4000-8000-000000000001';
const opts = { gatherActionUrl: 'https://sb.example/twilio/voice/gather', waitUrl: 'https://sb.example/twilio/voice/wait', voicemailActionUrl: 'https://sb.example/twilio/voice/voicemail' };
const doc = (body: string) => `<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`;
const gather = (over: Partial<Extract<IvrAction, { type: 'gather' }>> = {}): IvrAction => ({ type: 'gather', prompt: 'Press 1 or 2.', options: ['1', '2'], timeoutSeconds: 5, speech: false, ...over });

describe('renderTwiml', () => {
  it.each<[string, IvrAction[], string]>([
    ['nothing', [], ''],
    ['say', [{ type: 'say', text: 'Welcome.' }], '<Say>Welcome.</Say>'],
    [
      'gather (DTMF) with the timeout redirect',
      [gather()],
      '<Gather input="dtmf" timeout="5" numDigits="1" action="https://sb.example/twilio/voice/gather" method="POST"><Say>Press 1 or 2.</Say></Gather>' +
        '<Redirect method="POST">https://sb.example/twilio/voice/gather?timeout=1</Redirect>',
    ],
    [
      'gather with speech',
      [gather({ options: ['1', 'sales', 'new order'], speech: true, timeoutSeconds: 7 })],
      '<Gather input="dtmf speech" timeout="7" numDigits="1" action="https://sb.example/twilio/voice/gather" method="POST" speechTimeout="auto" hints="sales, new order"><Say>Press 1 or 2.</Say></Gather>' +
        '<Redirect method="POST">https://sb.example/twilio/voice/gather?timeout=1</Redirect>',
    ],
    ['enqueue', [{ type: 'enqueue', queueId: Q, skills: { sales: 1 }, priority: 2, language: 'es' }], `<Enqueue waitUrl="https://sb.example/twilio/voice/wait" waitUrlMethod="POST">${Q}</Enqueue>`],
    [
      'voicemail',
      [{ type: 'voicemail', prompt: 'Leave a message.', maxSeconds: 90 }],
      '<Say>Leave a message.</Say><Record maxLength="90" action="https://sb.example/twilio/voice/voicemail" method="POST" playBeep="true"/><Hangup/>',
    ],
    ['callback with a prompt', [{ type: 'callback', queueId: Q, prompt: 'We will call.' }], '<Say>We will call.</Say><Hangup/>'],
    ['callback without a prompt', [{ type: 'callback', queueId: Q }], `<Say>${escapeXml(CONFIRMATIONS.callback)}</Say><Hangup/>`],
    ['hangup with text', [{ type: 'hangup', text: 'Bye.' }], '<Say>Bye.</Say><Hangup/>'],
    ['hangup without text', [{ type: 'hangup' }], '<Hangup/>'],
    ['several actions in order', [{ type: 'say', text: 'Hello, Ada.' }, { type: 'hangup' }], '<Say>Hello, Ada.</Say><Hangup/>'],
  ])('%s', (_name, actions, body) => {
    expect(renderTwiml(actions, opts)).toBe(doc(body));
  });

  it('puts the language on Say and on speech Gather', () => {
    const xml = renderTwiml([{ type: 'say', text: 'Hola.' }, gather({ speech: true, options: ['ventas'] })], { ...opts, language: 'es-MX' });
    expect(xml).toBe(
      doc(
        '<Say language="es-MX">Hola.</Say>' +
          '<Gather input="dtmf speech" timeout="5" numDigits="1" action="https://sb.example/twilio/voice/gather" method="POST" language="es-MX" speechTimeout="auto" hints="ventas"><Say language="es-MX">Press 1 or 2.</Say></Gather>' +
          '<Redirect method="POST">https://sb.example/twilio/voice/gather?timeout=1</Redirect>',
      ),
    );
  });

  it('escapes text and attributes', () => {
    const xml = renderTwiml([{ type: 'say', text: `Tom & Jerry's <"shop">` }, { type: 'hangup', text: 'a\u0000b' }], { ...opts, waitUrl: 'x', gatherActionUrl: 'https://h/g?call="1"&x=<y>' });
    expect(xml).toBe(doc('<Say>Tom &amp; Jerry&apos;s &lt;&quot;shop&quot;&gt;</Say><Say>ab</Say><Hangup/>'));
    expect(renderTwiml([gather()], { ...opts, gatherActionUrl: 'https://h/g?call="1"&x=<y>' })).toContain(
      'action="https://h/g?call=&quot;1&quot;&amp;x=&lt;y&gt;"',
    );
  });
});

describe('timeoutUrl', () => {
  it.each<[string, string]>([
    ['https://h/gather', 'https://h/gather?timeout=1'],
    ['https://h/gather?call=CA1', 'https://h/gather?call=CA1&timeout=1'],
    ['https://h/gather?call=CA1#frag', 'https://h/gather?call=CA1&timeout=1#frag'],
  ])('%s → %s', (url, expected) => {
    expect(timeoutUrl(url)).toBe(expected);
  });
});

describe('escapeXml', () => {
  it('escapes the five XML specials and drops control characters', () => {
    expect(escapeXml(`<a href="x">&'\u0007\t\n`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;\t\n');
  });
});

describe('renderText', () => {
  it.each<[string, IvrAction[], string]>([
    ['say', [{ type: 'say', text: 'Hi.' }], 'Hi.'],
    ['menu without labels', [gather({ options: ['1', '2', '3'] })], 'Press 1 or 2.\nReply with one of: 1, 2, 3'],
    ['menu with labels', [gather({ labels: { '1': 'Sales', '2': 'Support' } })], 'Press 1 or 2.\nReply 1 for Sales.\nReply 2 for Support.'],
    ['menu with some labels', [gather({ options: ['1', '2', '#'], labels: { '1': 'Sales' } })], 'Press 1 or 2.\nReply 1 for Sales.\nOr reply with: 2, #'],
    ['enqueue', [{ type: 'enqueue', queueId: Q, skills: {}, priority: 0 }], CONFIRMATIONS.enqueueText],
    ['callback with a prompt', [{ type: 'callback', queueId: Q, prompt: 'We will call.' }], 'We will call.'],
    ['callback without a prompt', [{ type: 'callback', queueId: Q }], CONFIRMATIONS.callbackText],
    ['voicemail', [{ type: 'voicemail', prompt: 'Write your message.', maxSeconds: 120 }], 'Write your message.'],
    ['hangup with text', [{ type: 'hangup', text: 'Bye.' }], 'Bye.'],
    ['hangup without text', [{ type: 'hangup' }], CONFIRMATIONS.hangupText],
    ['a whole step, unescaped', [{ type: 'say', text: 'Hello, Ada & co.' }, gather({ prompt: 'Pick <one>' })], 'Hello, Ada & co.\nPick <one>\nReply with one of: 1, 2'],
  ])('%s', (_name, actions, text) => {
    expect(renderText(actions)).toBe(text);
  });
});
