import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateFlow } from '../../../src/ivr/validator';

const Q1 = '00000000-0000-4000-8000-000000000001';
const Q2 = '00000000-0000-4000-8000-000000000002';

/** A valid flow that uses every node type and test kind; each case below breaks one thing. */
const valid = (): any => ({
  id: 'test-flow',
  name: 'Test',
  start: 'lookup',
  timezone: 'Europe/Berlin',
  nodes: {
    lookup: { type: 'lookup', known: 'vip', unknown: 'hours' },
    vip: { type: 'condition', test: { kind: 'attribute', attribute: 'vip', equals: true }, then: 'vip-set', else: 'hours' },
    'vip-set': { type: 'set', priority: 5, skills: { vip: 1 }, language: 'en-US', next: 'hours' },
    hours: {
      type: 'condition',
      test: { kind: 'business-hours', hours: { mon: [['09:00', '12:00'], ['13:00', '24:00']], sat: [] }, holidays: ['2025-12-25'] },
      then: 'welcome',
      else: 'vm',
    },
    welcome: { type: 'say', text: 'Welcome.', next: 'main' },
    main: {
      type: 'menu',
      prompt: 'Press 1 or say sales.',
      options: { '1': 'sales', sales: 'sales', '2': 'again', '#': 'cb', '*': 'main' },
      labels: { '1': 'Sales' },
      speech: true,
      timeoutSeconds: 5,
      retries: 2,
      noInput: 'bye',
      invalid: 'bye',
    },
    again: { type: 'condition', test: { kind: 'input', equals: '2' }, then: 'known', else: 'main' },
    known: { type: 'condition', test: { kind: 'known-customer' }, then: 'last', else: 'main' },
    sales: { type: 'enqueue', queueId: Q1 },
    last: { type: 'enqueue', fallbackQueueId: Q2 },
    cb: { type: 'callback', queueId: Q2, prompt: 'We will call you.' },
    vm: { type: 'voicemail', prompt: 'Leave a message.', queueId: Q2, maxSeconds: 60 },
    bye: { type: 'hangup', text: 'Goodbye.' },
  },
});

const unreachable = (...ids: string[]) => ids.map((id) => `nodes.${id}: unreachable from start "lookup"`);
/** Everything after `welcome` in the valid flow, when `welcome` no longer leads to the menu. */
const afterWelcome = unreachable('main', 'again', 'known', 'sales', 'last', 'cb', 'bye');

type Case = [string, (f: any) => void, string[]];
const problemsOf = (mutate: (f: any) => void): string[] => {
  const f = valid();
  mutate(f);
  const r = validateFlow(f);
  return r.ok ? [] : r.problems;
};

