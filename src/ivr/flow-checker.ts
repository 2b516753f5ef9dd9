/**
 * The validator's notebook: records "path: message" problems and checks the field shapes
 * every node shares (texts, node references, integers, queue ids, unknown fields), so
 * `validator.ts` reads as the list of rules.
 */
import { LIMITS } from './flow.types';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A value as it appears in a problem message. */
export function show(v: unknown): string {
  if (typeof v === 'string') return `"${v}"`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v); // not JSON at all (a cycle, a BigInt)
  }
}

/** Collects problems; each check records what is wrong at a path and moves on. */
export class Checker {
  readonly problems: string[] = [];
  constructor(private readonly ids: Set<string>) {}

  add(path: string, message: string): void {
    this.problems.push(`${path}: ${message}`);
  }

  unknownFields(path: string, obj: Json, allowed: string[]): void {
    for (const key of Object.keys(obj)) if (!allowed.includes(key)) this.add(path ? `${path}.${key}` : key, 'unknown field');
  }

  text(path: string, v: unknown, required: boolean, max: number = LIMITS.textLength): void {
    if (v === undefined) {
      if (required) this.add(path, 'missing');
    } else if (typeof v !== 'string' || v.trim() === '') this.add(path, 'must be a non-empty string');
    else if (v.length > max) this.add(path, `must be at most ${max} characters (has ${v.length})`);
  }

  /** A reference to another node. A missing required target is a dead end: the node is not terminal. */
  target(path: string, v: unknown, required: boolean, nodeType?: string): void {
    if (v === undefined) {
      if (required) this.add(path, `missing — a ${nodeType} node is not terminal, so without it the call reaches a dead end`);
    } else if (typeof v !== 'string') this.add(path, 'must be a node id (string)');
    else if (!this.ids.has(v)) this.add(path, `target "${v}" does not exist`);
  }

  integer(path: string, v: unknown, min: number, max: number): void {
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) {
      this.add(path, `must be an integer from ${min} to ${max}`);
    }
  }

  queueId(path: string, v: unknown, required: boolean): void {
    if (v === undefined) {
      if (required) this.add(path, 'missing');
    } else if (typeof v !== 'string' || !UUID.test(v)) this.add(path, `must be a queue id (UUID), got ${show(v)}`);
  }
}
