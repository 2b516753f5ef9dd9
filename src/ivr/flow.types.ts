/**
 * The IVR flow schema: a flow is JSON, not code. Operators store it (table `flows`), the
 * validator turns untrusted JSON into a `Flow`, and the interpreter walks it one caller input
 * at a time. Nodes are a discriminated union on `type`; every reference to another node is a
 * node id (a key of `nodes`).
 *
 * Terminal nodes (enqueue, callback, voicemail, hangup) end the flow. A menu is the only node
 * that waits for the caller; every other node is walked automatically.
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** ['HH:MM', 'HH:MM'] local time in the flow's timezone; open from the start (inclusive) to the end (exclusive). '24:00' may end a range. */
export type HourRange = [string, string];

export type Test =
  | {
      kind: 'business-hours';
      /** Open ranges per weekday; a missing or empty day is closed all day. */
      hours: Partial<Record<Weekday, HourRange[]>>;
      /** 'YYYY-MM-DD' local dates that are closed all day. */
      holidays?: string[];
    }
  | { kind: 'attribute'; attribute: string; equals: string | number | boolean }
  | { kind: 'input'; equals: string }
  | { kind: 'known-customer' };

export type TestKind = Test['kind'];

export interface SayNode {
  type: 'say';
  text: string;
  next: string;
}

export interface MenuNode {
  type: 'menu';
  prompt: string;
  /** Option key → target node. Keys are one DTMF character (0-9, *, #) or, when `speech` is on, a word or short phrase. */
  options: Record<string, string>;
  /**
   * Optional human labels per option key ("1" → "Sales"). The text (SMS) renderer lists them
   * ("Reply 1 for Sales."), and speech/text input may say the label instead of the key.
   */
  labels?: Record<string, string>;
  /** Seconds to wait for input; default 5. */
  timeoutSeconds?: number;
  /** Re-prompts after a timeout or an invalid input before giving up; default 2. */
  retries?: number;
  /** Where to go when retries are exhausted (after timeouts, and after invalid input when `invalid` is absent). Absent: hang up. */
  noInput?: string;
  /** Where to go when retries are exhausted and the last attempt was invalid input. */
  invalid?: string;
  /** Accept speech as well as DTMF. */
  speech?: boolean;
}

export interface LookupNode {
  type: 'lookup';
  known: string;
  unknown: string;
}

export interface ConditionNode {
  type: 'condition';
  test: Test;
  then: string;
  else: string;
}

export interface SetNode {
  type: 'set';
  skills?: Record<string, number>;
  priority?: number;
  language?: string;
  next: string;
}

export interface EnqueueNode {
  type: 'enqueue';
  /** Absent: the customer's last agent's queue when known, else `fallbackQueueId`. */
  queueId?: string;
  fallbackQueueId?: string;
}

export interface CallbackNode {
  type: 'callback';
  queueId: string;
  prompt?: string;
}

export interface VoicemailNode {
  type: 'voicemail';
  prompt: string;
  queueId?: string;
  /** Longest recording in seconds; default 120. */
  maxSeconds?: number;
}

export interface HangupNode {
  type: 'hangup';
  text?: string;
}

export type FlowNode = SayNode | MenuNode | LookupNode | ConditionNode | SetNode | EnqueueNode | CallbackNode | VoicemailNode | HangupNode;
export type NodeType = FlowNode['type'];
export type TerminalNode = EnqueueNode | CallbackNode | VoicemailNode | HangupNode;

export const NODE_TYPES: readonly NodeType[] = ['say', 'menu', 'lookup', 'condition', 'set', 'enqueue', 'callback', 'voicemail', 'hangup'];

export interface Flow {
  id: string;
  name?: string;
  start: string;
  /** IANA timezone for business hours; default 'UTC'. */
  timezone?: string;
  nodes: Record<string, FlowNode>;
}

export const DEFAULTS = {
  timezone: 'UTC',
  menuTimeoutSeconds: 5,
  menuRetries: 2,
  voicemailMaxSeconds: 120,
} as const;

export const LIMITS = {
  nodes: 200,
  textLength: 1000,
  idPattern: /^[A-Za-z0-9_-]{1,64}$/,
} as const;
