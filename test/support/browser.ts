/**
 * Browser tests: Debian's Chromium driven by playwright-core against a real app (startApp), the
 * console and wallboard served from the dist/web the browser project's global setup builds.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { ROOT } from './process';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(ROOT, 'test', 'browser', 'screenshots');

export function assertChromium(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: install Debian's chromium package (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`);
  }
}

export async function launchBrowser(): Promise<Browser> {
  assertChromium();
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Fill the sign-in form both pages share and submit it. */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.locator('#signin-username').fill(username);
  await page.locator('#signin-password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Wait until the locator's text matches (Playwright's own waiting, no sleeps). */
export async function waitForText(locator: Locator, text: string | RegExp, ms = 10_000): Promise<void> {
  await locator.filter({ hasText: text }).first().waitFor({ state: 'visible', timeout: ms });
}

/** The agent console's state control. */
export async function setAgentState(page: Page, value: string, expected: string | RegExp): Promise<void> {
  await page.getByLabel('Change state').selectOption(value);
  await page.getByRole('button', { name: 'Set state' }).click();
  await waitForText(page.locator('#state-now'), expected);
}

/** The wallboard's figure in one column of one queue's row. */
export function wallboardCell(page: Page, queueId: string, col: string): Locator {
  return page.locator(`tr[data-queue-id="${queueId}"] [data-col="${col}"]`);
}

/**
 * What a test file starts in beforeAll and closes in afterAll, in reverse order. It keeps the
 * promises, so when one part fails to start (Chromium crashing under load, say) the parts that
 * did start are still closed: with a bare Promise.all the app would keep its database and its
 * sockets, and Jest would never exit.
 */
export class Resources {
  private readonly closers: Array<() => Promise<unknown>> = [];

  add<T>(started: Promise<T>, close: (value: T) => unknown): Promise<T> {
    this.closers.unshift(() => started.then(async (v) => close(v), () => undefined));
    return started;
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const c of this.closers.splice(0)) await c().catch((err: unknown) => errors.push(err));
    if (errors.length) throw errors[0];
  }
}

/** A page→server socket.io frame, and what a tap may do with it. */
export interface TappedFrame {
  text: string;
  /** Send it on to the server now. */
  pass(): void;
  /** Answer the page instead of the server (a frame in the socket.io wire format). */
  reply(frame: string): void;
}

/**
 * Puts the test between the page and Switchboard on every socket.io WebSocket of `page`: frames
 * from the server pass untouched; each frame from the page goes to `onFrame`, which passes it on
 * (now or later) or answers it itself. For what a real server cannot be made to do on cue: an
 * answer that is still on its way when something else happens, or a refusal.
 */
export async function tapSockets(page: Page, onFrame: (frame: TappedFrame) => void): Promise<void> {
  await page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      onFrame({ text: String(message), pass: () => server.send(message), reply: (frame) => ws.send(frame) });
    });
    server.onMessage((message) => ws.send(message));
  });
}

/** The ack id and event of a socket.io EVENT frame (`42/agent,7["offer:accept",{…}]`), or null. */
export function parseEventFrame(frame: string): { nsp: string; ackId: string | null; event: string } | null {
  const m = /^42(\/[^,]*),(\d*)\["([^"]+)"/.exec(frame);
  return m ? { nsp: m[1]!, ackId: m[2] || null, event: m[3]! } : null;
}

/** The socket.io frame acknowledging `ackId` with `body` on `nsp`. */
export function ackFrame(nsp: string, ackId: string, body: unknown): string {
  return `43${nsp},${ackId}${JSON.stringify([body])}`;
}
