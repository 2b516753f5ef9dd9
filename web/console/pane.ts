/**
 * One interaction the agent holds: the conversation with a reply box (chat, SMS, email), end,
 * transfer, wrap-up, and the customer beside it. Several panes sit side by side.
 */
import { ApiError, describeError, serverNow, type Api } from '../shared/api';
import { clock, fill, h, randomId } from '../shared/dom';
import type { AgentMessage, AgentSocket, CustomerView, ErrorBody, HistoryItem, InteractionView, QueueName } from '../shared/types';
import { CustomerPanel } from './customer';
import { channelLabel, customerLabel } from './timeline';

const ACK_MS = 10_000;
const MESSAGE_HISTORY_LIMIT = 200;
export const DISPOSITIONS = ['Resolved', 'Follow-up needed', 'Escalated', 'Information given', 'No action needed'];

export type PaneState = 'loading' | 'queued' | 'offered' | 'ivr' | 'active' | 'wrapup' | 'closed' | 'transferred' | 'requeued' | 'gone';

export interface PaneDeps {
  api: Api;
  socket: AgentSocket;
  queues(): QueueName[];
  notify(message: string): void;
  remove(pane: InteractionPane): void;
}

export interface PaneHint {
  channel?: string;
  customerName?: string;
  subject?: string;
}

/** An ack's result, or its error as an exception. */
export function unwrap<T extends object>(r: ({ ok: true } & T) | { ok: false; error: ErrorBody }): T {
  if (!r.ok) throw new ApiError(0, r.error.code, r.error.message);
  return r;
}

interface Pending {
  clientMessageId: string;
  text: string;
  li: HTMLLIElement;
  messageId?: string;
}

const STATE_LABELS: Record<PaneState, string> = {
  loading: 'Loading…',
  queued: 'Back in the queue',
  offered: 'Being offered',
  ivr: 'In self-service',
  active: 'Active',
  wrapup: 'Wrap-up',
  closed: 'Closed',
  transferred: 'Transferred',
  requeued: 'Returned to the queue',
  gone: 'No longer yours',
};

export class InteractionPane {
  readonly el: HTMLElement;
  state: PaneState = 'loading';
  private channel: string;
  private customerName: string;
  private interaction: InteractionView | null = null;
  /** An end, transfer or wrap-up is waiting for its ack. */
  private acting = false;
  private loadFailed = false;
  private readonly uid: string;
  private readonly title: HTMLElement;
  private readonly stateEl: HTMLElement;
  private readonly alert = h('p', { class: 'form-error', role: 'alert' });
  private readonly log: HTMLOListElement;
  private readonly messages = new Map<string, HTMLLIElement>();
  private readonly pending: Pending[] = [];
  private readonly replyForm: HTMLFormElement;
  private readonly replyText: HTMLTextAreaElement;
  private readonly work: HTMLElement;
  private readonly transferSelect: HTMLSelectElement;
  private readonly wrapupForm: HTMLFormElement;
  private readonly disposition: HTMLSelectElement;
  private readonly closedBox: HTMLElement;
  private readonly customerSlot = h('div', { class: 'customer-slot' });
  /** The reply box, or for a call the pointer to the softphone: it follows the channel once known. */
  private readonly compose = h('div', { class: 'compose' });

