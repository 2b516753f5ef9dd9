/**
 * The IVR interpreter: a pure step function. Given a flow, the call's state, one input and the
 * customer facts, it walks every node that needs no input (say, lookup, condition, set) until
 * it reaches a menu (emits `gather` and waits) or a terminal (emits enqueue / callback /
 * voicemail / hangup and sets `done`). No I/O, no clock: `now` is an argument, and the same
 * arguments always give the same result. Input states are never mutated.
 *
 * Menu input rules:
 * - digits, speech and text are trimmed and matched to option keys case-insensitively (trailing
 *   punctuation such as the "." speech recognisers add is ignored). Speech and text may also
 *   equal an option's label ("Sales" for option 1 labelled "Sales"), and otherwise still match
 *   when exactly one key or label appears in them as whole words ("I'd like sales please" →
 *   "sales"; "1 or 2" matches nothing).
 * - an empty value counts as a timeout (no input).
 * - a timeout or an unmatched input re-prompts ("Sorry, I didn't get that." then the gather
 *   again) up to `retries` times; after that the call goes to `invalid` (last attempt was
 *   invalid input) or `noInput`, and hangs up when neither is set.
 * - input that arrives when the call is not waiting at a menu (not started yet, or `start`)
 *   simply runs the flow from `state.node`.
 */
import { DEFAULTS, type Flow, type FlowNode, type MenuNode, type Test } from './flow.types';
import type { HangupReason, IvrAction, IvrContext, IvrInput, IvrState, StepResult } from './interpreter.types';
import { isOpen } from './schedule';

/** Automatic nodes walked in one step before the interpreter gives up on a runaway flow. */
export const MAX_AUTO_STEPS = 100;

export const PHRASES = {
  retry: "Sorry, I didn't get that.",
  greeting: (name: string): string => `Hello, ${name}.`,
  noInput: "Sorry, we didn't get a response. Goodbye.",
  invalidInput: "Sorry, we couldn't understand your choice. Goodbye.",
  noQueue: "Sorry, we can't take your call right now. Please try again later.",
  failure: 'Sorry, something went wrong. Please try again later.',
} as const;

export function initialState(flow: Flow): IvrState {
  return { node: flow.start, retries: 0, path: [], vars: {}, done: false };
}

export function step(flow: Flow, state: IvrState, input: IvrInput, ctx: IvrContext, now: Date): StepResult {
  if (state.done) return { state, actions: [] };
  const s = copy(state);
  const actions: IvrAction[] = [];
  const here = flow.nodes[state.node];
  const waiting = here?.type === 'menu' && state.path[state.path.length - 1] === state.node;

  if (!waiting || input.kind === 'start') return { state: walk(flow, s, state.node, ctx, now, actions), actions };

  const menu = here;
  const key = matchOption(menu, input);
  if (key !== undefined) {
    s.lastInput = key;
    return { state: walk(flow, s, menu.options[key]!, ctx, now, actions), actions };
  }

  const raw = 'value' in input ? input.value.trim() : '';
  const failure: HangupReason = raw === '' ? 'no-input' : 'invalid-input';
  if (failure === 'invalid-input') s.lastInput = raw;
  if (s.retries < (menu.retries ?? DEFAULTS.menuRetries)) {
    s.retries += 1;
    actions.push({ type: 'say', text: PHRASES.retry }, gatherFor(menu));
    return { state: s, actions };
  }
  const next = failure === 'invalid-input' ? (menu.invalid ?? menu.noInput) : menu.noInput;
  if (next !== undefined) return { state: walk(flow, s, next, ctx, now, actions), actions };
  return { state: hangUp(s, actions, failure === 'no-input' ? PHRASES.noInput : PHRASES.invalidInput, failure), actions };
}

function copy(state: IvrState): IvrState {
  const vars = { ...state.vars, ...(state.vars.skills ? { skills: { ...state.vars.skills } } : {}) };
  return { ...state, path: [...state.path], vars };
}

function hangUp(s: IvrState, actions: IvrAction[], text: string, reason: HangupReason): IvrState {
  actions.push({ type: 'hangup', text, reason });
  return { ...s, done: true };
}

