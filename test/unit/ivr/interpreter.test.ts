import type { Flow } from '../../../src/ivr/flow.types';
import { initialState, matchOption, MAX_AUTO_STEPS, PHRASES, step } from '../../../src/ivr/interpreter';
import type { IvrAction, IvrContext, IvrCustomer, IvrInput, IvrState } from '../../../src/ivr/interpreter.types';
import { validateFlow } from '../../../src/ivr/validator';

const Q = {
  sales: '00000000-0000-4000-8000-000000000001',
  support: '00000000-0000-4000-8000-000000000002',
  last: '00000000-0000-4000-8000-0000000000aa',
  vm: '00000000-0000-4000-8000-000000000004',
};
const MONDAY_NOON = new Date('2024-01-08T12:00:00Z');
const SUNDAY_NOON = new Date('2024-01-07T12:00:00Z');

const flow: Flow = {
  id: 'call',
  start: 'lookup',
  timezone: 'UTC',
  nodes: {
    lookup: { type: 'lookup', known: 'vip', unknown: 'hours' },
    vip: { type: 'condition', test: { kind: 'attribute', attribute: 'tier', equals: 'gold' }, then: 'vip-set', else: 'hours' },
    'vip-set': { type: 'set', priority: 7, next: 'hours' },
    hours: { type: 'condition', test: { kind: 'business-hours', hours: { mon: [['09:00', '17:00']] }, holidays: ['2024-01-15'] }, then: 'welcome', else: 'vm' },
    welcome: { type: 'say', text: 'Welcome.', next: 'main' },
    main: {
      type: 'menu',
      prompt: 'Press 1 for sales, 2 for support, 3 for a call back.',
      options: { '1': 'sales', '2': 'support', '3': 'cb', '9': 'main' },
      noInput: 'operator',
      invalid: 'bye',
    },
    sales: { type: 'set', skills: { sales: 2 }, language: 'es', next: 'sales-skill' },
    'sales-skill': { type: 'set', skills: { spanish: 1 }, priority: 3, next: 'sales-q' },
    'sales-q': { type: 'enqueue', queueId: Q.sales },
    support: { type: 'enqueue', fallbackQueueId: Q.support },
    cb: { type: 'callback', queueId: Q.support, prompt: 'We will call you back.' },
    operator: { type: 'say', text: 'Connecting you.', next: 'support' },
    vm: { type: 'voicemail', prompt: 'Leave a message.', queueId: Q.vm },
    bye: { type: 'hangup', text: 'Bye.' },
  },
};

const customer = (over: Partial<IvrCustomer> = {}): IvrContext => ({ customer: { known: false, attributes: {}, ...over } });
const digits = (value: string): IvrInput => ({ kind: 'digits', value });
const GATHER_MAIN: IvrAction = { type: 'gather', prompt: 'Press 1 for sales, 2 for support, 3 for a call back.', options: ['1', '2', '3', '9'], timeoutSeconds: 5, speech: false };
const RETRY: IvrAction[] = [{ type: 'say', text: PHRASES.retry }, GATHER_MAIN];

/** Feeds start and then each input; returns the final state and the actions of every step. */
function run(f: Flow, inputs: IvrInput[], ctx: IvrContext = customer(), now: Date = MONDAY_NOON): { state: IvrState; steps: IvrAction[][] } {
  let state = initialState(f);
  const steps: IvrAction[][] = [];
  for (const input of [{ kind: 'start' } as IvrInput, ...inputs]) {
    const r = step(f, state, input, ctx, now);
    state = r.state;
    steps.push(r.actions);
  }
  return { state, steps };
}

