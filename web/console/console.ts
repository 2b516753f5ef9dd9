/**
 * The agent console: state, offers, the interactions the agent holds, the softphone. All of it
 * is rebuilt from what the server sends on every (re)connect of the `/agent` socket: the
 * agent's state, the work it holds and the offers still pending for it.
 */
import { io } from 'socket.io-client';
import { ApiError, createApi, describeError, type Api } from '../shared/api';
import { byId, fill, focusIsLost, h } from '../shared/dom';
import { SESSION_EXPIRED, type Session } from '../shared/session';
import type { AgentSocket, AgentState, AgentStateEvent, OfferPayload, QueueName } from '../shared/types';
import { OfferCard } from './offer';
import { InteractionPane, unwrap } from './pane';
import { Softphone } from './softphone';
import { channelLabel, customerLabel } from './timeline';

const ACK_MS = 10_000;
/** Announcements this close together are read out together (see `announce`). */
const ANNOUNCE_TOGETHER_MS = 1_500;
export const AWAY_REASONS = ['Break', 'Lunch', 'Meeting', 'Training', 'Coaching'];
/** Ack errors after which an offer cannot be answered any more. */
const OFFER_OVER = new Set(['SB_OFFER_EXPIRED', 'SB_OFFER_TAKEN', 'SB_OFFER_UNKNOWN']);

export interface ConsoleHooks {
  /** Back to the sign-in form, with a message saying why (or none after signing out). */
  signedOut(notice?: string): void;
}

export class ConsoleApp {
  private readonly api: Api;
  private readonly socket: AgentSocket;
  private readonly softphone: Softphone;
  private readonly offers = new Map<string, OfferCard>();
  private readonly panes = new Map<string, InteractionPane>();
  private queues: QueueName[] = [];
  private ticker: ReturnType<typeof setInterval> | null = null;
  private everConnected = false;
  private ended = false;
  private agentState: AgentStateEvent = { state: 'offline', reason: null };
  private readonly toAnnounce: string[] = [];
  private announceTimer: ReturnType<typeof setTimeout> | null = null;
  /** What the live region says now, and when each part was added. */
  private announced: Array<{ text: string; at: number }> = [];

  private readonly banner = h('div', { class: 'banner', id: 'connection-banner', role: 'alert', hidden: true });
  private readonly announcer = h('div', { class: 'sr-only', id: 'announcer', 'aria-live': 'assertive', 'aria-atomic': 'true' });
  private readonly notices = h('ul', { class: 'notices', id: 'notices', role: 'status', 'aria-live': 'polite' });
  private readonly stateNow = h('strong', { id: 'state-now' }, 'connecting…');
  private readonly stateSelect: HTMLSelectElement;
  /** Enabled once the server has said where the agent stands after each (re)connect. */
  private readonly stateButton = h('button', { type: 'submit', disabled: true }, 'Set state');
  private readonly stateError = h('span', { class: 'form-error', role: 'alert' });
  private readonly offerList = h('div', { class: 'offer-list', id: 'offers' });
  private readonly noOffers = h('p', { class: 'muted', id: 'no-offers' }, 'No offers right now.');
  private readonly paneList = h('div', { class: 'panes', id: 'panes' });
  private readonly noPanes = h('p', { class: 'muted' }, 'No conversations. Go available to receive offers.');

  constructor(
    private readonly root: HTMLElement,
    private readonly session: Session,
    private readonly hooks: ConsoleHooks,
  ) {
    this.api = createApi(() => session.token, () => this.expire());
    this.socket = io('/agent', {
      auth: { token: session.token },
      // WebSocket only: no sticky sessions needed when several Switchboard processes serve /agent.
      transports: ['websocket'],
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
      autoConnect: false,
    });
    this.softphone = new Softphone(this.api, (m) => this.announce(m));
    this.stateSelect = h(
      'select',
      { id: 'state-select', name: 'state' },
      h('option', { value: 'available' }, 'Available'),
      h('optgroup', { label: 'Away' }, AWAY_REASONS.map((r) => h('option', { value: `away:${r}` }, `Away — ${r}`))),
      h('option', { value: 'offline' }, 'Offline'),
    );
  }

