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
