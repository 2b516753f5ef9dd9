import type { Browser, Page } from 'playwright-core';
import { bearer, chatClient, startApp, waitFor, type ChatClient, type TestApp } from '../support/app';
import { chatEntry, createQueue } from '../support/agent';
import { launchBrowser, Resources, setAgentState, signIn, waitForText } from '../support/browser';

describe('two agents in two browsers', () => {
  const resources = new Resources();
  let t: TestApp;
  let browser: Browser;
  const chats: ChatClient[] = [];
  let support: string;
  let billing: string;

  beforeAll(async () => {
    [t, browser] = await Promise.all([resources.add(startApp({ OFFER_TIMEOUT_SECONDS: '4' }), (a) => a.close()), resources.add(launchBrowser(), (b) => b.close())]);
    support = await createQueue(t, { name: 'Support', channels: ['chat'] });
    billing = await createQueue(t, { name: 'Billing', channels: ['chat'] });
    await chatEntry(t, '*', support);
    for (const [name, username] of [['Ann Agent', 'ann'], ['Bob Agent', 'bob']]) {
      const res = await t.app.inject({ method: 'POST', url: '/api/agents', headers: bearer(t.adminToken), payload: { name, username, password: `${username}-password-1`, queueIds: [support] } });
      expect(res.statusCode).toBe(201);
    }
  });

  afterAll(async () => {
    for (const c of chats) c.close();
    await resources.close();
  });

  async function agentConsole(username: string): Promise<Page> {
    const context = await resources.add(browser.newContext({ viewport: { width: 1300, height: 900 } }), (c) => c.close());
    const page = await context.newPage();
    await page.goto(`${t.url}/console`);
    await signIn(page, username, `${username}-password-1`);
    await setAgentState(page, 'available', 'Available');
    return page;
  }

  const offers = (p: Page) => p.locator('article.offer');

  it('shows one offer to one agent at a time; the one who lets it ring out loses it, the other wins it and transfers it', async () => {
    const ann = await agentConsole('ann');
    const bob = await agentConsole('bob');

    const chat = await chatClient(t.url);
    chats.push(chat);
    expect((await chat.send('m1', 'Is anyone there?')).ok).toBe(true);

    // Exactly one console rings.
    const rang: Page[] = [];
    await waitFor(async () => {
      const [a, b] = await Promise.all([offers(ann).count(), offers(bob).count()]);
      if (a > 0) rang.push(ann);
      if (b > 0) rang.push(bob);
      return rang.length > 0;
    }, 10_000, 'an offer in either console');
    expect(rang).toHaveLength(1);
    const loser = rang[0]!;
    const winner = loser === ann ? bob : ann;
    expect(await offers(winner).count()).toBe(0);

    // Nobody answers in time: the offer disappears from that console and goes to the other agent.
    await waitForText(offers(loser).locator('.countdown'), /Expires in \d s/);
    await offers(loser).waitFor({ state: 'detached', timeout: 15_000 });
    await waitForText(loser.locator('#notices'), 'The offer from a web chat visitor timed out.');
    await waitForText(loser.locator('#state-now'), 'Away (missed an offer)');

    // The offer takes focus; the keyboard alone accepts it.
    await offers(winner).waitFor();
    await winner.locator('article.offer h3:focus').waitFor();
    await winner.keyboard.press('Tab');
    expect(await winner.evaluate('document.activeElement && document.activeElement.textContent')).toBe('Accept');
    await winner.keyboard.press('Enter');
    const pane = winner.locator(`article.pane[data-interaction-id="${chat.session.interactionId}"]`);
    await waitForText(pane.locator('.message.from-customer'), 'Is anyone there?');
    expect(await loser.locator('article.pane').count()).toBe(0);
    expect(await offers(loser).count()).toBe(0);
    const { rows } = await t.app.services.db.query('SELECT state FROM offers WHERE interaction_id = $1 ORDER BY created_at', [chat.session.interactionId]);
    expect(rows.map((r) => r.state)).toEqual(['expired', 'accepted']);

    // The winner hands it to Billing: back to routing, out of the console.
    await pane.getByLabel('Transfer to queue').selectOption({ label: 'Billing' });
    await pane.getByRole('button', { name: 'Transfer', exact: true }).click();
    await pane.waitFor({ state: 'detached' });
    await waitForText(winner.locator('#notices'), 'Transferred a web chat visitor to Billing.');
    const after = await t.app.services.db.query('SELECT state, queue_id FROM interactions WHERE id = $1', [chat.session.interactionId]);
    expect(after.rows[0]).toEqual({ state: 'queued', queue_id: billing });
  });
});