  start(): void {
    this.render();
    this.wireSocket();
    this.socket.connect();
    this.ticker = setInterval(() => {
      for (const card of this.offers.values()) card.tick();
    }, 250);
    void this.loadQueues();
    void this.softphone.start();
  }

  private render(): void {
    const stateForm = h(
      'form',
      { class: 'state-form', 'aria-label': 'Your state' },
      h('span', { class: 'state-label' }, 'You are ', this.stateNow),
      h('label', { for: 'state-select' }, 'Change state'),
      this.stateSelect,
      this.stateButton,
      this.stateError,
    );
    stateForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const [state, reason] = this.stateSelect.value.split(':') as [AgentState, string | undefined];
      void this.setState(state, reason);
    });
    fill(
      this.root,
      h(
        'header',
        { class: 'topbar' },
        h('h1', null, 'Switchboard console'),
        h('span', { class: 'who' }, 'Signed in as ', h('strong', null, this.session.user.username)),
        stateForm,
        this.softphone.status,
        h('button', { type: 'button', class: 'link', onclick: () => void this.signOut() }, 'Sign out'),
      ),
      this.banner,
      this.announcer,
      h(
        'main',
        { class: 'console' },
        h('section', { class: 'offers', 'aria-labelledby': 'offers-title' }, h('h2', { id: 'offers-title', tabindex: -1 }, 'Offers'), this.noOffers, this.offerList, this.notices),
        this.softphone.panel,
        h('section', { class: 'work-area', 'aria-labelledby': 'work-title' }, h('h2', { id: 'work-title', tabindex: -1 }, 'Your conversations'), this.noPanes, this.paneList),
      ),
    );
  }

  private wireSocket(): void {
    const s = this.socket;
    s.on('connect', () => {
      this.everConnected = true;
      this.banner.hidden = true;
      // The server re-sends every pending offer right after this; stale cards go.
      for (const id of [...this.offers.keys()]) this.dropOffer(id);
      // Catch up on what happened to the work we hold while we were away.
      for (const pane of this.panes.values()) void pane.load();
    });
    s.on('disconnect', (reason) => {
      this.stateButton.disabled = true;
      if (this.ended) return;
      this.showBanner('Connection lost — reconnecting…');
      // A server that closes the socket itself does not reconnect it on its own.
      if (reason === 'io server disconnect') setTimeout(() => this.reconnect(), 1000);
    });
    s.on('connect_error', (err: Error & { data?: { code?: string; message?: string } }) => {
      const code = err.data?.code;
      if (code === 'SB_UNAUTHORIZED') return this.expire();
      if (code === 'SB_FORBIDDEN') return this.end(`This account cannot use the console: ${err.data?.message ?? err.message}`);
      this.showBanner(this.everConnected ? 'Connection lost — reconnecting…' : 'Cannot reach Switchboard — retrying…');
      if (!s.active) setTimeout(() => this.reconnect(), 3000);
    });
    s.on('state', (st) => this.showState(st));
    s.on('offer', (o) => this.addOffer(o));
    s.on('offer:revoked', (r) => {
      const card = this.offers.get(r.offerId);
      if (!card) return;
      const who = customerLabel(card.offer.customer);
      const why = { timeout: `The offer from ${who} timed out.`, abandoned: `${who} left before the offer was answered.`, cancelled: `The offer from ${who} was withdrawn.` }[r.reason];
      this.dropOffer(r.offerId);
      this.notify(why);
    });
    s.on('interaction:message', (m) => this.panes.get(m.interactionId)?.addMessage(m));
    s.on('interaction:state', ({ interactionId, state }) => {
      // Taken or moved elsewhere (accepted in another tab, say): its offer card has nothing left to answer.
      for (const card of [...this.offers.values()]) if (card.offer.interaction.id === interactionId) this.dropOffer(card.offer.offerId);
      const pane = this.panes.get(interactionId);
      if (pane) {
        if (state === 'wrapup' && pane.state === 'active') this.notify('The customer left; the conversation is in wrap-up.');
        pane.setState(state as InteractionPane['state']);
      } else if (state === 'active' || state === 'wrapup') {
        this.openPane(interactionId);
      }
    });
  }

  /** A retry the page schedules itself; a page signed out meanwhile stays disconnected. */
  private reconnect(): void {
    if (!this.ended && !this.socket.active) this.socket.connect();
  }

  private showBanner(text: string): void {
    this.banner.textContent = text;
    this.banner.hidden = false;
  }

  private showState(st: AgentStateEvent): void {
    this.agentState = st;
    // The first state after a connect is the server's own account; changing it before then could be
    // overtaken by that (older) account.
    if (this.socket.connected) this.stateButton.disabled = false;
    const label = st.state === 'available' ? 'Available' : st.state === 'away' ? `Away${st.reason ? ` (${st.reason === 'no-answer' ? 'missed an offer' : st.reason})` : ''}` : st.state === 'offline' ? 'Offline' : st.state;
    this.stateNow.textContent = label;
    this.stateNow.dataset.state = st.state;
    // Going offline hands held work back to routing: show what became of it.
    if (st.state === 'offline') for (const pane of this.panes.values()) void pane.load();
  }

  private async setState(state: AgentState, reason?: string): Promise<void> {
    this.stateError.textContent = '';
    try {
      unwrap(await this.socket.timeout(ACK_MS).emitWithAck('state:set', { state, ...(reason ? { reason } : {}) }));
      this.showState({ state, reason: reason ?? null });
    } catch (err) {
      this.stateError.textContent = `Could not change state: ${describeError(err)}`;
    }
  }

  private async loadQueues(): Promise<void> {
    try {
      this.queues = await this.api.get<QueueName[]>('/api/queues/names');
      for (const pane of this.panes.values()) pane.refreshQueues();
    } catch (err) {
      this.notify(`Could not load the queues to transfer to: ${describeError(err)}`);
    }
  }

  private addOffer(o: OfferPayload): void {
    if (this.offers.has(o.offerId)) return;
    const card = new OfferCard(o, {
      queueName: (id) => this.queues.find((q) => q.id === id)?.name ?? null,
      onAccept: (c) => void this.accept(c),
      onReject: (c) => void this.reject(c),
    });
    this.offers.set(o.offerId, card);
    this.offerList.prepend(card.el);
    this.noOffers.hidden = true;
    this.announce(card.title);
    // Move focus to the offer unless the agent is typing somewhere.
    const active = document.activeElement;
    const typing = active instanceof HTMLTextAreaElement || (active instanceof HTMLInputElement && active.type !== 'button');
    if (!typing) card.focus();
  }

  private dropOffer(offerId: string): void {
    const card = this.offers.get(offerId);
    if (!card) return;
    const hadFocus = card.hasFocus();
    card.el.remove();
    this.offers.delete(offerId);
    this.noOffers.hidden = this.offers.size > 0;
    // Keep the keyboard user in the offers: the next offer, else the section's heading.
    if (hadFocus) {
      const next = this.offers.values().next().value;
      if (next) next.focus();
      else byId('offers-title').focus();
    }
  }

  private async accept(card: OfferCard): Promise<void> {
    card.busy('Accepting…');
    try {
      unwrap(await this.socket.timeout(ACK_MS).emitWithAck('offer:accept', { offerId: card.offer.offerId }));
      this.dropOffer(card.offer.offerId);
      const pane = this.openPane(card.offer.interaction.id, {
        channel: card.offer.interaction.channel,
        customerName: customerLabel(card.offer.customer),
        ...(card.offer.interaction.subject ? { subject: card.offer.interaction.subject } : {}),
      });
      // A pane still open from before (the conversation went back to the queue and came back to
      // this agent) is the agent's active work again: the server sends no state change for it.
      if (pane.state !== 'active' && pane.state !== 'loading') {
        pane.setState('active');
        void pane.load();
      }
      pane.focusReply();
    } catch (err) {
      this.offerFailed(card, `Could not accept the ${channelLabel(card.offer.interaction.channel).toLowerCase()} from ${customerLabel(card.offer.customer)}: ${describeError(err)}`, err);
    }
  }

  private async reject(card: OfferCard): Promise<void> {
    card.busy('Rejecting…');
    try {
      unwrap(await this.socket.timeout(ACK_MS).emitWithAck('offer:reject', { offerId: card.offer.offerId }));
      this.dropOffer(card.offer.offerId);
      this.notify(`Rejected the ${channelLabel(card.offer.interaction.channel).toLowerCase()} from ${customerLabel(card.offer.customer)}.`);
    } catch (err) {
      this.offerFailed(card, `Could not reject the ${channelLabel(card.offer.interaction.channel).toLowerCase()} from ${customerLabel(card.offer.customer)}: ${describeError(err)}`, err);
    }
  }

  /**
   * An accept or reject the server refused. The card says why while it is still up; once it is
   * gone (revoked or replaced while the answer was on its way), or when the offer can no longer
   * be answered at all, the card goes and the notices say why, in the server's words.
   */
  private offerFailed(card: OfferCard, message: string, err: unknown): void {
    const current = this.offers.get(card.offer.offerId) === card;
    const over = err instanceof ApiError && OFFER_OVER.has(err.code);
    if (current && !over) {
      card.failed(message);
      return;
    }
    if (current) this.dropOffer(card.offer.offerId);
    this.notify(message);
  }

  private openPane(interactionId: string, hint?: ConstructorParameters<typeof InteractionPane>[2]): InteractionPane {
    const existing = this.panes.get(interactionId);
    if (existing) return existing;
    const pane = new InteractionPane(interactionId, {
      api: this.api,
      socket: this.socket,
      queues: () => this.queues,
      notify: (m) => this.notify(m),
      remove: (p) => {
        const hadFocus = p.el.contains(document.activeElement) || focusIsLost();
        p.el.remove();
        this.panes.delete(p.id);
        this.noPanes.hidden = this.panes.size > 0;
        // Keep the keyboard user in the work area: the next conversation, else the section's heading.
        if (hadFocus) {
          const next = this.panes.values().next().value;
          if (next) next.focusTitle();
          else byId('work-title').focus();
        }
      },
    }, hint);
    this.panes.set(interactionId, pane);
    this.paneList.append(pane.el);
    this.noPanes.hidden = true;
    void pane.load().then(() => pane.refreshQueues());
    return pane;
  }

  private announce(message: string): void {
    // Clear first so the same words twice are announced twice. What arrives together (several
    // offers re-sent on a reconnect, two offers from one routing pass) is read out together
    // instead of each replacing the one before it unheard: words announced within the last
    // ANNOUNCE_TOGETHER_MS stay in the region beside the new ones, however the socket's frames
    // were spaced on a busy machine.
    this.toAnnounce.push(message);
    if (this.announceTimer) return;
    this.announcer.textContent = '';
    this.announceTimer = setTimeout(() => {
      this.announceTimer = null;
      const now = Date.now();
      const recent = this.announced.filter((a) => now - a.at < ANNOUNCE_TOGETHER_MS);
      recent.push(...this.toAnnounce.splice(0).map((text) => ({ text, at: now })));
      this.announced = recent;
      this.announcer.textContent = recent.map((a) => a.text).join('. ');
    }, 50);
  }

  private notify(message: string): void {
    this.notices.prepend(h('li', null, message));
    while (this.notices.children.length > 4) this.notices.lastElementChild?.remove();
  }

  private expire(): void {
    this.end(SESSION_EXPIRED);
  }

  private end(notice?: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.ticker) clearInterval(this.ticker);
    this.socket.disconnect();
    this.softphone.stop();
    this.hooks.signedOut(notice);
  }

  private async signOut(): Promise<void> {
    if (this.socket.connected && this.agentState.state !== 'offline') {
      // Offline hands any held work back to its queue; a console that just closes keeps it for the grace period.
      await this.socket.timeout(3000).emitWithAck('state:set', { state: 'offline' }).catch(() => undefined);
    }
    this.end();
  }
}
