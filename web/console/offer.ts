/** An incoming offer: countdown, accept/reject, and the screen pop (customer, notes, queue script, history). */
import { serverNow } from '../shared/api';
import { fill, focusIsLost, h } from '../shared/dom';
import type { OfferPayload } from '../shared/types';
import { channelLabel, customerLabel, renderTimeline } from './timeline';

export interface OfferCardOptions {
  queueName(queueId: string | null): string | null;
  onAccept(card: OfferCard): void;
  onReject(card: OfferCard): void;
}

export class OfferCard {
  readonly el: HTMLElement;
  readonly heading: HTMLElement;
  readonly title: string;
  private readonly countdown: HTMLElement;
  private readonly bar: HTMLProgressElement;
  private readonly status: HTMLElement;
  private readonly accept: HTMLButtonElement;
  private readonly reject: HTMLButtonElement;
  private readonly expiresAt: number;
  private readonly totalMs: number;
  private pending = false;
  /** Focus was inside the card when busy() disabled its buttons (Chromium then moves focus to the body). */
  private focusWithin = false;

  constructor(
    readonly offer: OfferPayload,
    opts: OfferCardOptions,
    now = serverNow(),
  ) {
    const id = offer.offerId;
    const who = customerLabel(offer.customer);
    this.title = `New ${channelLabel(offer.interaction.channel).toLowerCase()} offer from ${who}`;
    this.expiresAt = Date.parse(offer.expiresAt);
    this.totalMs = Math.max(1000, this.expiresAt - now);
    this.heading = h('h3', { id: `offer-title-${id}`, tabindex: -1 }, this.title);
    this.countdown = h('p', { class: 'countdown', id: `offer-countdown-${id}` });
    this.bar = h('progress', { max: 100, value: 100, 'aria-hidden': 'true' });
    this.status = h('p', { class: 'form-error', role: 'alert' });
    this.accept = h('button', { type: 'button', class: 'primary', onclick: () => opts.onAccept(this) }, 'Accept');
    this.reject = h('button', { type: 'button', onclick: () => opts.onReject(this) }, 'Reject');

    const c = offer.customer;
    const queue = opts.queueName(offer.interaction.queueId);
    const notes = c.recentHistory.filter((i) => i.type === 'note.added');
    const attributes = Object.entries(c.attributes);
    this.el = h(
      'article',
      { class: 'offer card', 'data-offer-id': id, 'aria-labelledby': this.heading.id, 'aria-describedby': this.countdown.id },
      h('header', { class: 'offer-head' }, this.heading, this.countdown, this.bar),
      h(
        'p',
        { class: 'meta' },
        h('span', { class: `badge channel-${offer.interaction.channel}` }, channelLabel(offer.interaction.channel)),
        queue ? ` Queue: ${queue}` : null,
        offer.interaction.subject ? ` · Subject: ${offer.interaction.subject}` : null,
      ),
      offer.interaction.preview ? h('blockquote', { class: 'preview' }, offer.interaction.preview) : null,
      h('div', { class: 'offer-actions' }, this.accept, this.reject),
      this.status,
      h(
        'div',
        { class: 'screen-pop' },
        h(
          'section',
          { 'aria-label': 'Customer' },
          h('h4', null, 'Customer'),
          h(
            'dl',
            { class: 'facts' },
            h('dt', null, 'Name'),
            h('dd', null, c.name ?? 'not captured yet'),
            c.identities.map((i) => [h('dt', null, i.kind === 'chat' ? 'Web chat' : i.kind === 'phone' ? 'Phone' : 'Email'), h('dd', null, i.kind === 'chat' ? 'visitor' : i.value)]),
            c.tags.length ? [h('dt', null, 'Tags'), h('dd', null, c.tags.join(', '))] : null,
            attributes.map(([k, v]) => [h('dt', null, k), h('dd', null, typeof v === 'string' ? v : JSON.stringify(v))]),
          ),
        ),
        notes.length
          ? h('section', { 'aria-label': 'Notes', class: 'notes' }, h('h4', null, 'Notes'), h('ul', null, notes.map((n) => h('li', null, n.text ?? ''))))
          : null,
        offer.script ? h('section', { 'aria-label': 'Script', class: 'script' }, h('h4', null, 'Script'), h('p', null, offer.script)) : null,
        h('section', { 'aria-label': 'History' }, h('h4', null, 'History (every channel)'), renderTimeline(c.recentHistory, `History of ${who}`)),
      ),
    );
    this.tick(now);
  }

  /** Updates the countdown (on the server's clock); false once the offer has run out. */
  tick(now = serverNow()): boolean {
    const left = Math.max(0, this.expiresAt - now);
    if (this.pending) return left > 0;
    const seconds = Math.ceil(left / 1000);
    this.countdown.textContent = left > 0 ? `Expires in ${seconds} s` : 'Expired';
    this.bar.value = Math.round((left / this.totalMs) * 100);
    // Follows the clock both ways: the estimate of the server's clock can arrive after the offer.
    const expired = left === 0;
    if (expired !== this.accept.disabled) {
      // A disabled button drops the focus: hand it to Reject first.
      if (expired && document.activeElement === this.accept) this.reject.focus();
      this.accept.disabled = expired;
    }
    return left > 0;
  }

  busy(label: string): void {
    this.focusWithin = this.el.contains(document.activeElement);
    this.pending = true;
    this.accept.disabled = true;
    this.reject.disabled = true;
    fill(this.status);
    this.countdown.textContent = label;
  }

  failed(message: string): void {
    this.pending = false;
    this.status.textContent = message;
    this.accept.disabled = this.expiresAt <= serverNow();
    this.reject.disabled = false;
    if (this.focusWithin && focusIsLost()) (this.accept.disabled ? this.reject : this.accept).focus();
    this.focusWithin = false;
  }

  /** The keyboard is in this card, or was when its buttons were disabled for an answer in flight. */
  hasFocus(): boolean {
    return this.el.contains(document.activeElement) || (this.pending && this.focusWithin && focusIsLost());
  }

  focus(): void {
    this.heading.focus();
  }
}
