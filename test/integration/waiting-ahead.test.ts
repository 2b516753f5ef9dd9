/**
 * A routing pass sends its read of waiting work right behind its read of the free agents'
 * changes, for the queues and channels it expects from the agents as it last read them. It uses
 * that read only when the changes keep the pass inside it; when a change calls for a queue it did
 * not read (here an agent added to a queue, which starts no pass of its own), it reads again,
 * and the offer is the one a pass without the read ahead would make.
 */
import { chatClient, startApp, type TestApp } from '../support/app';
import { chatEntry, createAgent, createQueue } from '../support/agent';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('waiting work read ahead', () => {
  let t: TestApp;
  const open: Array<{ close(): void }> = [];
  beforeAll(async () => {
    t = await startApp({ ROUTER_SWEEP_MS: '60000', OFFER_TIMEOUT_SECONDS: '30' });
  });
  afterAll(async () => {
    open.forEach((c) => c.close());
    await t.close();
  });
  const reads = () => ({ ...t.app.services.router.waitingReads });
  const settled = async () => {
    await sleep(150);
    await t.app.services.router.idle();
  };
  const customer = async (widget: string, text: string) => {
    const c = await chatClient(t.url, { widget });
    open.push(c);
    expect((await c.send(`m-${Math.random()}`, text)).ok).toBe(true);
    return c;
  };

  it('uses the read sent ahead when the agents are as last read, and reads again for a queue an agent joined since', async () => {
    const first = await createQueue(t, { name: 'ahead-first' });
    const second = await createQueue(t, { name: 'ahead-second' });
    await chatEntry(t, 'ahead-first', first);
    await chatEntry(t, 'ahead-second', second);
    const a = await createAgent(t, [first], { capacity: { chat: 2 }, wrapupSeconds: 600 });
    open.push(a);
    expect(await a.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    await settled();

    // The contact's check reads the agents; the pass then finds them as expected.
    let before = reads();
    const offered = a.nextOffer(3000);
    const c1 = await customer('ahead-first', 'one');
    expect((await offered).interaction.id).toBe(c1.session.interactionId);
    await settled();
    expect(reads()).toEqual({ ...before, ahead: before.ahead + 1 });
    expect(await a.emit('offer:accept', { offerId: a.offers[0]!.offerId })).toMatchObject({ ok: true });
    await settled();

    // Work waits in a queue nobody serves: its check finds no one, and no pass runs.
    before = reads();
    const c0 = await customer('ahead-second', 'waiting longest');
    await settled();
    expect(reads()).toEqual(before);

    // The agent joins that queue (no pass), then a contact arrives where the last pass offered:
    // its pass runs without a check, so the view it expects from still has the agent's old queues.
    const res = await t.app.inject({ method: 'PATCH', url: `/api/agents/${a.agentId}`, headers: { authorization: `Bearer ${t.adminToken}` }, payload: { queueIds: [first, second] } });
    expect(res.statusCode).toBe(200);
    const next = a.nextOffer(3000);
    await customer('ahead-first', 'two');
    // The one free slot goes to the contact waiting longest, in the queue not read ahead.
    expect((await next).interaction.id).toBe(c0.session.interactionId);
    await settled();
    expect(reads()).toEqual({ ...before, missed: before.missed + 1 });
  });
});
