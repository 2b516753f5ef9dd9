/**
 * The agent's softphone: a Twilio Voice SDK Device registered with a token from
 * GET /api/softphone/token. Voice offers are accepted in the console like any other; Twilio
 * then rings this Device, and the agent answers, mutes, holds and hangs up here.
 *
 * The SDK has no hold of its own (hold in Twilio is a conference feature): Hold here mutes
 * the agent's microphone and says so; the caller hears silence, not music.
 *
 * Without Twilio (not configured, or unreachable) the panel says "Softphone unavailable" with
 * the reason and everything else in the console keeps working. The SDK is loaded only when a
 * token was issued, so consoles without voice never download it.
 */
import type { Call, Device } from '@twilio/voice-sdk';
import { describeError, type Api } from '../shared/api';
import { fill, h } from '../shared/dom';
import type { SoftphoneToken } from '../shared/types';

const REGISTER_TIMEOUT_MS = 15_000;

export class Softphone {
  readonly status = h('p', { class: 'softphone-status', role: 'status', id: 'softphone-status' }, 'Softphone: starting…');
  readonly panel = h('section', { class: 'softphone card', 'aria-labelledby': 'softphone-title', hidden: true });
  private device: Device | null = null;
  private call: Call | null = null;
  private held = false;
  private stopped = false;

  constructor(
    private readonly api: Api,
    private readonly announce: (message: string) => void,
  ) {}

  async start(): Promise<void> {
    let token: SoftphoneToken;
    try {
      token = await this.api.get<SoftphoneToken>('/api/softphone/token');
    } catch (err) {
      this.unavailable(describeError(err));
      return;
    }
    let sdk: typeof import('@twilio/voice-sdk');
    try {
      sdk = await import('@twilio/voice-sdk');
    } catch (err) {
      this.unavailable(`the voice SDK could not be loaded (${describeError(err)})`);
      return;
    }
    if (this.stopped) return;
    const device = new sdk.Device(token.token, { logLevel: 'error', closeProtection: true });
    this.device = device;
    const timer = setTimeout(() => {
      if (device.state !== 'registered') this.unavailable('Twilio could not be reached');
    }, REGISTER_TIMEOUT_MS);
    device.on('registered', () => {
      clearTimeout(timer);
      this.status.textContent = 'Softphone ready';
      this.status.dataset.state = 'ready';
    });
    device.on('error', (err: { message?: string }) => {
      if (device.state !== 'registered') {
        clearTimeout(timer);
        this.unavailable(err.message ?? 'Twilio refused the softphone');
      } else {
        this.status.textContent = `Softphone problem: ${err.message ?? 'unknown error'}`;
      }
    });
    device.on('tokenWillExpire', () => {
      this.api.get<SoftphoneToken>('/api/softphone/token').then(
        (t) => device.updateToken(t.token),
        (err: unknown) => this.unavailable(`could not renew the token (${describeError(err)})`),
      );
    });
    device.on('incoming', (call: Call) => this.incoming(call));
    try {
      await device.register();
    } catch (err) {
      clearTimeout(timer);
      this.unavailable(describeError(err));
    }
  }

  stop(): void {
    this.stopped = true;
    this.call?.disconnect();
    this.device?.destroy();
    this.device = null;
  }

  private unavailable(reason: string): void {
    this.status.textContent = `Softphone unavailable: ${reason}`;
    this.status.dataset.state = 'unavailable';
    this.device?.destroy();
    this.device = null;
  }

  private incoming(call: Call): void {
    if (this.call) {
      call.reject();
      return;
    }
    this.call = call;
    this.held = false;
    const from = call.parameters.From ?? 'a caller';
    this.announce(`Incoming call from ${from}`);
    const done = () => {
      this.call = null;
      this.panel.hidden = true;
      fill(this.panel);
    };
    call.on('disconnect', done);
    call.on('cancel', done);
    call.on('reject', done);
    call.on('error', (err: { message?: string }) => this.render(`Call problem: ${err.message ?? 'unknown error'}`));
    this.render();
    this.panel.querySelector<HTMLButtonElement>('button')?.focus();
  }

  private render(problem?: string): void {
    const call = this.call;
    if (!call) return;
    const from = call.parameters.From ?? 'a caller';
    const ringing = call.status() === 'pending';
    const muted = call.isMuted();
    this.panel.hidden = false;
    fill(
      this.panel,
      h('h2', { id: 'softphone-title' }, ringing ? `Incoming call from ${from}` : `On a call with ${from}`),
      problem ? h('p', { class: 'form-error', role: 'alert' }, problem) : null,
      this.held ? h('p', { class: 'notice' }, 'On hold: your microphone is muted; the caller hears silence.') : null,
      h(
        'div',
        { class: 'call-controls' },
        ringing
          ? [
              h('button', { type: 'button', class: 'primary', onclick: () => (call.accept(), this.render()) }, 'Answer'),
              h('button', { type: 'button', onclick: () => call.reject() }, 'Decline'),
            ]
          : [
              h('button', { type: 'button', 'aria-pressed': String(muted && !this.held), disabled: this.held, onclick: () => (call.mute(!muted), this.render()) }, muted && !this.held ? 'Unmute' : 'Mute'),
              h('button', { type: 'button', 'aria-pressed': String(this.held), onclick: () => this.toggleHold() }, this.held ? 'Resume' : 'Hold'),
              h('button', { type: 'button', class: 'danger', onclick: () => call.disconnect() }, 'Hang up'),
            ],
      ),
    );
  }

  private toggleHold(): void {
    if (!this.call) return;
    this.held = !this.held;
    this.call.mute(this.held);
    this.render();
  }
}
