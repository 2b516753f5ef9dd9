/**
 * What the IVR interpreter takes and gives: the per-call state (stored as JSON in
 * `interactions.ivr_state` so any process can answer the next webhook), the caller's input,
 * the customer facts the driver looked up, and the channel-neutral actions the renderers turn
 * into TwiML or SMS text.
 */

export interface IvrVars {
  /** Required skills for routing: {skill: minLevel}. `set` nodes merge into it. */
  skills?: Record<string, number>;
  priority?: number;
  language?: string;
}

export interface IvrState {
  /** The node the call is at: a menu waiting for input, a terminal, or where to start. */
  node: string;
  /** Failed attempts (timeout or invalid input) at the current menu. */
  retries: number;
  /** The last menu input: the matched option key, or the raw (trimmed) input when nothing matched. */
  lastInput?: string;
  /** Node ids entered, in order (a menu re-prompt is not a new entry). */
  path: string[];
  vars: IvrVars;
  done: boolean;
}

export type IvrInput =
  | { kind: 'start' }
  | { kind: 'digits'; value: string }
  | { kind: 'speech'; value: string }
  | { kind: 'timeout' }
  /** An SMS (or chat) reply; matched like digits and speech. */
  | { kind: 'text'; value: string };

export interface IvrCustomer {
  known: boolean;
  name?: string;
  attributes: Record<string, unknown>;
  /** The queue of the agent who last served this customer, if any. */
  lastAgentQueueId?: string;
}

export interface IvrContext {
  customer: IvrCustomer;
}

/** Why the interpreter hung up on its own (absent when a flow's `hangup` node did). */
export type HangupReason = 'no-input' | 'invalid-input' | 'no-queue' | 'step-limit' | 'missing-node';

export type IvrAction =
  | { type: 'say'; text: string }
  | {
      type: 'gather';
      prompt: string;
      /** Option keys in the menu's order. */
      options: string[];
      /** Option key → label, when the menu has labels. */
      labels?: Record<string, string>;
      timeoutSeconds: number;
      speech: boolean;
    }
  | { type: 'enqueue'; queueId: string; skills: Record<string, number>; priority: number; language?: string }
  | { type: 'callback'; queueId: string; prompt?: string }
  | { type: 'voicemail'; prompt: string; queueId?: string; maxSeconds: number }
  | { type: 'hangup'; text?: string; reason?: HangupReason };

export type IvrActionType = IvrAction['type'];

export interface StepResult {
  state: IvrState;
  actions: IvrAction[];
}