describe('step', () => {
  it('the test flow is valid', () => {
    expect(validateFlow(flow)).toMatchObject({ ok: true });
  });

  it('starts: say, then gather at the menu', () => {
    const { state, steps } = run(flow, []);
    expect(steps).toEqual([[{ type: 'say', text: 'Welcome.' }, GATHER_MAIN]]);
    expect(state).toEqual({ node: 'main', retries: 0, path: ['lookup', 'hours', 'welcome', 'main'], vars: {}, done: false });
  });

  it('initialState points at start with nothing visited', () => {
    expect(initialState(flow)).toEqual({ node: 'lookup', retries: 0, path: [], vars: {}, done: false });
  });

  describe('menu routing', () => {
    it.each<[string, IvrInput[], IvrAction[], Partial<IvrState>]>([
      ['digit 1 → sales with skills and language', [digits('1')], [{ type: 'enqueue', queueId: Q.sales, skills: { sales: 2, spanish: 1 }, priority: 3, language: 'es' }], { node: 'sales-q', done: true, lastInput: '1' }],
      ['digit 2 → support fallback queue', [digits('2')], [{ type: 'enqueue', queueId: Q.support, skills: {}, priority: 0 }], { node: 'support', done: true }],
      ['digit 3 → callback', [digits('3')], [{ type: 'callback', queueId: Q.support, prompt: 'We will call you back.' }], { node: 'cb', done: true }],
      ['digit 9 → the menu again', [digits('9')], [GATHER_MAIN], { node: 'main', done: false, retries: 0 }],
      ['digits are trimmed', [digits(' 1 ')], [{ type: 'enqueue', queueId: Q.sales, skills: { sales: 2, spanish: 1 }, priority: 3, language: 'es' }], { done: true }],
      ['invalid digit → retry', [digits('7')], RETRY, { node: 'main', retries: 1, lastInput: '7', done: false }],
      ['timeout → retry', [{ kind: 'timeout' }], RETRY, { node: 'main', retries: 1, done: false }],
      ['empty digits count as a timeout', [digits('')], RETRY, { node: 'main', retries: 1, done: false }],
      ['retry then a valid digit', [digits('7'), digits('3')], [{ type: 'callback', queueId: Q.support, prompt: 'We will call you back.' }], { node: 'cb', done: true, lastInput: '3' }],
      ['second retry', [digits('7'), { kind: 'timeout' }], RETRY, { retries: 2, done: false }],
      ['timeouts exhausted → noInput', [{ kind: 'timeout' }, { kind: 'timeout' }, { kind: 'timeout' }], [{ type: 'say', text: 'Connecting you.' }, { type: 'enqueue', queueId: Q.support, skills: {}, priority: 0 }], { node: 'support', done: true }],
      ['invalid input exhausted → invalid', [digits('7'), digits('8'), digits('0')], [{ type: 'hangup', text: 'Bye.' }], { node: 'bye', done: true, lastInput: '0' }],
      ['last attempt decides: timeouts then invalid → invalid', [{ kind: 'timeout' }, { kind: 'timeout' }, digits('5')], [{ type: 'hangup', text: 'Bye.' }], { node: 'bye' }],
      ['last attempt decides: invalid then timeout → noInput', [digits('5'), digits('5'), { kind: 'timeout' }], [{ type: 'say', text: 'Connecting you.' }, { type: 'enqueue', queueId: Q.support, skills: {}, priority: 0 }], { node: 'support' }],
      ['text reply', [{ kind: 'text', value: '  2. ' }], [{ type: 'enqueue', queueId: Q.support, skills: {}, priority: 0 }], { done: true, lastInput: '2' }],
    ])('%s', (_name, inputs, lastActions, expected) => {
      const { state, steps } = run(flow, inputs);
      expect(steps[steps.length - 1]).toEqual(lastActions);
      expect(state).toMatchObject(expected);
    });

    it('retries reset when the menu is entered again', () => {
      const { state } = run(flow, [digits('7'), digits('9')]);
      expect(state).toMatchObject({ node: 'main', retries: 0, path: ['lookup', 'hours', 'welcome', 'main', 'main'] });
    });

    it('hangs up after retries when the menu has no noInput/invalid', () => {
      const f: Flow = { id: 'f', start: 'm', nodes: { m: { type: 'menu', prompt: 'P', options: { '1': 'h' }, retries: 0 }, h: { type: 'hangup' } } };
      expect(run(f, [{ kind: 'timeout' }]).steps[1]).toEqual([{ type: 'hangup', text: PHRASES.noInput, reason: 'no-input' }]);
      expect(run(f, [digits('2')]).steps[1]).toEqual([{ type: 'hangup', text: PHRASES.invalidInput, reason: 'invalid-input' }]);
      expect(run(f, [digits('2')]).state.done).toBe(true);
    });

    it('invalid input without `invalid` falls back to noInput', () => {
      const f: Flow = { id: 'f', start: 'm', nodes: { m: { type: 'menu', prompt: 'P', options: { '1': 'h' }, retries: 0, noInput: 'n' }, h: { type: 'hangup' }, n: { type: 'hangup', text: 'N' } } };
      expect(run(f, [digits('2')]).steps[1]).toEqual([{ type: 'hangup', text: 'N' }]);
    });

    it('uses the menu timeout, retries and speech settings in gather', () => {
      const f: Flow = { id: 'f', start: 'm', nodes: { m: { type: 'menu', prompt: 'P', options: { '1': 'h', yes: 'h' }, labels: { '1': 'One' }, timeoutSeconds: 9, speech: true }, h: { type: 'hangup' } } };
      expect(run(f, []).steps[0]).toEqual([{ type: 'gather', prompt: 'P', options: ['1', 'yes'], labels: { '1': 'One' }, timeoutSeconds: 9, speech: true }]);
    });
  });

  describe('matching speech and text', () => {
    const menu = { type: 'menu' as const, prompt: 'Say sales or support', options: { '1': 'a', sales: 'a', support: 'b', 'new order': 'c', '3': 'd' }, labels: { '3': 'Billing & accounts' }, speech: true };
    it.each<[IvrInput, string | undefined]>([
      [{ kind: 'speech', value: 'Sales.' }, 'sales'],
      [{ kind: 'speech', value: 'SUPPORT' }, 'support'],
      [{ kind: 'speech', value: "I'd like sales, please." }, 'sales'],
      [{ kind: 'speech', value: 'a new order' }, 'new order'],
      [{ kind: 'speech', value: 'sales or support' }, undefined],
      [{ kind: 'speech', value: 'salesman' }, undefined],
      [{ kind: 'speech', value: 'billing and accounts' }, undefined],
      [{ kind: 'speech', value: 'Billing & accounts!' }, '3'],
      [{ kind: 'speech', value: 'billing  accounts' }, '3'],
      [{ kind: 'speech', value: '1' }, '1'],
      [{ kind: 'text', value: ' Support ' }, 'support'],
      [{ kind: 'text', value: 'option 1' }, '1'],
      [{ kind: 'text', value: '' }, undefined],
      [{ kind: 'digits', value: 'sales' }, 'sales'],
      [{ kind: 'digits', value: 'option 1' }, undefined],
      [{ kind: 'timeout' }, undefined],
      [{ kind: 'start' }, undefined],
    ])('%p → %p', (input, expected) => {
      expect(matchOption(menu, input)).toBe(expected);
    });

    it('routes a spoken choice through step', () => {
      const f: Flow = { id: 'f', start: 'm', nodes: { m: menu, a: { type: 'hangup', text: 'A' }, b: { type: 'hangup', text: 'B' }, c: { type: 'hangup' }, d: { type: 'hangup' } } };
      expect(run(f, [{ kind: 'speech', value: 'Support.' }]).steps[1]).toEqual([{ type: 'hangup', text: 'B' }]);
    });
  });

  describe('customer lookup and conditions', () => {
    it.each<[string, IvrContext, IvrAction[], string[], Partial<IvrState['vars']>]>([
      ['known caller is greeted by name', customer({ known: true, name: 'Ada  Lovelace' }), [{ type: 'say', text: 'Hello, Ada Lovelace.' }, { type: 'say', text: 'Welcome.' }, GATHER_MAIN], ['lookup', 'vip', 'hours', 'welcome', 'main'], {}],
      ['known caller without a name is not greeted', customer({ known: true }), [{ type: 'say', text: 'Welcome.' }, GATHER_MAIN], ['lookup', 'vip', 'hours', 'welcome', 'main'], {}],
      ['unknown caller skips the known branch', customer({ known: false, name: 'Ignored', attributes: { tier: 'gold' } }), [{ type: 'say', text: 'Welcome.' }, GATHER_MAIN], ['lookup', 'hours', 'welcome', 'main'], {}],
      ['attribute matches → priority set', customer({ known: true, attributes: { tier: 'gold' } }), [{ type: 'say', text: 'Welcome.' }, GATHER_MAIN], ['lookup', 'vip', 'vip-set', 'hours', 'welcome', 'main'], { priority: 7 }],
      ['attribute compared strictly', customer({ known: true, attributes: { tier: 'Gold' } }), [{ type: 'say', text: 'Welcome.' }, GATHER_MAIN], ['lookup', 'vip', 'hours', 'welcome', 'main'], {}],
    ])('%s', (_name, ctx, actions, path, vars) => {
      const { state, steps } = run(flow, [], ctx);
      expect(steps[0]).toEqual(actions);
      expect(state.path).toEqual(path);
      expect(state.vars).toEqual(vars);
    });

    it('carries vars from the VIP branch into enqueue', () => {
      const { steps } = run(flow, [digits('2')], customer({ known: true, attributes: { tier: 'gold' } }));
      expect(steps[1]).toEqual([{ type: 'enqueue', queueId: Q.support, skills: {}, priority: 7 }]);
    });

    it.each<[string, Date, string | undefined, boolean]>([
      ['inside hours', MONDAY_NOON, undefined, true],
      ['outside hours', new Date('2024-01-08T17:00:00Z'), undefined, false],
      ['a closed day', SUNDAY_NOON, undefined, false],
      ['a holiday', new Date('2024-01-15T12:00:00Z'), undefined, false],
      ['Monday 03:00 UTC is Sunday in Los Angeles', new Date('2024-01-08T03:00:00Z'), 'America/Los_Angeles', false],
      ['Monday 03:00 UTC is Monday in UTC', new Date('2024-01-08T03:00:00Z'), 'UTC', true],
      ['Monday 17:00 UTC is 09:00 in Los Angeles', new Date('2024-01-08T17:00:00Z'), 'America/Los_Angeles', true],
    ])('business hours: %s', (_name, now, timezone, open) => {
      const hours: Flow = {
        ...flow,
        ...(timezone ? { timezone } : {}),
        nodes: { ...flow.nodes, hours: { type: 'condition', test: { kind: 'business-hours', hours: timezone ? { mon: [['00:00', '24:00']] } : { mon: [['09:00', '17:00']] }, holidays: ['2024-01-15'] }, then: 'welcome', else: 'vm' } },
      };
      const { state, steps } = run(hours, [], customer(), now);
      expect(steps[0]).toEqual(open ? [{ type: 'say', text: 'Welcome.' }, GATHER_MAIN] : [{ type: 'voicemail', prompt: 'Leave a message.', queueId: Q.vm, maxSeconds: 120 }]);
      expect(state.done).toBe(!open);
    });

    it('a flow without timezone uses UTC', () => {
      const { timezone: _tz, ...utc } = flow;
      expect(run(utc, [], customer(), new Date('2024-01-08T09:00:00Z')).state.node).toBe('main');
    });

    it('input and known-customer conditions', () => {
      const f: Flow = {
        id: 'f',
        start: 'm',
        nodes: {
          m: { type: 'menu', prompt: 'P', options: { '1': 'which', '2': 'which', '#': 'who' } },
          which: { type: 'condition', test: { kind: 'input', equals: '2' }, then: 'two', else: 'one' },
          who: { type: 'condition', test: { kind: 'known-customer' }, then: 'two', else: 'one' },
          one: { type: 'hangup', text: 'one' },
          two: { type: 'hangup', text: 'two' },
        },
      };
      expect(run(f, [digits('1')]).steps[1]).toEqual([{ type: 'hangup', text: 'one' }]);
      expect(run(f, [digits('2')]).steps[1]).toEqual([{ type: 'hangup', text: 'two' }]);
      expect(run(f, [digits('#')], customer({ known: true })).steps[1]).toEqual([{ type: 'hangup', text: 'two' }]);
      expect(run(f, [digits('#')], customer({ known: false })).steps[1]).toEqual([{ type: 'hangup', text: 'one' }]);
    });
  });

  describe('enqueue', () => {
    it.each<[string, IvrCustomer['lastAgentQueueId'], string | undefined, string | null]>([
      ['explicit queue wins over last agent', Q.last, Q.sales, Q.sales],
      ["last agent's queue before the fallback", Q.last, undefined, Q.last],
      ['fallback when no last agent', undefined, undefined, Q.support],
    ])('%s', (_name, lastAgentQueueId, queueId, expected) => {
      const f: Flow = { id: 'f', start: 'q', nodes: { q: { type: 'enqueue', ...(queueId ? { queueId } : {}), fallbackQueueId: Q.support } } };
      const { steps } = run(f, [], customer({ known: true, lastAgentQueueId }));
      expect(steps[0]).toEqual([{ type: 'enqueue', queueId: expected, skills: {}, priority: 0 }]);
    });

    it('hangs up when no queue can be found', () => {
      const f: Flow = { id: 'f', start: 'q', nodes: { q: { type: 'enqueue' } } };
      expect(run(f, [])).toEqual({ state: { node: 'q', retries: 0, path: ['q'], vars: {}, done: true }, steps: [[{ type: 'hangup', text: PHRASES.noQueue, reason: 'no-queue' }]] });
    });
  });

  describe('state handling', () => {
    it('records the whole path across steps', () => {
      expect(run(flow, [digits('7'), digits('1')]).state.path).toEqual(['lookup', 'hours', 'welcome', 'main', 'sales', 'sales-skill', 'sales-q']);
    });

    it('does nothing once done', () => {
      const { state } = run(flow, [digits('3')]);
      expect(step(flow, state, digits('1'), customer(), MONDAY_NOON)).toEqual({ state, actions: [] });
    });

    it('never mutates the state it was given', () => {
      const { state } = run(flow, []);
      const frozen = JSON.parse(JSON.stringify(state));
      step(flow, state, digits('1'), customer(), MONDAY_NOON);
      step(flow, state, digits('7'), customer(), MONDAY_NOON);
      expect(state).toEqual(frozen);
    });

    it('input before start runs the flow from the start', () => {
      expect(step(flow, initialState(flow), { kind: 'text', value: 'hi' }, customer(), MONDAY_NOON).actions).toEqual([{ type: 'say', text: 'Welcome.' }, GATHER_MAIN]);
    });

    it('start while waiting at a menu prompts again', () => {
      const { state } = run(flow, [digits('7')]);
      const r = step(flow, state, { kind: 'start' }, customer(), MONDAY_NOON);
      expect(r.actions).toEqual([GATHER_MAIN]);
      expect(r.state).toMatchObject({ node: 'main', retries: 0 });
    });

    it('is deterministic and JSON-safe', () => {
      const a = run(flow, [digits('1')], customer({ known: true, name: 'Ada' }));
      const b = run(flow, [digits('1')], customer({ known: true, name: 'Ada' }));
      expect(a).toEqual(b);
      expect(JSON.parse(JSON.stringify(a.state))).toEqual(a.state);
    });
  });

  describe('guards for flows that skipped validation', () => {
    it(`hangs up after ${MAX_AUTO_STEPS} automatic steps`, () => {
      const f: Flow = { id: 'f', start: 'a', nodes: { a: { type: 'say', text: 'a', next: 'b' }, b: { type: 'set', next: 'a' } } };
      const { state, steps } = run(f, []);
      expect(steps[0]).toHaveLength(MAX_AUTO_STEPS / 2 + 1);
      expect(steps[0]![steps[0]!.length - 1]).toEqual({ type: 'hangup', text: PHRASES.failure, reason: 'step-limit' });
      expect(state.done).toBe(true);
      expect(state.path).toHaveLength(MAX_AUTO_STEPS);
    });

    it('hangs up on a missing node', () => {
      const f: Flow = { id: 'f', start: 'a', nodes: { a: { type: 'say', text: 'a', next: 'gone' } } };
      expect(run(f, [])).toEqual({
        state: { node: 'gone', retries: 0, path: ['a'], vars: {}, done: true },
        steps: [[{ type: 'say', text: 'a' }, { type: 'hangup', text: PHRASES.failure, reason: 'missing-node' }]],
      });
    });

    it('treats a bad timezone as closed', () => {
      const f: Flow = { id: 'f', start: 'c', timezone: 'Mars/Base', nodes: { c: { type: 'condition', test: { kind: 'business-hours', hours: { mon: [['00:00', '24:00']] } }, then: 'o', else: 'x' }, o: { type: 'hangup', text: 'open' }, x: { type: 'hangup', text: 'closed' } } };
      expect(run(f, []).steps[0]).toEqual([{ type: 'hangup', text: 'closed' }]);
    });
  });
});
