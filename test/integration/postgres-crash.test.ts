/**
 * Postgres itself crashes (a server process killed with SIGKILL: every session ends and the
 * cluster recovers from the WAL on disk) just after a routing pass committed offers without
 * waiting for the WAL. Those offers are lost, with the interactions' move to `offered`; the
 * contacts wait again and must be offered anew within the sweep, whatever the router's view of
 * the free agents had read before the crash. A cluster of the file's own, so the machine's is
 * never crashed; its WAL writer is held (stopped) from before the write that starts the pass until
 * the crash, which kills it, so what a pass committed stays unwritten (any synchronous commit in
 * between would write it, and the test checks it was lost). Then, on a cluster of their own, a
 * first message and an agent's change to available, each routed before its WAL flush.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { chatMessageCommand } from '../../src/channels/chat/chat.mapper';
import { isMessageCommand } from '../../src/interactions/append';
import { appendMessagesInOneStatement } from '../../src/interactions/append-statement';
import { flushWal } from '../../src/platform/db';
import { clearRedisPrefix, chatClient, startApp, waitFor, type ChatClient, type TestApp } from '../support/app';
import { chatEntry, createAgent, createQueue, type AgentClient } from '../support/agent';
import { uniqueName } from '../support/env';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres';

const OFFER_TIMEOUT_SECONDS = 3;
/**
 * Time for two of the WAL writer's rounds between an offer and the crash (and for the sweep's
 * passes to read the agents again). Were the writer not held, they would write the offer's
 * commit out and it would survive: the test would pass or fail by where a round fell (as it once
 * did, under load, with one round every 10 s).
 */
const WAL_ROUNDS_MS = 500;

/**
 * For the describe block it is called in: a Postgres cluster of its own (with `settings`) and an
 * app on it (with `env`), handed to `set` once started; the sockets in `open` closed after each
 * test; both stopped at the end.
 */
