import type { Browser, BrowserContext, Page } from 'playwright-core';
import { bearer, chatClient, startApp, waitFor, type ChatClient, type TestApp } from '../support/app';
import { chatEntry, createQueue } from '../support/agent';
import { ACCOUNT_SID, AUTH_TOKEN, signedForm, startFakeTwilio, type FakeTwilio } from '../support/fake-twilio';
import { ackFrame, launchBrowser, parseEventFrame, Resources, setAgentState, signIn, tapSockets, waitForText, type TappedFrame } from '../support/browser';

const PUBLIC = 'https://switchboard.example.com';
const OUR_NUMBER = '+15005550009';

describe('the console when things go wrong', () => {
  const resources = new Resources();
  let t: TestApp;
  let fake: FakeTwilio;
  let browser: Browser;
  let agentId: string;

  beforeAll(async () => {
    fake = await resources.add(startFakeTwilio(), (f) => f.close());
    [t, browser] = await Promise.all([
      resources.add(startApp({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_URL: fake.url, PUBLIC_BASE_URL: PUBLIC, OFFER_TIMEOUT_SECONDS: '30' }), (a) => a.close()),
      resources.add(launchBrowser(), (b) => b.close()),
    ]);
    const support = await createQueue(t, { name: 'Support', channels: ['chat'] });
    const calls = await createQueue(t, { name: 'Calls', channels: ['voice'] });
    await chatEntry(t, '*', support);
    const ep = await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'voice', address: OUR_NUMBER, queueId: calls } });
    expect(ep.statusCode).toBe(201);
    const res = await t.app.inject({ method: 'POST', url: '/api/agents', headers: bearer(t.adminToken), payload: { name: 'Lee Agent', username: 'lee', password: 'lee-password-1', queueIds: [support, calls] } });
    expect(res.statusCode).toBe(201);
    agentId = res.json().id;
  });
  afterAll(() => resources.close());

  let context: BrowserContext | null = null;
  const chats: ChatClient[] = [];
  afterEach(async () => {
    // Each test starts from an agent who is offline with nothing held or offered, and no chat waiting.
    await context?.close();
    context = null;
    for (const c of chats.splice(0)) await c.emitAck('end', {}).catch(() => undefined);
    const off = await t.app.inject({ method: 'POST', url: `/api/agents/${agentId}/state`, headers: bearer(t.adminToken), payload: { state: 'offline' } });
    expect(off.statusCode).toBe(200);
  });

  async function openConsole(prepare?: (p: Page, c: BrowserContext) => Promise<void>): Promise<Page> {
    context = await resources.add(browser.newContext({ viewport: { width: 1400, height: 1000 } }), (c) => c.close());
    const p = await context.newPage();
    await prepare?.(p, context);
    await p.goto(`${t.url}/console`);
    await signIn(p, 'lee', 'lee-password-1');
    await setAgentState(p, 'available', 'Available');
    return p;
  }

  async function chat(text: string): Promise<ChatClient> {
    const c = await resources.add(chatClient(t.url), (x) => x.close());
    chats.push(c);
    expect((await c.send('r1', text)).ok).toBe(true);
    return c;
  }

  const paneOf = (p: Page, interactionId: string) => p.locator(`article.pane[data-interaction-id="${interactionId}"]`);

  it('an accept still on its way when the customer leaves: the card goes and the server\'s refusal is shown', async () => {
    let held: TappedFrame | null = null;
    const p = await openConsole((page) =>
      tapSockets(page, (f) => {
        if (!held && parseEventFrame(f.text)?.event === 'offer:accept') held = f;
        else f.pass();
      }),
    );
    const c = await chat('Anyone?');
    const offer = p.locator('article.offer');
    await offer.getByRole('button', { name: 'Accept' }).click();
    await waitForText(offer.locator('.countdown'), 'Accepting…');
    await waitFor(() => held !== null, 5000, 'the accept to leave the page');

    expect((await c.emitAck('end', {})).ok).toBe(true);
    await waitForText(p.locator('#notices'), 'a web chat visitor left before the offer was answered.');
    await offer.waitFor({ state: 'detached' });
    held!.pass();
    await waitForText(p.locator('#notices'), /Could not accept the chat from a web chat visitor: offer [0-9a-f-]+ is no longer pending \(revoked\)/);
    expect(await p.locator('article.pane').count()).toBe(0);
  });

  it('a refused End shows the server\'s message; it goes once End succeeds', async () => {
    let refused = false;
    const p = await openConsole((page) =>
      tapSockets(page, (f) => {
        const e = parseEventFrame(f.text);
        if (!refused && e?.event === 'interaction:end' && e.ackId) {
          refused = true;
          f.reply(ackFrame(e.nsp, e.ackId, { ok: false, error: { code: 'SB_UNAVAILABLE', message: 'the database is unavailable; try again shortly' } }));
        } else f.pass();
      }),
    );
    const c = await chat('Please close my ticket');
    await p.locator('article.offer').getByRole('button', { name: 'Accept' }).click();
    const pane = paneOf(p, c.session.interactionId);
    await waitForText(pane.locator('.pane-state'), 'Active');
    const alert = pane.locator(':scope > p.form-error');

    await pane.getByRole('button', { name: 'End conversation' }).click();
    await waitForText(alert, 'Could not end the conversation: the database is unavailable; try again shortly');
    expect(await pane.locator('.pane-state').textContent()).toBe('Active');
    await pane.getByRole('button', { name: 'End conversation' }).click();
    await waitForText(pane.locator('.pane-state'), 'Wrap-up');
    expect(await alert.textContent()).toBe('');
  });

  it('a chat that went back to the queue and came back to the same agent can be worked again', async () => {
    const p = await openConsole();
    const c = await chat('My parcel is late');
    await p.locator('article.offer').getByRole('button', { name: 'Accept' }).click();
    const pane = paneOf(p, c.session.interactionId);
    await waitForText(pane.locator('.pane-state'), 'Active');

    // Offline hands the chat back to the queue; the pane says it is no longer this agent's.
    await setAgentState(p, 'offline', 'Offline');
    await waitForText(pane.locator('.pane-state'), 'No longer yours');
    // Back again: the same chat is offered to the same agent, and accepted into the same pane.
    await setAgentState(p, 'available', 'Available');
    const offer = p.locator('article.offer');
    await waitForText(offer.locator('.preview'), 'My parcel is late');
    await offer.getByRole('button', { name: 'Accept' }).click();
    await offer.waitFor({ state: 'detached' });
    await waitForText(pane.locator('.pane-state'), 'Active');
    expect(await p.locator('article.pane').count()).toBe(1);
    const reply = pane.getByRole('textbox', { name: /^Reply/ });
    expect(await reply.isEnabled()).toBe(true);
    await reply.fill('Found it, it ships today');
    await reply.press('Enter');
    await waitFor(() => c.messages.some((m) => m.from === 'agent' && m.text === 'Found it, it ships today'), 10_000, 'the reply at the customer');
  });

  it('counts down and accepts on the server\'s clock when the agent\'s PC clock is two minutes fast', async () => {
    const p = await openConsole(async (_page, ctx) => {
      await ctx.addInitScript('{ const real = Date.now.bind(Date); Date.now = () => real() + 120000; }');
    });
    expect(await p.evaluate(() => Date.now() - new Date().getTime())).toBeGreaterThan(100_000);
    const c = await chat('Quick question');
    const offer = p.locator('article.offer');
    // Not "Expired" (the offer has 30 s on the server's clock), nor counting the skew in (the
    // estimate of the server's clock is good to about a second).
    await waitForText(offer.locator('.countdown'), /^Expires in \d+ s$/);
    expect(Number(/\d+/.exec((await offer.locator('.countdown').textContent()) ?? '')?.[0])).toBeLessThanOrEqual(31);
    expect(await offer.getByRole('button', { name: 'Accept' }).isEnabled()).toBe(true);
    await offer.getByRole('button', { name: 'Accept' }).click();
    await waitForText(paneOf(p, c.session.interactionId).locator('.pane-state'), 'Active');
  });

  it('a call still held after a reload shows the softphone pointer, not a reply box', async () => {
    const p = await openConsole();
    const { headers, body } = signedForm(`${PUBLIC}/twilio/voice`, { CallSid: `CA${'b'.repeat(32)}`, From: '+14155550177', To: OUR_NUMBER, CallStatus: 'ringing', AccountSid: ACCOUNT_SID });
    const call = await t.app.inject({ method: 'POST', url: '/twilio/voice', headers, payload: body });
    expect(call.statusCode).toBe(200);
    const interactionId = /<Enqueue[^>]*>([0-9a-f-]{36})<\/Enqueue>/.exec(call.body)![1]!;
    const offer = p.locator('article.offer');
    await waitForText(offer.locator('h3'), 'New voice offer from +14155550177');
    await offer.getByRole('button', { name: 'Accept' }).click();
    await waitFor(() => fake.calls.some((x) => x.url?.includes(interactionId) ?? false), 10_000, 'the softphone dialled');
    const pane = paneOf(p, interactionId);
    await waitForText(pane.locator('.pane-state'), 'Active');
    await waitForText(pane.locator('p.hint'), 'Voice call: answer, mute, hold and hang up in the Softphone panel.');

    await p.reload();
    await waitForText(pane.locator('.pane-state'), 'Active');
    await waitForText(pane.locator('p.hint'), 'Voice call: answer, mute, hold and hang up in the Softphone panel.');
    expect(await pane.getByRole('textbox', { name: /^Reply/ }).count()).toBe(0);
  });
});
