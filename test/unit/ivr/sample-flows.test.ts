import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Flow } from '../../../src/ivr/flow.types';
import { initialState, step } from '../../../src/ivr/interpreter';
import type { IvrContext, IvrInput, IvrState } from '../../../src/ivr/interpreter.types';
import { renderText, renderTwiml } from '../../../src/ivr/render';
import { validateFlow } from '../../../src/ivr/validator';

const load = (file: string): Flow => {
  const r = validateFlow(JSON.parse(readFileSync(join(__dirname, '../../../flows', file), 'utf8')));
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.flow;
};
const opts = { gatherActionUrl: '/g', waitUrl: '/w', voicemailActionUrl: '/v' };
const ctx = (over: Partial<IvrContext['customer']> = {}): IvrContext => ({ customer: { known: false, attributes: {}, ...over } });

function converse(flow: Flow, inputs: IvrInput[], c: IvrContext, now: Date, render: (a: ReturnType<typeof step>['actions']) => string): { state: IvrState; out: string[] } {
  let state = initialState(flow);
  const out: string[] = [];
  for (const input of [{ kind: 'start' } as IvrInput, ...inputs]) {
    const r = step(flow, state, input, c, now);
    state = r.state;
    out.push(render(r.actions));
  }
  return { state, out };
}

describe('flows/main-menu.json', () => {
  const flow = load('main-menu.json');
  const TUESDAY_10_NY = new Date('2026-03-10T14:00:00Z');
  const twiml = (a: ReturnType<typeof step>['actions']) => renderTwiml(a, opts);

  it('greets a known VIP, takes billing, and enqueues with skills and priority', () => {
    const { state, out } = converse(flow, [{ kind: 'digits', value: '3' }], ctx({ known: true, name: 'Ada', attributes: { vip: true } }), TUESDAY_10_NY, twiml);
    expect(out[0]).toContain('<Say>Hello, Ada.</Say><Say>Thanks for calling Switchboard.');
    expect(out[0]).toContain('<Gather input="dtmf" timeout="6"');
    expect(out[1]).toContain('<Enqueue waitUrl="/w" waitUrlMethod="POST">00000000-0000-4000-8000-000000000003</Enqueue>');
    expect(state).toMatchObject({ done: true, vars: { priority: 10, skills: { billing: 1 } }, path: ['lookup', 'vip-check', 'vip-priority', 'hours', 'welcome', 'main', 'billing', 'billing-queue'] });
  });

  it("sends a returning support caller to their last agent's queue", () => {
    const last = '11111111-1111-4111-8111-111111111111';
    const r = step(flow, step(flow, initialState(flow), { kind: 'start' }, ctx({ known: true, lastAgentQueueId: last }), TUESDAY_10_NY).state, { kind: 'digits', value: '2' }, ctx({ known: true, lastAgentQueueId: last }), TUESDAY_10_NY);
    expect(r.actions).toEqual([{ type: 'enqueue', queueId: last, skills: { support: 1 }, priority: 0 }]);
  });

  it('offers a call back', () => {
    expect(converse(flow, [{ kind: 'digits', value: '4' }], ctx(), TUESDAY_10_NY, twiml).out[1]).toMatch(/<Say>Thanks\. We&apos;ll call you back.*<\/Say><Hangup\/>/);
  });

  it('puts callers who never press anything through to an agent', () => {
    const { state } = converse(flow, [{ kind: 'timeout' }, { kind: 'timeout' }, { kind: 'timeout' }], ctx(), TUESDAY_10_NY, twiml);
    expect(state).toMatchObject({ node: 'support-queue', done: true });
  });

  it.each<[string, Date]>([
    ['at night', new Date('2026-03-11T02:00:00Z')],
    ['on Sunday', new Date('2026-03-08T16:00:00Z')],
    ['on Christmas', new Date('2026-12-25T15:00:00Z')],
  ])('takes voicemail %s', (_name, now) => {
    const { state, out } = converse(flow, [], ctx(), now, twiml);
    expect(out[0]).toContain('<Record maxLength="120" action="/v" method="POST" playBeep="true"/><Hangup/>');
    expect(state).toMatchObject({ node: 'voicemail', done: true });
  });
});

describe('flows/sms-menu.json', () => {
  const flow = load('sms-menu.json');
  const now = new Date('2026-03-10T14:00:00Z');

  it('runs as a text conversation', () => {
    const { state, out } = converse(flow, [{ kind: 'text', value: 'Sales' }], ctx(), now, renderText);
    expect(out).toEqual([
      'Thanks for texting Switchboard.\nHow can we help?\nReply 1 for Sales.\nReply 2 for Support.\nReply 3 for A call back.',
      "You're in the queue. An agent will reply here.",
    ]);
    expect(state.vars).toEqual({ skills: { sales: 1 } });
  });

  it('asks once more, then gives up on replies it cannot match', () => {
    const { out, state } = converse(flow, [{ kind: 'text', value: 'pizza' }, { kind: 'text', value: 'pizza!' }], ctx({ known: true }), now, renderText);
    expect(out).toEqual([
      'How can we help?\nReply 1 for Sales.\nReply 2 for Support.\nReply 3 for A call back.',
      "Sorry, I didn't get that.\nHow can we help?\nReply 1 for Sales.\nReply 2 for Support.\nReply 3 for A call back.",
      "Sorry, we couldn't match that. Text us again any time.",
    ]);
    expect(state.done).toBe(true);
  });
});
