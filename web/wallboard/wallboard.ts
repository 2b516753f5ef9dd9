/**
 * The supervisor wallboard: live queue figures, agents by state and a 30-minute chart of
 * waiting contacts, all from the `/supervisor` socket's `stats` pushes (no polling, no reloads).
 */
import { io } from 'socket.io-client';
import { duration, fill, h } from '../shared/dom';
import { SESSION_EXPIRED, type Session } from '../shared/session';
import type { AgentSummary, QueueStats, SupervisorSocket, SupervisorStats } from '../shared/types';
import { renderChart, trim, type Sample } from './chart';

/** Service level (share answered within the queue's SLA) at or above GOOD is green, at or above WARN amber, below red. */
export const SL_GOOD = 0.8;
export const SL_WARN = 0.6;

/**
 * The whole percentage shown for a service level, rounded down (79.6 % is below an 80 % target,
 * so it reads 79 %); the colour is decided on this same figure, so the two always agree.
 */
export function serviceLevelPercent(sl: number): number {
  // The epsilon keeps 0.57 (56.99999… in floating point) at 57.
  return Math.floor(sl * 100 + 1e-9);
}

export function serviceLevelClass(sl: number | null): 'sl-good' | 'sl-warn' | 'sl-bad' | 'sl-none' {
  if (sl === null || !Number.isFinite(sl)) return 'sl-none';
  const pct = serviceLevelPercent(sl);
  return pct >= SL_GOOD * 100 ? 'sl-good' : pct >= SL_WARN * 100 ? 'sl-warn' : 'sl-bad';
}

const SL_WORDS = { 'sl-good': 'on target', 'sl-warn': 'below target', 'sl-bad': 'critical', 'sl-none': 'nothing answered yet' } as const;

type Group = 'available' | 'busy' | 'away' | 'offline';
const GROUPS: Array<{ key: Group; title: string }> = [
  { key: 'available', title: 'Available' },
  { key: 'busy', title: 'Busy' },
  { key: 'away', title: 'Away' },
  { key: 'offline', title: 'Offline' },
];

/** Busy is derived from load, as the stats are: anyone signed in who holds work. */
function groupOf(a: AgentSummary): Group {
  if (a.state === 'offline') return 'offline';
  if (a.load > 0) return 'busy';
  return a.state === 'available' ? 'available' : 'away';
}

export interface WallboardHooks {
  signedOut(notice?: string): void;
}

export class Wallboard {
  private readonly socket: SupervisorSocket;
  private readonly samples: Sample[] = [];
  private everConnected = false;
  private ended = false;
  private readonly banner = h('div', { class: 'banner', id: 'connection-banner', role: 'alert', hidden: true });
  private readonly updated = h('span', { class: 'updated', id: 'updated' }, 'Waiting for figures…');
  private readonly tbody = h('tbody', { id: 'queue-rows' });
  private readonly agents = h('div', { class: 'agent-groups', id: 'agents' });
  private readonly chart = h('div', { class: 'chart-box', id: 'waiting-chart' });

  constructor(
    private readonly root: HTMLElement,
    private readonly session: Session,
    private readonly hooks: WallboardHooks,
  ) {
    this.socket = io('/supervisor', { auth: { token: session.token }, transports: ['websocket'], reconnectionDelay: 500, reconnectionDelayMax: 3000, autoConnect: false });
  }

  start(): void {
    this.render();
    const s = this.socket;
    s.on('connect', () => {
      this.everConnected = true;
      this.banner.hidden = true;
    });
    s.on('disconnect', (reason) => {
      if (this.ended) return;
      this.showBanner('Connection lost — reconnecting…');
      if (reason === 'io server disconnect') setTimeout(() => this.reconnect(), 1000);
    });
    s.on('connect_error', (err: Error & { data?: { code?: string; message?: string } }) => {
      const code = err.data?.code;
      if (code === 'SB_UNAUTHORIZED') return this.end(SESSION_EXPIRED);
      if (code === 'SB_FORBIDDEN') return this.end('The wallboard needs a supervisor or admin sign-in');
      this.showBanner(this.everConnected ? 'Connection lost — reconnecting…' : 'Cannot reach Switchboard — retrying…');
      if (!s.active) setTimeout(() => this.reconnect(), 3000);
    });
    s.on('stats', (stats) => this.update(stats));
    s.connect();
  }

  /** A retry the page schedules itself; a page signed out meanwhile stays disconnected. */
  private reconnect(): void {
    if (!this.ended && !this.socket.active) this.socket.connect();
  }

  private showBanner(text: string): void {
    this.banner.textContent = text;
    this.banner.hidden = false;
  }

