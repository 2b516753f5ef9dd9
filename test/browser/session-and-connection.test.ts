import jwt from 'jsonwebtoken';
import type { Browser, Page } from 'playwright-core';
import { bearer, chatClient, startApp, waitFor, type ChatClient, type TestApp } from '../support/app';
import { chatEntry, createQueue } from '../support/agent';
import { ADMIN_PASSWORD, JWT_SECRET } from '../support/env';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { launchBrowser, Resources, screenshot, setAgentState, signIn, waitForText } from '../support/browser';

describe('sign-in, expired sessions and dropped connections', () => {
  const resources = new Resources();
  let t: TestApp;
  let browser: Browser;
  let proxy: TcpProxy;
  const chats: ChatClient[] = [];
  let agent: { id: string; userId: string };

  beforeAll(async () => {
    [t, browser] = await Promise.all([resources.add(startApp({ OFFER_TIMEOUT_SECONDS: '60' }), (a) => a.close()), resources.add(launchBrowser(), (b) => b.close())]);
    const support = await createQueue(t, { name: 'Support', channels: ['chat'] });
    await chatEntry(t, '*', support);
    const res = await t.app.inject({ method: 'POST', url: '/api/agents', headers: bearer(t.adminToken), payload: { name: 'Cy Agent', username: 'cy', password: 'cy-password-1', queueIds: [support] } });
    expect(res.statusCode).toBe(201);
    const { rows } = await t.app.services.db.query("SELECT id FROM users WHERE username = 'cy'");
    agent = { id: res.json().id, userId: rows[0].id };
    proxy = await resources.add(startTcpProxy('127.0.0.1', Number(new URL(t.url).port)), (x) => x.close());
  });

  afterAll(async () => {
    for (const c of chats) c.close();
    await resources.close();
  });

  async function page(): Promise<Page> {
    const context = await resources.add(browser.newContext({ viewport: { width: 1400, height: 1000 } }), (c) => c.close());
    return context.newPage();
  }

  it('shows the server\'s message for a bad sign-in, and refuses accounts that cannot use the page', async () => {
    const p = await page();
    await p.goto(`${t.url}/console`);
    await signIn(p, 'cy', 'not-the-password');
    await waitForText(p.locator('#signin-error'), 'Sign-in failed: unknown username or wrong password');
    expect(await p.evaluate('document.activeElement && document.activeElement.id')).toBe('signin-password');
    await signIn(p, 'admin', ADMIN_PASSWORD);
    await waitForText(p.locator('#signin-error'), 'this account has no agent profile');

    await p.goto(`${t.url}/wallboard`);
    await signIn(p, 'cy', 'cy-password-1');
    await waitForText(p.locator('#signin-error'), 'the wallboard needs a supervisor or admin sign-in');
  });

  it('sends an expired session back to the sign-in form with a clear message, on both pages', async () => {
    const expired = (claims: Record<string, unknown>, sub: string) => jwt.sign({ typ: 'staff', ...claims }, JWT_SECRET, { subject: sub, expiresIn: -60 });
    const p = await page();
    const stored = {
      'switchboard.console': { token: expired({ username: 'cy', role: 'agent', agentId: agent.id }, agent.userId), user: { id: agent.userId, username: 'cy', role: 'agent', agentId: agent.id } },
      'switchboard.wallboard': { token: expired({ username: 'admin', role: 'admin' }, 'admin'), user: { id: 'admin', username: 'admin', role: 'admin' } },
    };
    for (const [key, pageName] of [['switchboard.console', 'console'], ['switchboard.wallboard', 'wallboard']] as const) {
      await p.goto(`${t.url}/${pageName}`);
      await p.locator('#signin-username').waitFor();
      await p.evaluate(`sessionStorage.setItem(${JSON.stringify(key)}, ${JSON.stringify(JSON.stringify(stored[key]))})`);
      await p.reload();
      await waitForText(p.locator('.signin .notice'), 'Your session has expired — please sign in again');
      expect(await p.evaluate(`sessionStorage.getItem(${JSON.stringify(key)})`)).toBeNull();
    }
    // Signing in again works from there.
    await signIn(p, 'admin', ADMIN_PASSWORD);
    await p.locator('tr[data-queue-id]').first().waitFor();
  });

  it('rides out a dropped connection: a banner while it is down, then state, work and pending offers come back (also after a reload)', async () => {
    const p = await page();
    await p.goto(`http://127.0.0.1:${proxy.port}/console`);
    await signIn(p, 'cy', 'cy-password-1');
    await setAgentState(p, 'available', 'Available');

    const first = await chatClient(t.url);
    chats.push(first);
    await first.send('a1', 'First chat here');
    const offer = p.locator('article.offer');
    await offer.getByRole('button', { name: 'Accept' }).click();
    const pane = p.locator(`article.pane[data-interaction-id="${first.session.interactionId}"]`);
    await waitForText(pane.locator('.message.from-customer'), 'First chat here');

    // The network goes: the console says so at once.
    proxy.cut();
    const banner = p.locator('#connection-banner');
    await waitForText(banner, 'Connection lost — reconnecting…');
    // Meanwhile the customer writes again and a second chat arrives for this agent.
    await first.send('a2', 'Are you still there?');
    const second = await chatClient(t.url);
    chats.push(second);
    await second.send('b1', 'Hello from a second chat');
    await waitFor(async () => (await t.app.services.db.query("SELECT 1 FROM offers WHERE interaction_id = $1 AND state = 'pending'", [second.session.interactionId])).rowCount === 1, 10_000, 'the second chat offered to the agent');

    // Back online: the banner goes, and what the server re-sends rebuilds the view.
    proxy.restore();
    await banner.waitFor({ state: 'hidden', timeout: 15_000 });
    await waitForText(p.locator('#state-now'), 'Available');
    await waitForText(pane.locator('.message.from-customer'), 'Are you still there?');
    await waitForText(offer.locator('.preview'), 'Hello from a second chat');

    // A reload (same tab, same session) rebuilds it all from the server too.
    await p.reload();
    await waitForText(p.locator('#state-now'), 'Available');
    await waitForText(pane.locator('.message.from-customer'), 'Are you still there?');
    expect(await pane.locator('.message.from-customer').count()).toBe(2);
    await waitForText(offer.locator('.preview'), 'Hello from a second chat');
    await offer.getByRole('button', { name: 'Accept' }).click();
    const pane2 = p.locator(`article.pane[data-interaction-id="${second.session.interactionId}"]`);
    await waitForText(pane2.locator('.message.from-customer'), 'Hello from a second chat');
    expect(await p.locator('article.pane').count()).toBe(2);
    await screenshot(p, 'console-two-conversations');
  });
});