function appOnOwnCluster(
  settings: Record<string, string>,
  env: Record<string, string>,
  open: Array<{ close(): void }>,
  set: (s: { pg: PrivatePostgres; t: TestApp; db: Pool }) => void,
): void {
  let pg: PrivatePostgres | undefined;
  let t: TestApp | undefined;
  beforeAll(async () => {
    pg = await startPrivatePostgres(settings);
    t = await startApp({ DATABASE_URL: `${pg.base}/${uniqueName('sb_test_crash')}`, DB_CONNECT_TIMEOUT_MS: '1000', ...env });
    set({ pg, t, db: t.app.services.db });
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  afterAll(async () => {
    await t?.app.close();
    if (t) await clearRedisPrefix(t.config);
    await pg?.stop();
  });
}

describe('Postgres crashes right after a routing pass', () => {
  let pg: PrivatePostgres;
  let t: TestApp;
  let db: Pool;
  const open: Array<{ close(): void }> = [];

  // A WAL writer round every 200 ms: the test that waits WAL_ROUNDS_MS before its crash sees two.
  appOnOwnCluster({ wal_writer_delay: '200' }, { OFFER_TIMEOUT_SECONDS: String(OFFER_TIMEOUT_SECONDS), ROUTER_SWEEP_MS: '500' }, open, (s) => ({ pg, t, db } = s));

  const offerRows = async (interactionId: string) =>
    (await db.query<{ id: string; agent_id: string; state: string }>('SELECT id, agent_id, state FROM offers WHERE interaction_id = $1 ORDER BY created_at', [interactionId])).rows;
  const interaction = async (id: string) => (await db.query<{ state: string; agent_id: string | null }>('SELECT state, agent_id FROM interactions WHERE id = $1', [id])).rows[0]!;
  const ready = async () => (await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200;

  /**
   * One agent with one chat slot, available and wrapping up a first visitor's chat; a second
   * visitor writes in its queue, the agent's wrap-up frees the slot and the offer reaches the
   * agent. `beforeCrash` runs between the offer and the crash.
   */
  async function offerThenCrash(name: string, beforeCrash: () => Promise<void>): Promise<{ agent: AgentClient; visitor: ChatClient; lost: string; interactionId: string }> {
    const queueId = await createQueue(t, { name });
    await chatEntry(t, name, queueId);
    const agent = await createAgent(t, [queueId], { capacity: { chat: 1 } });
    open.push(agent);
    expect(await agent.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    const first = await chatClient(t.url, { widget: name });
    open.push(first);
    expect(await first.send('m0', 'hello')).toMatchObject({ ok: true });
    const held = await agent.nextOffer();
    expect(await agent.emit('offer:accept', { offerId: held.offerId })).toMatchObject({ ok: true });
    expect(await agent.emit('interaction:end', { interactionId: held.interaction.id })).toMatchObject({ ok: true });
    const visitor = await chatClient(t.url, { widget: name });
    open.push(visitor);
    // The contact waits while the agent's slot is held. Nothing but a synchronous commit may
    // write the pass's commit out before the crash: the wrap-up that frees the slot is the last
    // one, and the pass it starts writes after it. (A change to available, or a message while
    // someone is free, has a flush of the WAL sent behind its commit, and that flush may come
    // after the pass's commit and write it out.)
    expect(await visitor.send('m1', 'hello')).toMatchObject({ ok: true });
    await pg.holdWalWriter();
    expect(await agent.emit('interaction:wrapup', { interactionId: held.interaction.id })).toMatchObject({ ok: true });
    const offer = await agent.nextOffer();
    await beforeCrash();
    expect(await offerRows(offer.interaction.id)).toHaveLength(1);
    await pg.crash();
    await waitFor(ready, 15000, 'ready again after the crash');
    // The scenario under test: the pass's commit did not survive. Only the lost offer's own row
    // says so: the recovery can be over in tens of milliseconds, and the sweep may have offered
    // the contact anew before this read (as it once did in CI).
    expect(await offerRows(offer.interaction.id)).not.toContainEqual(expect.objectContaining({ id: offer.offerId }));
    return { agent, visitor, lost: offer.offerId, interactionId: offer.interaction.id };
  }

  async function offeredAgainAndTaken(s: { agent: AgentClient; visitor: ChatClient; lost: string; interactionId: string }): Promise<void> {
    const again = await s.agent.nextOffer(5000);
    expect(again.interaction.id).toBe(s.interactionId);
    expect(again.offerId).not.toBe(s.lost);
    // The lost offer cannot be answered; the console drops its card on this code.
    expect(await s.agent.emit('offer:accept', { offerId: s.lost })).toMatchObject({ ok: false, error: { code: 'SB_OFFER_UNKNOWN' } });
    expect(await s.agent.emit('offer:accept', { offerId: again.offerId })).toMatchObject({ ok: true });
    expect(await interaction(s.interactionId)).toEqual({ state: 'active', agent_id: s.agent.agentId });
    // The lost offer's ring-no-answer timer, kept in Redis, fires: there is nothing to expire,
    // and the console is told the lost offer was withdrawn (a console that never touched it
    // drops its card then).
    await waitFor(() => s.agent.revoked.length > 0, (OFFER_TIMEOUT_SECONDS + 3) * 1000, 'the lost offer withdrawn');
    expect(s.agent.revoked).toEqual([{ offerId: s.lost, reason: 'cancelled' }]);
    expect(await offerRows(s.interactionId)).toEqual([{ id: again.offerId, agent_id: s.agent.agentId, state: 'accepted' }]);
    expect(await interaction(s.interactionId)).toEqual({ state: 'active', agent_id: s.agent.agentId });
    expect(s.agent.states.map((x) => x.state)).not.toContain('away');
  }

  it('keeps every message it acknowledged before the crash, and stores each resend once', async () => {
    const stored = async (id: string) => Number((await db.query('SELECT count(*) AS n FROM events WHERE idempotency_key LIKE $1', [`%:msg:${id}`])).rows[0].n);
    const visitors = await Promise.all(Array.from({ length: 4 }, () => chatClient(t.url)));
    open.push(...visitors);
    // Each visitor writes one message after another until the crash is over; the crash lands
    // while some are being stored.
    let crashed = false;
    const acks = new Map<string, { ok: boolean }>();
    const writing = visitors.map(async (v, n) => {
      for (let i = 0; !crashed; i++) acks.set(`v${n}-${i}`, await v.send(`v${n}-${i}`, `message ${i}`));
    });
    await new Promise((r) => setTimeout(r, 300));
    await pg.crash();
    crashed = true;
    await Promise.all(writing);
    await waitFor(ready, 15000, 'ready again after the crash');
    const failed = [...acks].filter(([, ack]) => !ack.ok).map(([id]) => id);
    const acked = [...acks].filter(([, ack]) => ack.ok).map(([id]) => id);
    expect(acked.length).toBeGreaterThan(0);
    expect(failed.length).toBeGreaterThan(0);
    for (const id of acked) expect(await stored(id)).toBe(1);
    // What was not acknowledged is sent again (a committed one is answered as a duplicate).
    for (const id of failed) {
      const [n, i] = id.slice(1).split('-').map(Number);
      expect(await visitors[n!]!.send(id, `message ${i}`)).toMatchObject({ ok: true });
      expect(await stored(id)).toBe(1);
    }
  }, 30000);

  it('offers the contact anew when the crash took the offer', async () => {
    await offeredAgainAndTaken(await offerThenCrash('crash-plain', async () => undefined));
  }, 30000);

  it('offers the contact anew when the router had read its agents after the lost offer', async () => {
    // A pass between the offer and the crash (the sweep's, say) reads the agent as busy, at a
    // snapshot that covers the lost commit; after the crash, the transaction ids beyond what
    // was written are handed out again.
    await offeredAgainAndTaken(
      await offerThenCrash('crash-seen', async () => {
        t.app.services.router.trigger();
        await t.app.services.router.idle();
        await new Promise((r) => setTimeout(r, WAL_ROUNDS_MS));
      }),
    );
  }, 30000);
});

// A first message, whose statement commits without waiting for the WAL so that its routing pass
// need not wait either: offered before its flush, acknowledged after it, and kept by a crash once
// acknowledged. An agent's change to available likewise. A cluster and an app of their own: the sweep is a minute away, since a sweep's
// pass under way when a message is sent makes its statement commit as any other (no reads behind
// it); and the offers these tests leave ringing end in commits that must not fall between a
// routing pass and a crash above.
describe('a first message or a change to available routed before its WAL flush', () => {
  let pg: PrivatePostgres;
  let t: TestApp;
  let db: Pool;
  const open: Array<{ close(): void }> = [];

  appOnOwnCluster({}, { ROUTER_SWEEP_MS: '60000' }, open, (s) => ({ pg, t, db } = s));

  const ready = async () => (await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200;

  const storedKeys = async (keys: string[]) =>
    (await db.query<{ idempotency_key: string }>('SELECT idempotency_key FROM events WHERE idempotency_key = ANY($1) ORDER BY idempotency_key', [keys])).rows.map((r) => r.idempotency_key);

  // What the routing pass for a first message needs to start (the message visible) comes before
  // the message is durable: its statement commits without waiting for the WAL, and a flush sent
  // behind it holds back the answer. Both halves, on the statement itself.
  it('loses what a message statement committed without waiting for the WAL, unless a flush was answered behind it', async () => {
    const chat = (text: string) => {
      const cmd = chatMessageCommand({ visitorId: randomUUID(), customerId: randomUUID(), pendingInteractionId: randomUUID(), widget: 'crash-statement', clientMessageId: randomUUID(), text, now: new Date() });
      if (!isMessageCommand(cmd)) throw new Error('not a plain message');
      return cmd;
    };
    const [kept, lost] = [chat('kept'), chat('lost')];
    await pg.holdWalWriter();
    const client = await db.connect();
    try {
      const written = appendMessagesInOneStatement(client, [kept], { asyncCommit: true });
      const flushed = flushWal(client);
      await written;
      await flushed;
      await appendMessagesInOneStatement(client, [lost], { asyncCommit: true });
      expect(await storedKeys([kept.idempotencyKey, lost.idempotencyKey])).toHaveLength(2);
    } finally {
      client.release();
    }
    await pg.crash();
    await waitFor(ready, 15000, 'ready again after the crash');
    expect(await storedKeys([kept.idempotencyKey, lost.idempotencyKey])).toEqual([kept.idempotencyKey]);
  }, 30000);

  /** A chat queue under `widget` with one agent, available, and the router idle. */
  const oneAvailable = async (widget: string) => {
    const queueId = await createQueue(t, { name: widget });
    await chatEntry(t, widget, queueId);
    const agent = await createAgent(t, [queueId], { capacity: { chat: 1 } });
    open.push(agent);
    expect(await agent.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    await t.app.services.router.idle();
    const visitor = await chatClient(t.url, { widget });
    open.push(visitor);
    return { agent, visitor };
  };

  /**
   * Hold every commit that waits for the WAL and send a message; while they are held, run
   * `meanwhile` and check the message is not answered; then release them: it is answered.
   */
  const answeredOnceReleased = async (visitor: ChatClient, clientMessageId: string, meanwhile: () => Promise<void>) => {
    await pg.holdSyncCommits();
    let came = false;
    const answer = visitor.send(clientMessageId, 'hello').then((a: unknown) => {
      came = true;
      return a;
    });
    try {
      await meanwhile();
      expect(came).toBe(false);
    } finally {
      await pg.releaseSyncCommits();
    }
    expect(await answer).toMatchObject({ ok: true });
  };

  // Here a synchronous standby that never answers holds every commit that waits for the WAL (the
  // flush behind the message among them) while the contact is offered; the ack follows once it
  // is released. The contact is claimed ahead of its pass (routing/claim-ahead.ts), in the
  // message's own write between its statement and that flush.
  it('offers a first message while its acknowledgement still waits for the WAL flush', async () => {
    const { agent, visitor } = await oneAvailable('held-flush');
    const { router } = t.app.services;
    const before = router.waitingReads.claimedAhead;
    await answeredOnceReleased(visitor, 'held-1', async () => {
      expect((await agent.nextOffer(5000)).interaction.id).toBe(visitor.session.interactionId);
      // By the claim sent ahead of the pass, behind the message's statement and before its flush
      // (the pass counts it once the offer is pushed and timed).
      await waitFor(() => router.waitingReads.claimedAhead === before + 1, 5000, 'the pass to count the claim ahead');
      await new Promise((r) => setTimeout(r, 100));
    });
  }, 30000);

  // A resend is answered with the message stored first, which a statement that did not wait for
  // the WAL may have stored a moment before, its flush still on the way: the answer waits for a
  // flush of its own.
  it('answers a resend only once the message it repeats is durable', async () => {
    const visitor = await chatClient(t.url);
    open.push(visitor);
    expect(await visitor.send('again-1', 'hello')).toMatchObject({ ok: true });
    await answeredOnceReleased(visitor, 'again-1', () => new Promise((r) => setTimeout(r, 300)));
  }, 30000);

  // An agent's change to available, likewise: the pass for the agent starts once the change is
  // visible, and the agent is told of it (the ack, the state pushed to its consoles) once it is
  // durable.
  it('offers the head of its queue to an agent gone available while that change still waits for the WAL flush', async () => {
    const widget = 'held-available';
    const queueId = await createQueue(t, { name: widget });
    await chatEntry(t, widget, queueId);
    const agent = await createAgent(t, [queueId], { capacity: { chat: 1 } });
    open.push(agent);
    const visitor = await chatClient(t.url, { widget });
    open.push(visitor);
    expect(await visitor.send('waits-1', 'hello')).toMatchObject({ ok: true });
    await t.app.services.router.idle();
    await pg.holdSyncCommits();
    let acked = false;
    const ack = agent.emit('state:set', { state: 'available' }).then((a: unknown) => {
      acked = true;
      return a;
    });
    try {
      expect((await agent.nextOffer(5000)).interaction.id).toBe(visitor.session.interactionId);
      await new Promise((r) => setTimeout(r, 100));
      expect(acked).toBe(false);
      expect(agent.states.map((s) => s.state)).not.toContain('available');
    } finally {
      await pg.releaseSyncCommits();
    }
    expect(await ack).toMatchObject({ ok: true, state: 'available' });
    await waitFor(() => agent.states.some((s) => s.state === 'available'), 5000, 'the state pushed to the console');
  }, 30000);

  it("keeps an agent's change to available once acknowledged, though its commit did not wait for the WAL", async () => {
    const queueId = await createQueue(t, { name: 'crash-available' });
    const agent = await createAgent(t, [queueId], { capacity: { chat: 1 } });
    open.push(agent);
    // Nothing but the flush behind the change may write its commit out before the crash.
    await pg.holdWalWriter();
    expect(await agent.emit('state:set', { state: 'available' })).toMatchObject({ ok: true, state: 'available' });
    await pg.crash();
    await waitFor(ready, 15000, 'ready again after the crash');
    expect((await db.query('SELECT state FROM agents WHERE id = $1', [agent.agentId])).rows).toEqual([{ state: 'available' }]);
  }, 30000);

  it('keeps a first message its routing pass saw before the WAL flush, once the message is acknowledged', async () => {
    const { agent, visitor } = await oneAvailable('crash-early');
    const { ingest } = t.app.services;
    const before = ingest.announcedBeforeFlush;
    // Nothing but our own flush may write the message's commit out before the crash.
    await pg.holdWalWriter();
    expect(await visitor.send('early-1', 'hello')).toMatchObject({ ok: true });
    expect(ingest.announcedBeforeFlush).toBe(before + 1);
    expect((await agent.nextOffer()).interaction.id).toBe(visitor.session.interactionId);
    await pg.crash();
    await waitFor(ready, 15000, 'ready again after the crash');
    expect((await db.query('SELECT 1 FROM events WHERE idempotency_key LIKE $1', ['%:msg:early-1'])).rowCount).toBe(1);
  }, 30000);
});