  private render(): void {
    const th = (label: string, title?: string) => h('th', { scope: 'col', ...(title ? { title } : {}) }, label);
    fill(
      this.root,
      h(
        'header',
        { class: 'topbar' },
        h('h1', null, 'Switchboard wallboard'),
        this.updated,
        h('span', { class: 'who' }, 'Signed in as ', h('strong', null, this.session.user.username)),
        h('button', { type: 'button', class: 'link', onclick: () => this.end() }, 'Sign out'),
      ),
      this.banner,
      h(
        'main',
        { class: 'wallboard' },
        h(
          'section',
          { 'aria-labelledby': 'queues-title', class: 'queues' },
          h('h2', { id: 'queues-title' }, 'Queues'),
          h(
            'table',
            { class: 'queue-table' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                th('Queue'),
                th('Waiting'),
                th('Longest wait'),
                th('Service level', 'Share answered within the queue’s SLA, last 24 hours'),
                th('Answered'),
                th('Abandoned'),
                th('Avg wait'),
                th('Avg handle'),
                th('Agents (available / busy / away)'),
              ),
            ),
            this.tbody,
          ),
          h(
            'p',
            { class: 'legend', id: 'sl-legend' },
            'Service level is the share of contacts answered within the queue’s SLA over the last 24 hours: ',
            h('span', { class: 'sl-good' }, `green at ${SL_GOOD * 100} % or more`),
            ', ',
            h('span', { class: 'sl-warn' }, `amber from ${SL_WARN * 100} %`),
            ', ',
            h('span', { class: 'sl-bad' }, `red below ${SL_WARN * 100} %`),
            '. Answered, abandoned and averages also cover the last 24 hours; the rest is now.',
          ),
        ),
        h('section', { 'aria-labelledby': 'chart-title', class: 'chart-section' }, h('h2', { id: 'chart-title' }, 'Waiting contacts, last 30 minutes'), this.chart),
        h('section', { 'aria-labelledby': 'agents-title', class: 'agents-section' }, h('h2', { id: 'agents-title' }, 'Agents by state'), this.agents),
      ),
    );
    fill(this.chart, renderChart(this.samples, Date.now()));
  }

  private update(stats: SupervisorStats): void {
    const at = Date.parse(stats.at);
    const now = Number.isNaN(at) ? Date.now() : at;
    const waiting = stats.queues.reduce((n, q) => n + q.waiting, 0);
    this.samples.push({ at: now, waiting });
    trim(this.samples, now);
    this.updated.textContent = `Updated ${new Date(now).toLocaleTimeString()}`;
    document.title = `(${waiting}) Switchboard wallboard`;
    fill(this.tbody, stats.queues.length ? stats.queues.map((q) => this.row(q)) : h('tr', null, h('td', { colspan: 9 }, 'No queues yet.')));
    fill(this.chart, renderChart(this.samples, now));
    this.renderAgents(stats.agents);
  }

  private row(q: QueueStats): HTMLTableRowElement {
    const sl = serviceLevelClass(q.serviceLevel);
    const td = (col: string, ...children: Array<string | number | Node>) => h('td', { 'data-col': col }, ...children);
    return h(
      'tr',
      { 'data-queue-id': q.queueId },
      h('th', { scope: 'row', 'data-col': 'name' }, q.name),
      td('waiting', String(q.waiting)),
      td('longestWait', duration(q.longestWaitSeconds)),
      h(
        'td',
        { 'data-col': 'serviceLevel', class: sl },
        sl === 'sl-none' || q.serviceLevel === null ? '—' : `${serviceLevelPercent(q.serviceLevel)} %`,
        h('span', { class: 'sl-word' }, ` ${SL_WORDS[sl]}`),
      ),
      td('answered', String(q.answered)),
      td('abandoned', String(q.abandoned)),
      td('avgWait', duration(q.avgWaitSeconds)),
      td('avgHandle', duration(q.avgHandleSeconds)),
      td('agents', `${q.agentsAvailable} / ${q.agentsBusy} / ${q.agentsAway}`),
    );
  }

  private renderAgents(agents: AgentSummary[]): void {
    fill(
      this.agents,
      GROUPS.map(({ key, title }) => {
        const members = agents.filter((a) => groupOf(a) === key);
        return h(
          'section',
          { class: `agent-group group-${key}`, 'data-group': key, 'aria-label': `${title}: ${members.length}` },
          h('h3', null, `${title} `, h('span', { class: 'count' }, String(members.length))),
          h('ul', null, members.length ? members.map((a) => h('li', null, a.name, a.load > 0 ? h('span', { class: 'load' }, ` (${a.load})`) : null)) : h('li', { class: 'muted' }, 'none')),
        );
      }),
    );
  }

  private end(notice?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.socket.disconnect();
    this.hooks.signedOut(notice);
  }
}
