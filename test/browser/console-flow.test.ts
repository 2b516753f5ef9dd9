import type { Browser, Page } from 'playwright-core';
import { bearer, chatClient, login, startApp, waitFor, type ChatClient, type TestApp } from '../support/app';
import { chatEntry, createQueue } from '../support/agent';
import { ACCOUNT_SID, AUTH_TOKEN, signedForm, startFakeTwilio, type FakeTwilio } from '../support/fake-twilio';
import { ADMIN_PASSWORD } from '../support/env';
import { launchBrowser, Resources, screenshot, setAgentState, signIn, waitForText, wallboardCell } from '../support/browser';

const PUBLIC = 'https://switchboard.example.com';
const OUR_NUMBER = '+15005550006';
const CUSTOMER_PHONE = '+14155550100';
const SCRIPT = 'Greet the customer by name and confirm their order number.';

describe('console and wallboard in Chromium', () => {
  const resources = new Resources();
  let t: TestApp;
  let fake: FakeTwilio;
  let browser: Browser;
  let support: string;
  let chat: ChatClient | null = null;

  beforeAll(async () => {
    [fake, browser] = await Promise.all([resources.add(startFakeTwilio(), (f) => f.close()), resources.add(launchBrowser(), (b) => b.close())]);
    t = await resources.add(startApp({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_URL: fake.url, PUBLIC_BASE_URL: PUBLIC, OFFER_TIMEOUT_SECONDS: '30' }), (a) => a.close());
    support = await createQueue(t, { name: 'Support', channels: ['chat', 'sms'], script: SCRIPT });
    await createQueue(t, { name: 'Billing', channels: ['chat'] });
    const smsDesk = await createQueue(t, { name: 'SMS desk', channels: ['sms'] });
    await chatEntry(t, '*', support);
    const ep = await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'sms', address: OUR_NUMBER, queueId: smsDesk } });
    expect(ep.statusCode).toBe(201);
    const agent = await t.app.inject({
      method: 'POST',
      url: '/api/agents',
      headers: bearer(t.adminToken),
      payload: { name: 'Ada Lovelace', username: 'ada', password: 'ada-password-1', queueIds: [support] },
    });
    expect(agent.statusCode).toBe(201);
  });

  afterAll(async () => {
    chat?.close();
    await resources.close();
  });

  async function page(): Promise<Page> {
    const context = await resources.add(browser.newContext({ viewport: { width: 1400, height: 1000 } }), (c) => c.close());
    return context.newPage();
  }

  it('an agent takes a chat from a customer with SMS history, replies and wraps up; the wallboard follows', async () => {
    // The customer texted earlier (a signed Twilio webhook) and someone left a note on them.
    const sms = { MessageSid: `SM${'a'.repeat(32)}`, AccountSid: ACCOUNT_SID, From: CUSTOMER_PHONE, To: OUR_NUMBER, Body: 'My order #1042 never arrived', NumMedia: '0' };
    const { headers, body } = signedForm(`${PUBLIC}/twilio/sms`, sms);
    expect((await t.app.inject({ method: 'POST', url: '/twilio/sms', headers, payload: body })).statusCode).toBe(200);
    const [texter] = (await t.app.inject({ method: 'GET', url: `/api/customers?phone=${encodeURIComponent(CUSTOMER_PHONE)}`, headers: bearer(t.adminToken) })).json();
    expect(texter.id).toEqual(expect.any(String));
    const note = await t.app.inject({ method: 'POST', url: `/api/customers/${texter.id}/notes`, headers: bearer(t.adminToken), payload: { text: 'Prefers text messages' } });
    expect(note.statusCode).toBe(201);

    // The supervisor's wallboard.
    const wall = await page();
    await wall.goto(`${t.url}/wallboard`);
    await signIn(wall, 'admin', ADMIN_PASSWORD);
    await waitForText(wallboardCell(wall, support, 'waiting'), /^0$/);

    // The agent signs in; without Twilio the softphone says so and the rest works.
    const con = await page();
    await con.goto(`${t.url}/console`);
    await con.locator('#signin-username').waitFor();
    await screenshot(con, 'console-sign-in');
    await signIn(con, 'ada', 'ada-password-1');
    await waitForText(con.locator('#softphone-status'), 'Softphone unavailable: softphone is not configured');
    await setAgentState(con, 'available', 'Available');
    await setAgentState(con, 'away:Lunch', 'Away (Lunch)');

    // A chat arrives while the agent is at lunch: it waits, and the wallboard shows it.
    chat = await chatClient(t.url);
    expect((await chat.send('c1', "Hi, I'm still waiting for order #1042")).ok).toBe(true);
    await waitForText(wallboardCell(wall, support, 'waiting'), /^1$/);
    // A supervisor recognises the visitor as the customer who texted.
    const merged = await t.app.inject({ method: 'POST', url: `/api/customers/${texter.id}/merge`, headers: bearer(t.adminToken), payload: { sourceId: chat.session.customerId } });
    expect(merged.statusCode).toBe(200);

    // Back from lunch: the offer pops with the customer's SMS, the note and the queue's script.
    await setAgentState(con, 'available', 'Available');
    const offer = con.locator('article.offer');
    await offer.waitFor();
    await waitForText(offer.locator('h3'), `New chat offer from ${CUSTOMER_PHONE}`);
    await waitForText(offer.locator('.countdown'), /Expires in \d+ s/);
    await waitForText(offer.locator('.timeline-item[data-channel="sms"][data-type="message.received"]'), 'My order #1042 never arrived');
    await waitForText(offer.locator('.notes'), 'Prefers text messages');
    await waitForText(offer.locator('.script'), SCRIPT);
    await waitForText(offer.locator('.preview'), "Hi, I'm still waiting for order #1042");
    await waitForText(con.locator('#announcer'), `New chat offer from ${CUSTOMER_PHONE}`);
    expect(await con.evaluate('document.activeElement && document.activeElement.textContent')).toBe(`New chat offer from ${CUSTOMER_PHONE}`);
    await screenshot(con, 'console-offer');
    await waitForText(wallboardCell(wall, support, 'waiting'), /^0$/);

    // Accept, read, reply: the customer gets the reply over the chat socket.
    await offer.getByRole('button', { name: 'Accept' }).click();
    await offer.waitFor({ state: 'detached' });
    const pane = con.locator(`article.pane[data-interaction-id="${chat.session.interactionId}"]`);
    await waitForText(pane.locator('.pane-state'), 'Active');
    await waitForText(pane.locator('.message.from-customer'), "Hi, I'm still waiting for order #1042");
    const reply = pane.getByRole('textbox', { name: /^Reply/ });
    expect(await con.evaluate('document.activeElement && document.activeElement.tagName')).toBe('TEXTAREA');
    await reply.fill('Sorry about that! Let me check order #1042 for you.');
    await reply.press('Enter');
    await waitFor(() => chat!.messages.some((m) => m.from === 'agent' && m.text === 'Sorry about that! Let me check order #1042 for you.'), 10_000, 'the reply at the customer');
    await pane.locator('.message.from-agent:not(.sending)').waitFor();
    expect(await chat.send('c2', 'Thank you!')).toMatchObject({ ok: true });
    await waitForText(pane.locator('.message.from-customer'), 'Thank you!');
    expect(await pane.locator('.message').count()).toBe(3);

    // The customer's details and notes, from the pane.
    await pane.getByLabel('Name', { exact: true }).fill('Grace Hopper');
    await pane.getByRole('button', { name: 'Save details' }).click();
    await waitForText(pane.locator('.customer .status'), 'Customer details saved.');
    await waitForText(pane.locator('h3'), 'Grace Hopper');
    await pane.getByLabel('New note').fill('Refund issued for #1042');
    await pane.getByRole('button', { name: 'Add note' }).click();
    await waitForText(pane.locator('.customer .timeline-item[data-type="note.added"]'), 'Refund issued for #1042');
    await waitForText(pane.locator('.customer .timeline-item[data-channel="sms"]'), 'My order #1042 never arrived');
    await screenshot(con, 'console-conversation');

    // End and wrap up with a disposition.
    await pane.getByRole('button', { name: 'End conversation' }).click();
    await waitForText(pane.locator('.pane-state'), 'Wrap-up');
    await pane.getByLabel('Disposition').selectOption('Resolved');
    await pane.getByLabel('Wrap-up notes').fill('Refunded');
    await pane.getByRole('button', { name: 'Finish wrap-up' }).click();
    await pane.waitFor({ state: 'detached' });
    await waitForText(con.locator('#notices'), 'Wrap-up saved for Grace Hopper: Resolved.');
    const { rows } = await t.app.services.db.query('SELECT state, outcome, disposition FROM interactions WHERE id = $1', [chat.session.interactionId]);
    expect(rows[0]).toEqual({ state: 'closed', outcome: 'handled', disposition: 'Resolved' });
    const customer = (await t.app.inject({ method: 'GET', url: `/api/customers/${texter.id}`, headers: bearer(await login(t.app, 'ada', 'ada-password-1')) })).json();
    expect(customer.name).toBe('Grace Hopper');

    await waitForText(wallboardCell(wall, support, 'answered'), /^1$/);
    await waitForText(wall.locator(`tr[data-queue-id="${support}"] td.sl-good`), '100 %');
    await waitForText(wallboardCell(wall, support, 'avgHandle'), /^\d+:\d\d$/);
    await waitForText(wall.locator('[data-group="available"] li'), 'Ada Lovelace');
    await screenshot(wall, 'wallboard');
  });
});