  constructor(
    readonly id: string,
    private readonly deps: PaneDeps,
    hint: PaneHint = {},
  ) {
    this.uid = `i-${id.slice(0, 8)}`;
    this.channel = hint.channel ?? 'chat';
    this.customerName = hint.customerName ?? 'the customer';
    this.title = h('h3', { id: `${this.uid}-title`, tabindex: -1 });
    this.stateEl = h('span', { class: 'pane-state', role: 'status' }, STATE_LABELS.loading);
    this.log = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-labelledby': this.title.id });

    this.replyText = h('textarea', { id: `${this.uid}-reply`, rows: 3, maxlength: 10000, required: true });
    this.replyText.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.replyForm.requestSubmit();
      }
    });
    this.replyForm = h(
      'form',
      { class: 'reply', 'aria-label': 'Send a reply' },
      h('label', { for: this.replyText.id }, 'Reply ', h('span', { class: 'hint' }, '(Enter sends, Shift+Enter for a new line)')),
      this.replyText,
      h('button', { type: 'submit', class: 'primary' }, 'Send'),
    );
    this.replyForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = this.replyText.value.trim();
      if (!text || this.state !== 'active') return;
      this.replyText.value = '';
      this.send(text);
    });

    this.transferSelect = h('select', { id: `${this.uid}-transfer` });
    const transferForm = h(
      'form',
      { class: 'transfer', 'aria-label': 'Transfer' },
      h('label', { for: this.transferSelect.id }, 'Transfer to queue'),
      this.transferSelect,
      h('button', { type: 'submit' }, 'Transfer'),
    );
    transferForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.transfer(this.transferSelect.value);
    });
    transferForm.addEventListener('focusin', () => this.fillQueues());
    this.work = h(
      'div',
      { class: 'work' },
      h('button', { type: 'button', class: 'end', onclick: () => void this.end() }, 'End conversation'),
      transferForm,
    );

    this.disposition = h('select', { id: `${this.uid}-disposition` }, h('option', { value: '' }, 'Choose…'), DISPOSITIONS.map((d) => h('option', { value: d }, d)));
    const wrapNotes = h('textarea', { id: `${this.uid}-wrap-notes`, rows: 2, maxlength: 10000 });
    this.wrapupForm = h(
      'form',
      { class: 'wrapup', 'aria-label': 'Wrap-up', hidden: true },
      h('h4', null, 'Wrap-up'),
      h('div', { class: 'field' }, h('label', { for: this.disposition.id }, 'Disposition'), this.disposition),
      h('div', { class: 'field' }, h('label', { for: wrapNotes.id }, 'Wrap-up notes'), wrapNotes),
      h('button', { type: 'submit', class: 'primary' }, 'Finish wrap-up'),
    );
    this.wrapupForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.wrapup(this.disposition.value, wrapNotes.value.trim());
    });
    this.closedBox = h('div', { class: 'closed', hidden: true });

    this.el = h(
      'article',
      { class: 'pane card', 'data-interaction-id': id, 'aria-labelledby': this.title.id },
      h('header', { class: 'pane-head' }, this.title, this.stateEl),
      this.alert,
      this.log,
      this.compose,
      this.work,
      this.wrapupForm,
      this.closedBox,
      this.customerSlot,
    );
    this.renderTitle(hint.subject);
    this.renderCompose();
  }

  private renderCompose(): void {
    const voice = this.channel === 'voice';
    if (voice === (this.compose.dataset.channel === 'voice') && this.compose.firstChild) return;
    this.compose.dataset.channel = voice ? 'voice' : 'text';
    fill(this.compose, voice ? h('p', { class: 'hint' }, 'Voice call: answer, mute, hold and hang up in the Softphone panel.') : this.replyForm);
  }

  private renderTitle(subject?: string | null): void {
    fill(this.title, h('span', { class: `badge channel-${this.channel}` }, channelLabel(this.channel)), ` ${this.customerName}`, subject ? ` · ${subject}` : null);
  }

  /** Reads the interaction, its messages and its customer; again after a reconnect, to catch up. */
  async load(): Promise<void> {
    try {
      const i = await this.deps.api.get<InteractionView>(`/api/interactions/${this.id}`);
      const first = !this.interaction;
      this.interaction = i;
      this.channel = i.channel;
      this.renderTitle(i.subject);
      // A pane opened from a state event (after a reload or reconnect) learns its channel only now.
      this.renderCompose();
      if (first) {
        const panel = new CustomerPanel(this.deps.api, i.customerId, this.uid, (c: CustomerView) => {
          this.customerName = customerLabel(c);
          this.renderTitle(this.interaction?.subject);
        });
        fill(this.customerSlot, panel.el);
        void panel.load();
      }
      await this.loadMessages(i.customerId);
      this.setState(i.state === 'queued' || i.state === 'offered' ? 'requeued' : i.state);
      if (this.loadFailed) this.alert.textContent = '';
      this.loadFailed = false;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 403 || err.status === 404)) this.setState('gone');
      else {
        this.alert.textContent = `Could not load this conversation: ${describeError(err)}`;
        this.loadFailed = true;
      }
    }
  }

  private async loadMessages(customerId: string): Promise<void> {
    const history = await this.deps.api.get<{ items: HistoryItem[] }>(`/api/customers/${customerId}/history?limit=${MESSAGE_HISTORY_LIMIT}`);
    const mine = history.items.filter((m) => m.interactionId === this.id && (m.type === 'message.received' || m.type === 'message.sent')).reverse();
    for (const m of mine) {
      const from = m.from === 'agent' || m.from === 'system' || m.from === 'customer' ? m.from : m.direction === 'in' ? 'customer' : 'agent';
      this.addMessage({ interactionId: this.id, messageId: m.id, from, text: m.text ?? '', at: m.at });
    }
  }

  addMessage(m: Pick<AgentMessage, 'messageId' | 'from' | 'text' | 'at'> & { interactionId?: string }): void {
    if (this.messages.has(m.messageId)) return;
    if (m.from === 'agent') {
      const p = this.pending.find((x) => !x.messageId && x.text === m.text);
      if (p) {
        this.confirm(p, m.messageId);
        return;
      }
    }
    const li = this.renderMessage(m.from, m.text, m.at);
    this.messages.set(m.messageId, li);
    this.insert(li);
  }

  private renderMessage(from: string, text: string, at: string, extra?: string): HTMLLIElement {
    const who = from === 'customer' ? this.customerName : from === 'agent' ? 'You' : 'System';
    return h(
      'li',
      { class: `message from-${from}${extra ? ` ${extra}` : ''}`, 'data-at': at },
      h('span', { class: 'who' }, who),
      h('time', { datetime: at }, clock(at)),
      h('p', { class: 'text' }, text),
    );
  }

  private insert(li: HTMLLIElement): void {
    const at = li.dataset.at ?? '';
    const later = Array.from(this.log.children).find((c) => ((c as HTMLElement).dataset.at ?? '') > at);
    this.log.insertBefore(li, later ?? null);
  }

  private send(text: string): void {
    const p: Pending = { clientMessageId: randomId(), text, li: this.renderMessage('agent', text, new Date(serverNow()).toISOString(), 'sending') };
    this.pending.push(p);
    this.log.append(p.li);
    this.deliver(p);
  }

  private deliver(p: Pending): void {
    p.li.classList.remove('failed');
    p.li.classList.add('sending');
    p.li.querySelector('.send-status')?.remove();
    this.deps.socket
      .timeout(ACK_MS)
      .emitWithAck('interaction:reply', { interactionId: this.id, clientMessageId: p.clientMessageId, text: p.text })
      .then(unwrap)
      .then(
        (r) => this.confirm(p, r.messageId),
        (err: unknown) => {
          p.li.classList.remove('sending');
          p.li.classList.add('failed');
          const retry = h('button', { type: 'button', class: 'link', onclick: () => this.deliver(p) }, 'Retry');
          p.li.append(h('p', { class: 'send-status', role: 'alert' }, `Not sent: ${describeError(err)} `, retry));
        },
      );
  }

  private confirm(p: Pending, messageId: string): void {
    if (p.messageId) return;
    p.messageId = messageId;
    p.li.classList.remove('sending', 'failed');
    p.li.querySelector('.send-status')?.remove();
    const other = this.messages.get(messageId);
    if (other && other !== p.li) other.remove();
    this.messages.set(messageId, p.li);
  }

  private fillQueues(): void {
    const current = this.transferSelect.value;
    const queues = this.deps.queues().filter((q) => q.channels.includes(this.channel));
    fill(
      this.transferSelect,
      h('option', { value: '' }, 'Choose a queue…'),
      queues.map((q) => h('option', { value: q.id, selected: q.id === current }, q.id === this.interaction?.queueId ? `${q.name} (current)` : q.name)),
    );
  }

  refreshQueues(): void {
    this.fillQueues();
  }

  setState(state: PaneState): void {
    this.state = state;
    this.stateEl.textContent = STATE_LABELS[state];
    this.el.dataset.state = state;
    const active = state === 'active';
    for (const el of this.replyForm.querySelectorAll<HTMLTextAreaElement | HTMLButtonElement>('textarea, button')) el.disabled = !active;
    this.work.hidden = !active;
    this.wrapupForm.hidden = state !== 'wrapup';
    const over: Partial<Record<PaneState, string>> = {
      closed: 'This conversation is closed.',
      transferred: 'This conversation was transferred and is no longer yours.',
      requeued: 'This conversation went back to the queue.',
      gone: 'This conversation is no longer assigned to you.',
    };
    const message = over[state];
    this.closedBox.hidden = !message;
    if (message) fill(this.closedBox, h('p', null, message), h('button', { type: 'button', onclick: () => this.deps.remove(this) }, 'Dismiss'));
  }

  focusReply(): void {
    if (this.channel !== 'voice' && !this.replyText.disabled) this.replyText.focus();
    else this.title.focus();
  }

  focusTitle(): void {
    this.title.focus();
  }

  /** One action at a time per pane; a refusal shows in the server's words until the next action. */
  private async act(failure: string, run: () => Promise<void>): Promise<void> {
    if (this.acting) return;
    this.acting = true;
    this.alert.textContent = '';
    try {
      await run();
    } catch (err) {
      this.alert.textContent = `${failure}: ${describeError(err)}`;
    } finally {
      this.acting = false;
    }
  }

  private end(): Promise<void> {
    return this.act('Could not end the conversation', async () => {
      unwrap(await this.deps.socket.timeout(ACK_MS).emitWithAck('interaction:end', { interactionId: this.id }));
      this.setState('wrapup');
      this.disposition.focus();
    });
  }

  private transfer(queueId: string): Promise<void> {
    if (!queueId) return Promise.resolve();
    const name = this.deps.queues().find((q) => q.id === queueId)?.name ?? 'another queue';
    return this.act('Could not transfer', async () => {
      unwrap(await this.deps.socket.timeout(ACK_MS).emitWithAck('interaction:transfer', { interactionId: this.id, queueId }));
      this.deps.notify(`Transferred ${this.customerName} to ${name}.`);
      this.deps.remove(this);
    });
  }

  private wrapup(disposition: string, notes: string): Promise<void> {
    return this.act('Could not finish the wrap-up', async () => {
      unwrap(
        await this.deps.socket.timeout(ACK_MS).emitWithAck('interaction:wrapup', {
          interactionId: this.id,
          ...(disposition ? { disposition } : {}),
          ...(notes ? { notes } : {}),
        }),
      );
      this.deps.notify(`Wrap-up saved for ${this.customerName}${disposition ? `: ${disposition}` : ''}.`);
      this.deps.remove(this);
    });
  }
}