/** Walks automatic nodes from `from`, appending actions, until a menu or a terminal. */
function walk(flow: Flow, s: IvrState, from: string, ctx: IvrContext, now: Date, actions: IvrAction[]): IvrState {
  let id = from;
  for (let steps = 0; steps < MAX_AUTO_STEPS; steps++) {
    const node: FlowNode | undefined = flow.nodes[id];
    s.node = id;
    if (!node) return hangUp(s, actions, PHRASES.failure, 'missing-node');
    s.path.push(id);
    switch (node.type) {
      case 'say':
        actions.push({ type: 'say', text: node.text });
        id = node.next;
        break;
      case 'lookup': {
        const name = ctx.customer.name?.replace(/\s+/g, ' ').trim().slice(0, 100);
        if (ctx.customer.known && name) actions.push({ type: 'say', text: PHRASES.greeting(name) });
        id = ctx.customer.known ? node.known : node.unknown;
        break;
      }
      case 'condition':
        id = holds(node.test, flow, s, ctx, now) ? node.then : node.else;
        break;
      case 'set':
        if (node.skills) s.vars.skills = { ...s.vars.skills, ...node.skills };
        if (node.priority !== undefined) s.vars.priority = node.priority;
        if (node.language !== undefined) s.vars.language = node.language;
        id = node.next;
        break;
      case 'menu':
        s.retries = 0;
        actions.push(gatherFor(node));
        return s;
      case 'enqueue': {
        const queueId = node.queueId ?? ctx.customer.lastAgentQueueId ?? node.fallbackQueueId;
        if (queueId === undefined) return hangUp(s, actions, PHRASES.noQueue, 'no-queue');
        const { skills = {}, priority = 0, language } = s.vars;
        actions.push({ type: 'enqueue', queueId, skills: { ...skills }, priority, ...(language !== undefined ? { language } : {}) });
        return { ...s, done: true };
      }
      case 'callback':
        actions.push({ type: 'callback', queueId: node.queueId, ...(node.prompt !== undefined ? { prompt: node.prompt } : {}) });
        return { ...s, done: true };
      case 'voicemail':
        actions.push({
          type: 'voicemail',
          prompt: node.prompt,
          ...(node.queueId !== undefined ? { queueId: node.queueId } : {}),
          maxSeconds: node.maxSeconds ?? DEFAULTS.voicemailMaxSeconds,
        });
        return { ...s, done: true };
      case 'hangup':
        actions.push({ type: 'hangup', ...(node.text !== undefined ? { text: node.text } : {}) });
        return { ...s, done: true };
    }
  }
  return hangUp(s, actions, PHRASES.failure, 'step-limit');
}

function gatherFor(menu: MenuNode): IvrAction {
  return {
    type: 'gather',
    prompt: menu.prompt,
    options: Object.keys(menu.options),
    ...(menu.labels ? { labels: { ...menu.labels } } : {}),
    timeoutSeconds: menu.timeoutSeconds ?? DEFAULTS.menuTimeoutSeconds,
    speech: menu.speech === true,
  };
}

function holds(test: Test, flow: Flow, s: IvrState, ctx: IvrContext, now: Date): boolean {
  switch (test.kind) {
    case 'business-hours':
      try {
        return isOpen(test, now, flow.timezone ?? DEFAULTS.timezone);
      } catch {
        return false; // an unvalidated flow with a bad timezone counts as closed
      }
    case 'attribute':
      return ctx.customer.attributes[test.attribute] === test.equals;
    case 'input':
      return s.lastInput !== undefined && s.lastInput.toLowerCase() === test.equals.trim().toLowerCase();
    case 'known-customer':
      return ctx.customer.known;
  }
}

/** Lower-cased, trimmed, inner whitespace collapsed, surrounding sentence punctuation dropped. */
export function normalizeInput(value: string): string {
  return value
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/^[\s.,!?;:]+|[\s.,!?;:]+$/g, '');
}

/**
 * The option key the input selects, or undefined (timeouts, empty input, no match, ambiguity).
 * Digits must equal a key. Speech and text may also equal a key's label, or contain exactly one
 * key or label as whole words.
 */
export function matchOption(menu: MenuNode, input: IvrInput): string | undefined {
  if (input.kind === 'start' || input.kind === 'timeout') return undefined;
  const said = normalizeInput(input.value);
  if (said === '') return undefined;
  const keys = Object.keys(menu.options);
  const exact = keys.find((k) => k.toLowerCase() === said);
  if (exact !== undefined || input.kind === 'digits') return exact;
  const words = (v: string): string => normalizeInput(v).replace(/[^\p{L}\p{N}'*#-]+/gu, ' ').trim();
  const heard = words(said);
  const names = keys.map((key) => {
    const label = menu.labels?.[key];
    return { key, names: label === undefined ? [key.toLowerCase()] : [key.toLowerCase(), words(label)] };
  });
  const unique = (hits: string[]): string | undefined => (new Set(hits).size === 1 ? hits[0] : undefined);
  const byLabel = unique(names.filter((n) => n.names.slice(1).includes(heard)).map((n) => n.key));
  if (byLabel !== undefined) return byLabel;
  return unique(names.filter((n) => n.names.some((name) => name !== '' && ` ${heard} `.includes(` ${name} `))).map((n) => n.key));
}
