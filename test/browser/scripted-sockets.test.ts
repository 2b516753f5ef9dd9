import Fastify, { type FastifyInstance } from 'fastify';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { registerErrorHandling } from '../../src/platform/http';
import { webRoutes } from '../../src/web/web.routes';
import type { QueueStats } from '../../src/supervisor/stats.service';
import type { SupervisorStats } from '../../src/supervisor/supervisor.types';
import type { OfferPayload } from '../../src/agents/agent.types';
import { launchBrowser, Resources, waitForText, wallboardCell } from '../support/browser';
import { waitFor } from '../support/app';

/**
 * The pages against a scripted server: they come from the real web routes, and the test plays
 * the socket.io namespace over the page's WebSocket in socket.io's wire format. For what a real
 * system takes hours to produce (a service level of 79.6 %) or never does on cue (a server that
 * drops a socket just before the user signs out).
 */
describe('the pages against a scripted socket.io server', () => {
  const resources = new Resources();
  let browser: Browser;
  let server: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    const web = Fastify();
    registerErrorHandling(web);
    webRoutes(web);
    [server, browser] = await Promise.all([
      resources.add(web.listen({ port: 0, host: '127.0.0.1' }).then(() => web), (s) => s.close()),
      resources.add(launchBrowser(), (b) => b.close()),
    ]);
    const address = server.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => resources.close());

  const queue = (queueId: string, name: string, over: Partial<QueueStats>): QueueStats => ({
    queueId,
    name,
    waiting: 0,
    longestWaitSeconds: 0,
    offered: 0,
    active: 0,
    wrapup: 0,
    agentsAvailable: 0,
    agentsBusy: 0,
    agentsAway: 0,
    answered: 0,
    abandoned: 0,
    serviceLevel: null,
    avgWaitSeconds: null,
    avgHandleSeconds: null,
    ...over,
  });

  interface Scripted {
    page: Page;
    /** Every WebSocket the page opened (its URL), in order. */
    sockets: string[];
    /** Namespace connects the page asked for. */
    joins: number;
    /** A frame to the page on its latest socket. */
    send(frame: string): void;
  }

  /**
   * `page` (console or wallboard) signed in as `user`, its sockets answered by the test: every
   * socket gets Engine.IO's open packet, and each namespace connect is accepted.
   */
  async function scripted(pageName: 'console' | 'wallboard', user: Record<string, unknown>, prepare?: (p: Page) => Promise<void>): Promise<Scripted> {
    const context = await resources.add(browser.newContext({ viewport: { width: 1400, height: 1000 } }), (c) => c.close());
    const session = JSON.stringify({ token: 'scripted-token', user });
    await context.addInitScript(`sessionStorage.setItem(${JSON.stringify(`switchboard.${pageName}`)}, ${JSON.stringify(session)})`);
    const page = await context.newPage();
    await prepare?.(page);
    let latest: WebSocketRoute | null = null;
    const s: Scripted = { page, sockets: [], joins: 0, send: (frame) => latest!.send(frame) };
    await page.routeWebSocket(/\/socket\.io\//, (ws) => {
      latest = ws;
      s.sockets.push(ws.url());
      ws.send(`0${JSON.stringify({ sid: `eio-${s.sockets.length}`, upgrades: [], pingInterval: 25_000, pingTimeout: 60_000, maxPayload: 1_000_000 })}`);
      ws.onMessage((m) => {
        const join = /^40(\/[a-z]+),/.exec(String(m));
        if (join) {
          s.joins += 1;
          ws.send(`40${join[1]},${JSON.stringify({ sid: `sio-${s.joins}` })}`);
        }
      });
    });
    await page.goto(`${url}/${pageName}`);
    await waitFor(() => s.joins > 0, 10_000, `the ${pageName} to join its namespace`);
    return s;
  }

  /** A signed-in wallboard: push figures with `send(stats)`. */
  async function wallboard(): Promise<{ page: Page; send(stats: SupervisorStats): void }> {
    const s = await scripted('wallboard', { id: 'sup', username: 'sam', role: 'supervisor' });
    return { page: s.page, send: (stats) => s.send(`42/supervisor,${JSON.stringify(['stats', stats])}`) };
  }

  it('colours the service level by the percentage it shows, and says so when nothing was answered yet', async () => {
    const { page, send } = await wallboard();
    const levels: Array<[string, number | null]> = [
      ['a', 1],
      ['b', 0.8],
      ['c', 0.7996], // shown as 79 %: below an 80 % target, and amber like it
      ['d', 0.6],
      ['e', 0.5996], // 59 %, red
      ['f', 0.57], // 56.99999… in floating point: still 57 %
      ['g', null],
    ];
    send({ at: new Date().toISOString(), agents: [], queues: levels.map(([id, serviceLevel]) => queue(id, `Queue ${id}`, { serviceLevel, answered: serviceLevel === null ? 0 : 10 })) });
    const expected: Record<string, [string, string]> = {
      a: ['100 % on target', 'sl-good'],
      b: ['80 % on target', 'sl-good'],
      c: ['79 % below target', 'sl-warn'],
      d: ['60 % below target', 'sl-warn'],
      e: ['59 % critical', 'sl-bad'],
      f: ['57 % critical', 'sl-bad'],
      g: ['— nothing answered yet', 'sl-none'],
    };
    await wallboardCell(page, 'g', 'serviceLevel').waitFor();
    const shown: Record<string, [string, string]> = {};
    for (const id of Object.keys(expected)) {
      const cell = wallboardCell(page, id, 'serviceLevel');
      shown[id] = [(await cell.textContent()) ?? '', (await cell.getAttribute('class')) ?? ''];
    }
    expect(shown).toEqual(expected);
  });

  it('follows each push without reloading: queue figures, agents by state, the chart', async () => {
    const { page, send } = await wallboard();
    const t0 = Date.now();
    send({ at: new Date(t0).toISOString(), agents: [{ id: '1', name: 'Ann', state: 'available', load: 0 }], queues: [queue('q', 'Support', { waiting: 2, longestWaitSeconds: 75 })] });
    await waitForText(wallboardCell(page, 'q', 'waiting'), /^2$/);
    await waitForText(wallboardCell(page, 'q', 'longestWait'), '1:15');
    await waitForText(page.locator('[data-group="available"] li'), 'Ann');
    send({ at: new Date(t0 + 1000).toISOString(), agents: [{ id: '1', name: 'Ann', state: 'available', load: 1 }], queues: [queue('q', 'Support', { waiting: 5, longestWaitSeconds: 76 })] });
    await waitForText(wallboardCell(page, 'q', 'waiting'), /^5$/);
    await waitForText(page.locator('[data-group="busy"] li'), 'Ann (1)');
    expect(await page.locator('#waiting-chart svg').getAttribute('aria-label')).toBe('Waiting contacts over the last 30 minutes: 5 now, at most 5.');
    expect(await page.title()).toBe('(5) Switchboard wallboard');
  });

  // The server closing a socket makes the page reconnect by itself a second later: not once the user has signed out.
  for (const [pageName, nsp, user, signedOut] of [
    ['wallboard', '/supervisor', { id: 'sup', username: 'sam', role: 'supervisor' }, 'Switchboard wallboard'],
    ['console', '/agent', { id: 'u1', username: 'kim', role: 'agent', agentId: 'a1' }, 'Switchboard agent console'],
  ] as const) {
    it(`a ${pageName} signed out just after the server closed its socket stays disconnected`, async () => {
      const s = await scripted(pageName, user, (p) => p.clock.install());
      // An installed clock still runs in real time: paused, the page's reconnect a second after
      // the drop cannot fire while a slow machine takes that long to click Sign out. Paused a
      // little ahead of the page's time, which moves on while this call travels (pausing in the
      // past is refused); no timer of the page is due that soon before the drop.
      await s.page.clock.pauseAt((await s.page.evaluate(() => Date.now())) + 2000);
      s.send(`41${nsp},`);
      await waitForText(s.page.locator('#connection-banner'), 'Connection lost — reconnecting…');
      await s.page.getByRole('button', { name: 'Sign out' }).click();
      await waitForText(s.page.locator('#signin-title'), signedOut);
      // Past the page's own reconnect delay; then a socket of the test's own, to know that
      // anything the page opened by then has reached the test.
      await s.page.clock.fastForward(10_000);
      await s.page.evaluate("void new WebSocket(location.origin.replace(/^http/, 'ws') + '/socket.io/?barrier=1')");
      await waitFor(() => s.sockets.some((u) => u.includes('barrier=1')), 10_000, 'the barrier socket');
      expect(s.sockets.filter((u) => !u.includes('barrier=1'))).toHaveLength(1);
      expect(s.joins).toBe(1);
    });
  }

  it('announces offers that arrive together in one message, not each replacing the one before it', async () => {
    const s = await scripted('console', { id: 'u1', username: 'kim', role: 'agent', agentId: 'a1' });
    const offer = (n: number, name: string): OfferPayload => ({
      offerId: `00000000-0000-4000-8000-00000000000${n}`,
      expiresAt: new Date(Date.now() + 30_000).toISOString(),
      interaction: { id: `00000000-0000-4000-8000-00000000010${n}`, channel: 'chat', queueId: null, preview: `Hello from ${name}` },
      customer: { id: `00000000-0000-4000-8000-00000000020${n}`, name, identities: [], attributes: {}, tags: [], recentHistory: [] },
    });
    // Two offers in one breath, as a reconnect re-sends them. An assertive live region changed
    // twice within milliseconds is read once, as it ends up: that must name both.
    s.send(`42/agent,${JSON.stringify(['offer', offer(1, 'Ana First')])}`);
    s.send(`42/agent,${JSON.stringify(['offer', offer(2, 'Ben Second')])}`);
    await s.page.locator('article.offer').nth(1).waitFor();
    const announcer = s.page.locator('#announcer');
    expect(await announcer.getAttribute('aria-live')).toBe('assertive');
    await waitForText(announcer, 'New chat offer from Ana First. New chat offer from Ben Second');
  });
});