describe('validateFlow', () => {
  it('accepts a valid flow and returns it typed', () => {
    const f = valid();
    expect(validateFlow(f)).toEqual({ ok: true, flow: f });
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['an array', []],
    ['a string', 'flow'],
  ])('rejects %s as a flow', (_name, input) => {
    expect(validateFlow(input)).toEqual({ ok: false, problems: ['flow: must be a JSON object'] });
  });

  describe('targets and start', () => {
    it.each<Case>([
      ['missing menu target', (f) => (f.nodes.main.options['2'] = 'nope'), ['nodes.main.options.2: target "nope" does not exist', ...unreachable('again', 'known', 'last')]],
      ['missing next', (f) => (f.nodes.welcome.next = 'menu'), ['nodes.welcome.next: target "menu" does not exist', ...afterWelcome]],
      ['missing then/else/known/unknown', (f) => Object.assign(f.nodes.known, { then: 'x', else: 'y' }), ['nodes.known.then: target "x" does not exist', 'nodes.known.else: target "y" does not exist', ...unreachable('last')]],
      ['missing noInput/invalid', (f) => Object.assign(f.nodes.main, { noInput: 'n', invalid: 'i' }), ['nodes.main.noInput: target "n" does not exist', 'nodes.main.invalid: target "i" does not exist', ...unreachable('bye')]],
      ['unknown start', (f) => (f.start = 'begin'), ['start: node "begin" does not exist']],
      ['missing start', (f) => delete f.start, ['start: missing']],
      ['non-string target', (f) => (f.nodes.lookup.known = 3), ['nodes.lookup.known: must be a node id (string)', ...unreachable('vip', 'vip-set')]],
    ])('%s', (_name, mutate, expected) => {
      expect(problemsOf(mutate)).toEqual(expected);
    });
  });

  describe('graph', () => {
    it.each<Case>([
      ['unreachable node', (f) => (f.nodes.orphan = { type: 'hangup' }), ['nodes.orphan: unreachable from start "lookup"']],
      [
        'loop of say nodes',
        (f) => Object.assign(f.nodes, { welcome: { type: 'say', text: 'a', next: 'w2' }, w2: { type: 'say', text: 'b', next: 'w3' }, w3: { type: 'say', text: 'c', next: 'welcome' } }),
        [...afterWelcome, 'nodes.welcome: loops without waiting for input: welcome → w2 → w3 → welcome (put a menu in the loop or end it)'],
      ],
      ['set node looping to itself', (f) => (f.nodes['vip-set'].next = 'vip-set'), ['nodes.vip-set: loops without waiting for input: vip-set → vip-set (put a menu in the loop or end it)']],
      ['condition loop with an exit', (f) => (f.nodes.known.else = 'again'), ['nodes.again: loops without waiting for input: again → known → again (put a menu in the loop or end it)']],
    ])('%s', (_name, mutate, expected) => {
      expect(problemsOf(mutate)).toEqual(expected);
    });

    it('accepts loops that pass through a menu', () => {
      expect(problemsOf((f) => (f.nodes.main.options['*'] = 'welcome'))).toEqual([]);
    });

    it.each<Case>([
      ['say without next', (f) => delete f.nodes.welcome.next, ['nodes.welcome.next: missing — a say node is not terminal, so without it the call reaches a dead end', ...afterWelcome]],
      ['condition without else', (f) => delete f.nodes.known.else, ['nodes.known.else: missing — a condition node is not terminal, so without it the call reaches a dead end']],
      ['lookup without unknown', (f) => delete f.nodes.lookup.unknown, ['nodes.lookup.unknown: missing — a lookup node is not terminal, so without it the call reaches a dead end']],
      ['set without next', (f) => delete f.nodes['vip-set'].next, ['nodes.vip-set.next: missing — a set node is not terminal, so without it the call reaches a dead end']],
      ['menu without options', (f) => Object.assign(f.nodes.main, { options: {}, labels: undefined, noInput: 'welcome', invalid: undefined }), ['nodes.main.options: must have at least one option — a menu with none is a dead end', ...unreachable('again', 'known', 'sales', 'last', 'cb', 'bye')]],
    ])('dead end: %s', (_name, mutate, expected) => {
      expect(problemsOf(mutate)).toEqual(expected);
    });
  });

  describe('time', () => {
    const hours = (f: any) => f.nodes.hours.test;
    it.each<Case>([
      ['unknown timezone', (f) => (f.timezone = 'Mars/Olympus_Mons'), ['timezone: "Mars/Olympus_Mons" is not a valid IANA timezone']],
      ['non-string timezone', (f) => (f.timezone = 1), ['timezone: 1 is not a valid IANA timezone']],
      ['hour without leading zero', (f) => (hours(f).hours.tue = [['9:00', '17:00']]), ['nodes.hours.test.hours.tue.0: must be ["HH:MM", "HH:MM"] with times from 00:00 to 24:00 (got ["9:00","17:00"])']],
      ['hour 25', (f) => (hours(f).hours.tue = [['09:00', '25:00']]), ['nodes.hours.test.hours.tue.0: must be ["HH:MM", "HH:MM"] with times from 00:00 to 24:00 (got ["09:00","25:00"])']],
      ['minute 60', (f) => (hours(f).hours.tue = [['09:60', '10:00']]), ['nodes.hours.test.hours.tue.0: must be ["HH:MM", "HH:MM"] with times from 00:00 to 24:00 (got ["09:60","10:00"])']],
      ['24:00 as a start', (f) => (hours(f).hours.tue = [['24:00', '24:00']]), ['nodes.hours.test.hours.tue.0: must be ["HH:MM", "HH:MM"] with times from 00:00 to 24:00 (got ["24:00","24:00"])']],
      ['start after end', (f) => (hours(f).hours.tue = [['17:00', '09:00']]), ['nodes.hours.test.hours.tue.0: start 17:00 must be before end 09:00']],
      ['empty range', (f) => (hours(f).hours.tue = [['09:00', '09:00']]), ['nodes.hours.test.hours.tue.0: start 09:00 must be before end 09:00']],
      ['three times in a range', (f) => (hours(f).hours.tue = [['09:00', '10:00', '11:00']]), ['nodes.hours.test.hours.tue.0: must be ["HH:MM", "HH:MM"] with times from 00:00 to 24:00 (got ["09:00","10:00","11:00"])']],
      ['unknown weekday', (f) => (hours(f).hours.funday = [['09:00', '10:00']]), ['nodes.hours.test.hours.funday: unknown weekday (use mon, tue, wed, thu, fri, sat, sun)']],
      ['day not a list', (f) => (hours(f).hours.tue = '09:00-17:00'), ['nodes.hours.test.hours.tue: must be a list of ["HH:MM", "HH:MM"] ranges']],
      ['hours missing', (f) => delete hours(f).hours, ['nodes.hours.test.hours: must be an object of weekday (mon..sun) → [["HH:MM", "HH:MM"], …]']],
      ['impossible holiday', (f) => (hours(f).holidays = ['2025-02-30']), ['nodes.hours.test.holidays.0: must be a real date written YYYY-MM-DD (got "2025-02-30")']],
      ['holiday in another format', (f) => (hours(f).holidays = ['2025-12-25', '25/12/2025', 20251225]), ['nodes.hours.test.holidays.1: must be a real date written YYYY-MM-DD (got "25/12/2025")', 'nodes.hours.test.holidays.2: must be a real date written YYYY-MM-DD (got 20251225)']],
      ['holidays not a list', (f) => (hours(f).holidays = '2025-12-25'), ['nodes.hours.test.holidays: must be a list of "YYYY-MM-DD" dates']],
    ])('%s', (_name, mutate, expected) => {
      expect(problemsOf(mutate)).toEqual(expected);
    });
    it('accepts a leap day', () => {
      expect(problemsOf((f) => (hours(f).holidays = ['2028-02-29']))).toEqual([]);
    });
  });

  describe('menus', () => {
    const menu = (f: any) => f.nodes.main;
    it.each<Case>([
      ['a word without speech', (f) => (menu(f).speech = false), ['nodes.main.options.sales: option key must be one DTMF key (0-9, *, #); words need "speech": true']],
      ['two digits', (f) => Object.assign(menu(f), { speech: undefined, options: { '12': 'sales', '1': 'sales' }, labels: undefined }), ['nodes.main.options.12: option key must be one DTMF key (0-9, *, #); words need "speech": true', ...unreachable('again', 'known', 'last', 'cb')]],
      ['a bad speech word', (f) => (menu(f).options[' sales!'] = 'sales'), ['nodes.main.options. sales!: option key must be one DTMF key (0-9, *, #) or a word or phrase of letters, digits, spaces, \' and - (at most 64)']],
      ['keys equal but for case', (f) => (menu(f).options.Sales = 'sales'), ['nodes.main.options.Sales: same as option "sales" (options match case-insensitively)']],
      ['a label for no option', (f) => (menu(f).labels['5'] = 'Five'), ['nodes.main.labels.5: no option "5" to label']],
      ['an empty label', (f) => (menu(f).labels['1'] = ''), ['nodes.main.labels.1: must be a non-empty string']],
      ['labels not an object', (f) => (menu(f).labels = ['Sales']), ['nodes.main.labels: must be an object of option key → label']],
      ['options not an object', (f) => Object.assign(menu(f), { options: ['sales'], labels: undefined, noInput: 'sales' }), ['nodes.main.options: must be an object of option key → node id', ...unreachable('again', 'known', 'last', 'cb')]],
      ['timeout out of range', (f) => (menu(f).timeoutSeconds = 0), ['nodes.main.timeoutSeconds: must be an integer from 1 to 60']],
      ['timeout as a string', (f) => (menu(f).timeoutSeconds = '5'), ['nodes.main.timeoutSeconds: must be an integer from 1 to 60']],
      ['negative retries', (f) => (menu(f).retries = -1), ['nodes.main.retries: must be an integer from 0 to 10']],
      ['fractional retries', (f) => (menu(f).retries = 1.5), ['nodes.main.retries: must be an integer from 0 to 10']],
      ['speech not a boolean', (f) => (menu(f).speech = 'yes'), ['nodes.main.speech: must be true or false', 'nodes.main.options.sales: option key must be one DTMF key (0-9, *, #); words need "speech": true']],
      ['prompt missing', (f) => delete menu(f).prompt, ['nodes.main.prompt: missing']],
    ])('%s', (_name, mutate, expected) => {
      expect(problemsOf(mutate)).toEqual(expected);
    });
  });

  describe('fields, types and limits', () => {
    it.each<Case>([
      ['flow id with a space', (f) => (f.id = 'main menu'), ['id: must match /^[A-Za-z0-9_-]{1,64}$/ (got "main menu")']],
      ['flow id missing', (f) => delete f.id, ['id: must match /^[A-Za-z0-9_-]{1,64}$/ (got undefined)']],
      ['flow id too long', (f) => (f.id = 'x'.repeat(65)), [`id: must match /^[A-Za-z0-9_-]{1,64}$/ (got "${'x'.repeat(65)}")`]],
      ['node id with a dot', (f) => Object.assign(f.nodes, { 'b.y': f.nodes.bye }) && Object.assign(f.nodes.main, { noInput: 'b.y' }), ['nodes.b.y: node id must match /^[A-Za-z0-9_-]{1,64}$/']],
      ['unknown flow field', (f) => (f.version = 2), ['version: unknown field']],
      ['unknown node field (a typo)', (f) => (f.nodes.welcome.nxt = 'main'), ['nodes.welcome.nxt: unknown field']],
      ['unknown test field', (f) => (f.nodes.vip.test.value = true), ['nodes.vip.test.value: unknown field']],
      ['unknown node type', (f) => (f.nodes.bye.type = 'goodbye'), ['nodes.bye.type: must be one of say, menu, lookup, condition, set, enqueue, callback, voicemail, hangup (got "goodbye")']],
      ['node not an object', (f) => (f.nodes.bye = 'hangup'), ['nodes.bye: must be an object']],
      ['nodes not an object', (f) => (f.nodes = []), ['nodes: must be an object of node id → node']],
      ['no nodes', (f) => Object.assign(f, { nodes: {} }), ['start: node "lookup" does not exist', 'nodes: must have at least one node']],
      ['text not a string', (f) => (f.nodes.welcome.text = 5), ['nodes.welcome.text: must be a non-empty string']],
      ['blank text', (f) => (f.nodes.welcome.text = '  '), ['nodes.welcome.text: must be a non-empty string']],
      ['text too long', (f) => (f.nodes.welcome.text = 'a'.repeat(1001)), ['nodes.welcome.text: must be at most 1000 characters (has 1001)']],
      ['name not a string', (f) => (f.name = {}), ['name: must be a non-empty string']],
      ['hangup text not a string', (f) => (f.nodes.bye.text = false), ['nodes.bye.text: must be a non-empty string']],
      ['skill level not a number', (f) => (f.nodes['vip-set'].skills = { vip: '1', es: -1 }), ['nodes.vip-set.skills.vip: must be a number ≥ 0', 'nodes.vip-set.skills.es: must be a number ≥ 0']],
      ['skills not an object', (f) => (f.nodes['vip-set'].skills = ['vip']), ['nodes.vip-set.skills: must be an object of skill → minimum level']],
      ['fractional priority', (f) => (f.nodes['vip-set'].priority = 1.5), ['nodes.vip-set.priority: must be an integer from -1000000 to 1000000']],
      ['bad language', (f) => (f.nodes['vip-set'].language = 'English!'), ['nodes.vip-set.language: must be a language tag like "en" or "es-MX" (got "English!")']],
      ['queue id not a UUID', (f) => (f.nodes.sales.queueId = 'sales'), ['nodes.sales.queueId: must be a queue id (UUID), got "sales"']],
      ['enqueue with no queue at all', (f) => delete f.nodes.last.fallbackQueueId, ['nodes.last.fallbackQueueId: required when queueId is absent (a caller with no previous agent would have no queue)']],
      ['callback without queue', (f) => delete f.nodes.cb.queueId, ['nodes.cb.queueId: missing']],
      ['voicemail maxSeconds 0', (f) => (f.nodes.vm.maxSeconds = 0), ['nodes.vm.maxSeconds: must be an integer from 1 to 3600']],
      ['voicemail without prompt', (f) => delete f.nodes.vm.prompt, ['nodes.vm.prompt: missing']],
      ['test not an object', (f) => (f.nodes.vip.test = 'vip'), ['nodes.vip.test: must be an object with a kind']],
      ['unknown test kind', (f) => (f.nodes.vip.test = { kind: 'weather' }), ['nodes.vip.test.kind: must be one of business-hours, attribute, input, known-customer (got "weather")']],
      ['attribute compared to an object', (f) => (f.nodes.vip.test.equals = { a: 1 }), ['nodes.vip.test.equals: must be a string, number or boolean']],
      ['attribute name missing', (f) => delete f.nodes.vip.test.attribute, ['nodes.vip.test.attribute: missing']],
      ['input test without a value', (f) => (f.nodes.again.test.equals = ''), ['nodes.again.test.equals: must be a non-empty string']],
    ])('%s', (_name, mutate, expected) => {
      expect(problemsOf(mutate)).toEqual(expected);
    });

    it('rejects more than 200 nodes', () => {
      const nodes: Record<string, unknown> = {};
      for (let i = 0; i < 200; i++) nodes[`n${i}`] = { type: 'say', text: `${i}`, next: `n${i + 1}` };
      nodes.n200 = { type: 'hangup' };
      expect(validateFlow({ id: 'big', start: 'n0', nodes })).toEqual({ ok: false, problems: ['nodes: has 201 nodes; at most 200 are allowed'] });
      delete nodes.n200;
      nodes.n199 = { type: 'hangup' };
      expect(validateFlow({ id: 'big', start: 'n0', nodes }).ok).toBe(true);
    });
  });

  it('lists every problem in a flow, not just the first', () => {
    expect(
      validateFlow({
        id: 'bad flow',
        start: 'intro',
        timezone: 'Nowhere/Land',
        extra: true,
        nodes: {
          intro: { type: 'say', text: 'Hi', next: 'menu' },
          menu: { type: 'menu', prompt: 'Pick', options: { '1': 'sales', billing: 'loop-a', '2': 'dead' } },
          'loop-a': { type: 'say', text: 'a', next: 'loop-b' },
          'loop-b': { type: 'say', text: 'b', next: 'loop-a' },
          dead: { type: 'say', text: 'nowhere' },
          hours: { type: 'condition', test: { kind: 'business-hours', hours: { mon: [['18:00', '09:00']] }, holidays: ['2025-13-01'] }, then: 'bye', else: 'bye' },
          bye: { type: 'hangup' },
        },
      }),
    ).toEqual({
      ok: false,
      problems: [
        'id: must match /^[A-Za-z0-9_-]{1,64}$/ (got "bad flow")',
        'timezone: "Nowhere/Land" is not a valid IANA timezone',
        'extra: unknown field',
        'nodes.menu.options.1: target "sales" does not exist',
        'nodes.menu.options.billing: option key must be one DTMF key (0-9, *, #); words need "speech": true',
        'nodes.dead.next: missing — a say node is not terminal, so without it the call reaches a dead end',
        'nodes.hours.test.hours.mon.0: start 18:00 must be before end 09:00',
        'nodes.hours.test.holidays.0: must be a real date written YYYY-MM-DD (got "2025-13-01")',
        'nodes.hours: unreachable from start "intro"',
        'nodes.bye: unreachable from start "intro"',
        'nodes.loop-a: loops without waiting for input: loop-a → loop-b → loop-a (put a menu in the loop or end it)',
      ],
    });
  });

  describe('sample flows in flows/', () => {
    const dir = join(__dirname, '../../../flows');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    it('has the documented samples', () => {
      expect(files).toEqual(expect.arrayContaining(['main-menu.json', 'sms-menu.json']));
    });
    it.each(files)('%s validates', (file) => {
      expect(validateFlow(JSON.parse(readFileSync(join(dir, file), 'utf8')))).toMatchObject({ ok: true });
    });
  });
});
