/**
 * Human-paced bots for `npm run simulate`: agents who ring, accept, chat, end and wrap up after
 * a while and sometimes take a break; chat customers who write, answer the agent a few times and
 * leave (or give up if nobody answers). Everything goes through the public contract.
 */
import { connectAgent, connectVisitor, emitAck, type AgentSocket, type VisitorSocket } from '../lib/sockets';

const between = (lo: number, hi: number) => lo + Math.random() * (hi - lo);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

const AGENT_LINES = [
  'Thanks for reaching out! Let me look into that.',
  'Could you give me your order number?',
  'I see it here, one moment please.',
  'That is sorted now. Anything else I can help with?',
  'I have passed this to our billing team; you will hear back today.',
];
const CUSTOMER_OPENERS = ['Hi, my parcel has not arrived.', 'Can I change my plan?', 'I was charged twice this month.', 'How do I reset my password?', 'Is the store open on Sunday?'];
const CUSTOMER_LINES = ['It is 4711.', 'OK, thanks.', 'Great, that helps.', 'No, that is all.', 'Sure, one second.'];

export interface Timings {
  /** Seconds an offer rings before the agent answers. */
  ring: [number, number];
  /** Seconds before the agent answers a customer message. */
  reply: [number, number];
  /** Seconds of conversation before the agent ends it. */
  handle: [number, number];
  /** Seconds of wrap-up. */
  wrapup: [number, number];
}

export const HUMAN: Timings = { ring: [1, 4], reply: [2, 6], handle: [20, 60], wrapup: [3, 8] };

export class AgentBot {
  private socket: AgentSocket | null = null;
  private stopped = false;
  private timers = new Set<NodeJS.Timeout>();
  handled = 0;

  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly token: string,
    private readonly t: Timings = HUMAN,
    /** Chance per finished interaction of taking a short break (away) before the next. */
    private readonly breakChance = 0.1,
  ) {}

  private later(seconds: number, fn: () => void | Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) void fn();
    }, seconds * 1000);
    this.timers.add(timer);
  }

  async start(): Promise<void> {
    const s = await connectAgent(this.url, this.token);
    this.socket = s;
    s.on('offer', (o) => this.later(between(...this.t.ring), () => this.answer(o.offerId, o.interaction.id, o.interaction.channel)));
    s.on('interaction:message', (m) => {
      if (m.from === 'customer') this.later(between(...this.t.reply), () => this.say(m.interactionId));
    });
    // Work held from before a reconnect is finished like any other.
    s.on('interaction:state', (x) => {
      if (x.state === 'active') this.later(between(...this.t.handle), () => this.finish(x.interactionId));
    });
    s.on('state', (x) => {
      // Ring-no-answer sets the agent away: come back after a moment.
      if (x.state === 'away' && x.reason === 'no-answer') this.later(between(5, 15), () => this.available());
    });
    s.on('disconnect', () => {
      if (!this.stopped) this.later(2, () => this.start().catch(() => undefined));
    });
    await this.available();
  }

  private async available(): Promise<void> {
    if (this.socket) await emitAck(this.socket, 'state:set', { state: 'available' });
  }

  private async answer(offerId: string, interactionId: string, channel: string): Promise<void> {
    const s = this.socket!;
    if (Math.random() < 0.05) {
      await emitAck(s, 'offer:reject', { offerId });
      return;
    }
    const r = await emitAck(s, 'offer:accept', { offerId });
    if (!r.ok) return;
    if (channel === 'chat' || channel === 'sms') this.later(between(...this.t.reply), () => this.say(interactionId, 'Hello, this is ' + this.name + '. How can I help?'));
    this.later(between(...this.t.handle), () => this.finish(interactionId));
  }

  private async say(interactionId: string, text = pick(AGENT_LINES)): Promise<void> {
    await emitAck(this.socket!, 'interaction:reply', { interactionId, clientMessageId: `${this.name}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, text });
  }

  private async finish(interactionId: string): Promise<void> {
    const s = this.socket!;
    await emitAck(s, 'interaction:end', { interactionId });
    this.later(between(...this.t.wrapup), async () => {
      const r = await emitAck(s, 'interaction:wrapup', { interactionId, disposition: pick(['resolved', 'resolved', 'follow-up', 'escalated']) });
      if (r.ok) this.handled++;
      if (Math.random() < this.breakChance) {
        await emitAck(s, 'state:set', { state: 'away', reason: 'break' });
        this.later(between(20, 60), () => this.available());
      }
    });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.socket?.close();
  }
}

/** A web-chat customer: writes, answers the agent a few times, leaves; gives up if unanswered for `patience` seconds. */
export class ChatCustomer {
  private socket: VisitorSocket | null = null;
  private timers = new Set<NodeJS.Timeout>();
  private exchanges = 0;
  private answered = false;
  done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly url: string,
    private readonly widget: string,
    private readonly patience: number = between(60, 180),
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  private later(seconds: number, fn: () => void | Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void fn();
    }, seconds * 1000);
    this.timers.add(timer);
  }

  async start(): Promise<void> {
    const { socket } = await connectVisitor(this.url, { widget: this.widget });
    this.socket = socket;
    socket.on('message', (m) => {
      if (m.from !== 'agent') return;
      this.answered = true;
      if (this.exchanges++ < 3) this.later(between(3, 10), () => this.write(pick(CUSTOMER_LINES)));
    });
    socket.on('ended', () => this.later(between(1, 3), () => this.leave(false)));
    await this.write(pick(CUSTOMER_OPENERS));
    this.later(this.patience, () => {
      if (!this.answered) void this.leave(true);
    });
  }

  private async write(text: string): Promise<void> {
    if (this.socket?.connected) await emitAck(this.socket, 'message', { clientMessageId: `m-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, text });
  }

  /** `abandon`: the customer gives up waiting (the waiting chat is abandoned). */
  async leave(abandon: boolean): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    if (abandon && this.socket?.connected) await emitAck(this.socket, 'end', {});
    this.socket?.close();
    this.resolveDone();
  }
}
