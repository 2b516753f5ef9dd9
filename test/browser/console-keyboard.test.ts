import type { Browser, Page } from 'playwright-core';
import { bearer, chatClient, startApp, type ChatClient, type TestApp } from '../support/app';
import { chatEntry, createQueue } from '../support/agent';
import { launchBrowser, Resources, setAgentState, signIn, waitForText } from '../support/browser';

/** What has the keyboard focus: its id, else its tag and text. */
const focused = (p: Page): Promise<string> =>
  p.evaluate(`(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'BODY';
    return el.id ? '#' + el.id : el.tagName + ' ' + (el.textContent || '').trim();
  })()`);

describe('the console from the keyboard', () => {
  const resources = new Resources();
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    [t, browser] = await Promise.all([
      resources.add(startApp({ OFFER_TIMEOUT_SECONDS: '60' }), (a) => a.close()),
      resources.add(launchBrowser(), (b) => b.close()),
    ]);
    const support = await createQueue(t, { name: 'Support', channels: ['chat'] });
    await chatEntry(t, '*', support);
    const res = await t.app.inject({ method: 'POST', url: '/api/agents', headers: bearer(t.adminToken), payload: { name: 'Kim Keys', username: 'kim', password: 'kim-password-1', queueIds: [support] } });
    expect(res.statusCode).toBe(201);
  });
  afterAll(() => resources.close());

  async function console(): Promise<Page> {
    const context = await resources.add(browser.newContext({ viewport: { width: 1400, height: 1000 } }), (c) => c.close());
    const p = await context.newPage();
    await p.goto(`${t.url}/console`);
    await signIn(p, 'kim', 'kim-password-1');
    await setAgentState(p, 'available', 'Available');
    return p;
  }

  async function chat(text: string): Promise<ChatClient> {
    const c = await resources.add(chatClient(t.url), (x) => x.close());
    expect((await c.send('k1', text)).ok).toBe(true);
    return c;
  }

  it('keeps the focus in the offers when the offer it is on goes away', async () => {
    const p = await console();
    const c = await chat('Hello?');
    const offer = p.locator('article.offer');
    await offer.locator('h3:focus').waitFor();
    await p.keyboard.press('Tab');
    expect(await focused(p)).toBe('BUTTON Accept');

    // The customer leaves before the agent answers: the card goes, the keyboard stays in the offers.
    expect((await c.emitAck('end', {})).ok).toBe(true);
    await offer.waitFor({ state: 'detached' });
    await waitForText(p.locator('#notices'), 'left before the offer was answered');
    expect(await focused(p)).toBe('#offers-title');
    await p.context().close();
  });

  it('works a chat from accept to wrap-up without losing the focus: notes, details, end, wrap-up', async () => {
    const p = await console();
    const c = await chat('I need help with my account');
    await p.locator('article.offer h3:focus').waitFor();
    await p.keyboard.press('Tab');
    await p.keyboard.press('Enter');
    const pane = p.locator(`article.pane[data-interaction-id="${c.session.interactionId}"]`);
    await waitForText(pane.locator('.pane-state'), 'Active');
    expect(await focused(p)).toMatch(/-reply$/);

    // A note: type it, Tab to "Add note", Enter; the focus comes back to the note box.
    await pane.getByLabel('New note').focus();
    await p.keyboard.type('Asked about the account');
    await p.keyboard.press('Tab');
    expect(await focused(p)).toBe('BUTTON Add note');
    await p.keyboard.press('Enter');
    await waitForText(pane.locator('.customer .status'), 'Note added.');
    expect(await focused(p)).toMatch(/-note$/);

    // The customer's name: Enter in the field saves; the form is redrawn and the focus lands on Save.
    await pane.getByLabel('Name', { exact: true }).focus();
    await p.keyboard.type('Robin Keyboard');
    await p.keyboard.press('Enter');
    await waitForText(pane.locator('.customer .status'), 'Customer details saved.');
    expect(await focused(p)).toMatch(/-save$/);

    // End, choose a disposition, finish: the pane goes and the focus moves to the conversations heading.
    await pane.getByRole('button', { name: 'End conversation' }).focus();
    await p.keyboard.press('Enter');
    await waitForText(pane.locator('.pane-state'), 'Wrap-up');
    expect(await focused(p)).toMatch(/-disposition$/);
    await p.keyboard.press('ArrowDown');
    await pane.getByRole('button', { name: 'Finish wrap-up' }).focus();
    await p.keyboard.press('Enter');
    await pane.waitFor({ state: 'detached' });
    await waitForText(p.locator('#notices'), 'Wrap-up saved for Robin Keyboard: Resolved.');
    expect(await focused(p)).toBe('#work-title');
    await p.context().close();
  });

  it('shows what customers write as text, never as markup', async () => {
    const p = await console();
    const markup = '<img src=x onerror="window.__xss=1"><b>bold</b>';
    // Away while the customer writes and a supervisor fills in their record; then the offer pops.
    await setAgentState(p, 'away:Break', 'Away (Break)');
    const c = await chat(markup);
    const patched = await t.app.inject({ method: 'PATCH', url: `/api/customers/${c.session.customerId}`, headers: bearer(t.adminToken), payload: { name: '<i>Eve</i>', attributes: { plan: '<script>window.__xss=2</script>' } } });
    expect(patched.statusCode).toBe(200);
    await setAgentState(p, 'available', 'Available');
    const offer = p.locator('article.offer');
    await waitForText(offer.locator('.preview'), markup);
    await waitForText(offer.locator('h3'), 'New chat offer from <i>Eve</i>');
    await waitForText(offer.locator('dd'), '<script>window.__xss=2</script>');
    await offer.getByRole('button', { name: 'Accept' }).click();
    const pane = p.locator(`article.pane[data-interaction-id="${c.session.interactionId}"]`);
    await waitForText(pane.locator('.message.from-customer .text'), markup);
    expect(await p.locator('img, b, i, script:not([src])').count()).toBe(0);
    expect(await p.evaluate('window.__xss')).toBeUndefined();
  });
});
