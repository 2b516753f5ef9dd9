/**
 * Turns untrusted JSON into a `Flow`, or lists every problem in it — never just the first.
 * Each problem names where it is (`nodes.main.options.1: target "sales" does not exist`) so an
 * operator can fix a whole flow in one pass. Checks: the shape and type of every field, unknown
 * fields (typos), limits, ids, targets, unreachable nodes, loops that never wait for input,
 * non-terminal nodes with no way forward, timezone, business hours, holidays, menu keys.
 * Pure: `Intl` is the only thing it consults.
 */
import { reachableFrom, inputFreeLoops, type Graph } from './flow-graph';
import { Checker, isObject, show, type Json } from './flow-checker';
import { LIMITS, NODE_TYPES, WEEKDAYS, type Flow, type NodeType } from './flow.types';
import { isValidDate, isValidTimeZone, parseHm } from './schedule';

export type ValidationResult = { ok: true; flow: Flow } | { ok: false; problems: string[] };

const DTMF_KEY = /^[0-9*#]$/;
const SPEECH_KEY = /^[\p{L}\p{N}](?:[\p{L}\p{N} '-]{0,62}[\p{L}\p{N}])?$/u;
const LANGUAGE = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$/;
const TEST_KINDS = ['business-hours', 'attribute', 'input', 'known-customer'] as const;

const FLOW_FIELDS = ['id', 'name', 'start', 'timezone', 'nodes'];
const NODE_FIELDS: Record<NodeType, string[]> = {
  say: ['text', 'next'],
  menu: ['prompt', 'options', 'labels', 'timeoutSeconds', 'retries', 'noInput', 'invalid', 'speech'],
  lookup: ['known', 'unknown'],
  condition: ['test', 'then', 'else'],
  set: ['skills', 'priority', 'language', 'next'],
  enqueue: ['queueId', 'fallbackQueueId'],
  callback: ['queueId', 'prompt'],
  voicemail: ['prompt', 'queueId', 'maxSeconds'],
  hangup: ['text'],
};
const TEST_FIELDS: Record<(typeof TEST_KINDS)[number], string[]> = {
  'business-hours': ['hours', 'holidays'],
  attribute: ['attribute', 'equals'],
  input: ['equals'],
  'known-customer': [],
};

export function validateFlow(input: unknown): ValidationResult {
  if (!isObject(input)) return { ok: false, problems: ['flow: must be a JSON object'] };
  const nodes = isObject(input.nodes) ? input.nodes : undefined;
  const ids = new Set(nodes ? Object.keys(nodes) : []);
  const c = new Checker(ids);

  if (typeof input.id !== 'string' || !LIMITS.idPattern.test(input.id)) c.add('id', `must match ${LIMITS.idPattern} (got ${show(input.id)})`);
  c.text('name', input.name, false);
  if (input.timezone !== undefined && (typeof input.timezone !== 'string' || !isValidTimeZone(input.timezone))) {
    c.add('timezone', `${show(input.timezone)} is not a valid IANA timezone`);
  }
  if (input.start === undefined) c.add('start', 'missing');
  else if (typeof input.start !== 'string') c.add('start', 'must be a node id (string)');
  else if (nodes && !ids.has(input.start)) c.add('start', `node "${input.start}" does not exist`);
  c.unknownFields('', input, FLOW_FIELDS);

  if (!nodes) {
    c.add('nodes', 'must be an object of node id → node');
    return { ok: false, problems: c.problems };
  }
  if (ids.size === 0) c.add('nodes', 'must have at least one node');
  if (ids.size > LIMITS.nodes) c.add('nodes', `has ${ids.size} nodes; at most ${LIMITS.nodes} are allowed`);

  const graph: Graph = new Map();
  for (const [id, raw] of Object.entries(nodes)) {
    const path = `nodes.${id}`;
    if (!LIMITS.idPattern.test(id)) c.add(path, `node id must match ${LIMITS.idPattern}`);
    if (!isObject(raw)) {
      c.add(path, 'must be an object');
      graph.set(id, { type: undefined, targets: [] });
      continue;
    }
    checkNode(c, path, raw);
    graph.set(id, { type: typeof raw.type === 'string' ? raw.type : undefined, targets: rawTargets(raw).filter((t) => ids.has(t)) });
  }

  if (typeof input.start === 'string' && ids.has(input.start)) {
    const reached = reachableFrom(graph, input.start);
    for (const id of ids) if (!reached.has(id)) c.add(`nodes.${id}`, `unreachable from start "${input.start}"`);
  }
  for (const loop of inputFreeLoops(graph)) {
    c.add(`nodes.${loop[0]}`, `loops without waiting for input: ${loop.join(' → ')} (put a menu in the loop or end it)`);
  }

  return c.problems.length === 0 ? { ok: true, flow: input as unknown as Flow } : { ok: false, problems: c.problems };
}

/** String-valued target fields of a node that may be only partly valid. */
function rawTargets(raw: Json): string[] {
  const fields: Record<string, string[]> = { say: ['next'], set: ['next'], menu: ['noInput', 'invalid'], lookup: ['known', 'unknown'], condition: ['then', 'else'] };
  const out = (fields[String(raw.type)] ?? []).map((f) => raw[f]);
  if (raw.type === 'menu' && isObject(raw.options)) out.unshift(...Object.values(raw.options));
  return out.filter((t): t is string => typeof t === 'string');
}

function checkNode(c: Checker, path: string, raw: Json): void {
  const type = raw.type;
  if (typeof type !== 'string' || !(NODE_TYPES as readonly string[]).includes(type)) {
    c.add(`${path}.type`, `must be one of ${NODE_TYPES.join(', ')} (got ${show(type)})`);
    return;
  }
  const t = type as NodeType;
  c.unknownFields(path, raw, ['type', ...NODE_FIELDS[t]]);
  switch (t) {
    case 'say':
      c.text(`${path}.text`, raw.text, true);
      c.target(`${path}.next`, raw.next, true, t);
      return;
    case 'menu':
      return checkMenu(c, path, raw);
    case 'lookup':
      c.target(`${path}.known`, raw.known, true, t);
      c.target(`${path}.unknown`, raw.unknown, true, t);
      return;
    case 'condition':
      checkTest(c, `${path}.test`, raw.test);
      c.target(`${path}.then`, raw.then, true, t);
      c.target(`${path}.else`, raw.else, true, t);
      return;
    case 'set':
      return checkSet(c, path, raw);
    case 'enqueue':
      c.queueId(`${path}.queueId`, raw.queueId, false);
      c.queueId(`${path}.fallbackQueueId`, raw.fallbackQueueId, false);
      if (raw.queueId === undefined && raw.fallbackQueueId === undefined) {
        c.add(`${path}.fallbackQueueId`, 'required when queueId is absent (a caller with no previous agent would have no queue)');
      }
      return;
    case 'callback':
      c.queueId(`${path}.queueId`, raw.queueId, true);
      c.text(`${path}.prompt`, raw.prompt, false);
      return;
    case 'voicemail':
      c.text(`${path}.prompt`, raw.prompt, true);
      c.queueId(`${path}.queueId`, raw.queueId, false);
      c.integer(`${path}.maxSeconds`, raw.maxSeconds, 1, 3600);
      return;
    case 'hangup':
      c.text(`${path}.text`, raw.text, false);
      return;
  }
}

function checkMenu(c: Checker, path: string, raw: Json): void {
  c.text(`${path}.prompt`, raw.prompt, true);
  if (raw.speech !== undefined && typeof raw.speech !== 'boolean') c.add(`${path}.speech`, 'must be true or false');
  const speech = raw.speech === true;
  if (!isObject(raw.options)) c.add(`${path}.options`, 'must be an object of option key → node id');
  else {
    const keys = Object.keys(raw.options);
    if (keys.length === 0) c.add(`${path}.options`, 'must have at least one option — a menu with none is a dead end');
    const seen = new Map<string, string>();
    for (const key of keys) {
      const at = `${path}.options.${key}`;
      if (!DTMF_KEY.test(key)) {
        if (!speech) c.add(at, 'option key must be one DTMF key (0-9, *, #); words need "speech": true');
        else if (!SPEECH_KEY.test(key)) c.add(at, 'option key must be one DTMF key (0-9, *, #) or a word or phrase of letters, digits, spaces, \' and - (at most 64)');
      }
      const folded = key.toLowerCase();
      if (seen.has(folded)) c.add(at, `same as option "${seen.get(folded)}" (options match case-insensitively)`);
      else seen.set(folded, key);
      c.target(at, raw.options[key], true, 'menu');
    }
  }
  if (raw.labels !== undefined) {
    if (!isObject(raw.labels)) c.add(`${path}.labels`, 'must be an object of option key → label');
    else {
      for (const [key, label] of Object.entries(raw.labels)) {
        if (isObject(raw.options) && !(key in raw.options)) c.add(`${path}.labels.${key}`, `no option "${key}" to label`);
        c.text(`${path}.labels.${key}`, label, true, 200);
      }
    }
  }
  c.integer(`${path}.timeoutSeconds`, raw.timeoutSeconds, 1, 60);
  c.integer(`${path}.retries`, raw.retries, 0, 10);
  c.target(`${path}.noInput`, raw.noInput, false);
  c.target(`${path}.invalid`, raw.invalid, false);
}

function checkSet(c: Checker, path: string, raw: Json): void {
  if (raw.skills !== undefined) {
    if (!isObject(raw.skills)) c.add(`${path}.skills`, 'must be an object of skill → minimum level');
    else {
      for (const [skill, level] of Object.entries(raw.skills)) {
        if (skill.length === 0 || skill.length > 64) c.add(`${path}.skills`, `skill name ${show(skill)} must be 1 to 64 characters`);
        if (typeof level !== 'number' || !Number.isFinite(level) || level < 0) c.add(`${path}.skills.${skill}`, 'must be a number ≥ 0');
      }
    }
  }
  c.integer(`${path}.priority`, raw.priority, -1_000_000, 1_000_000);
  if (raw.language !== undefined && (typeof raw.language !== 'string' || !LANGUAGE.test(raw.language))) {
    c.add(`${path}.language`, `must be a language tag like "en" or "es-MX" (got ${show(raw.language)})`);
  }
  c.target(`${path}.next`, raw.next, true, 'set');
}

function checkTest(c: Checker, path: string, test: unknown): void {
  if (!isObject(test)) return c.add(path, 'must be an object with a kind');
  const kind = test.kind;
  if (typeof kind !== 'string' || !(TEST_KINDS as readonly string[]).includes(kind)) {
    return c.add(`${path}.kind`, `must be one of ${TEST_KINDS.join(', ')} (got ${show(kind)})`);
  }
  const k = kind as (typeof TEST_KINDS)[number];
  c.unknownFields(path, test, ['kind', ...TEST_FIELDS[k]]);
  switch (k) {
    case 'business-hours':
      return checkHours(c, path, test);
    case 'attribute':
      c.text(`${path}.attribute`, test.attribute, true, 200);
      if (!['string', 'number', 'boolean'].includes(typeof test.equals) || (typeof test.equals === 'number' && !Number.isFinite(test.equals))) {
        c.add(`${path}.equals`, 'must be a string, number or boolean');
      }
      return;
    case 'input':
      c.text(`${path}.equals`, test.equals, true, 64);
      return;
    case 'known-customer':
      return;
  }
}

function checkHours(c: Checker, path: string, test: Json): void {
  if (!isObject(test.hours)) c.add(`${path}.hours`, 'must be an object of weekday (mon..sun) → [["HH:MM", "HH:MM"], …]');
  else {
    for (const [day, ranges] of Object.entries(test.hours)) {
      const at = `${path}.hours.${day}`;
      if (!(WEEKDAYS as readonly string[]).includes(day)) c.add(at, `unknown weekday (use ${WEEKDAYS.join(', ')})`);
      if (!Array.isArray(ranges)) {
        c.add(at, 'must be a list of ["HH:MM", "HH:MM"] ranges');
        continue;
      }
      ranges.forEach((range: unknown, i) => {
        const [from, to] = Array.isArray(range) && range.length === 2 ? range : [];
        const start = typeof from === 'string' ? parseHm(from) : null;
        const end = typeof to === 'string' ? parseHm(to) : null;
        if (start === null || end === null || start === 1440) c.add(`${at}.${i}`, `must be ["HH:MM", "HH:MM"] with times from 00:00 to 24:00 (got ${show(range)})`);
        else if (start >= end) c.add(`${at}.${i}`, `start ${from} must be before end ${to}`);
      });
    }
  }
  if (test.holidays !== undefined) {
    if (!Array.isArray(test.holidays)) c.add(`${path}.holidays`, 'must be a list of "YYYY-MM-DD" dates');
    else {
      test.holidays.forEach((d: unknown, i) => {
        if (typeof d !== 'string' || !isValidDate(d)) c.add(`${path}.holidays.${i}`, `must be a real date written YYYY-MM-DD (got ${show(d)})`);
      });
    }
  }
}
