/**
 * What starts a routing pass. With the sweep an hour away, every offer here comes from a trigger:
 * a contact starting to wait, an agent becoming available, a wrap-up freeing a slot. A trigger
 * that cannot lead to an offer (nobody in the queue has a free slot; the freed agent has nothing
 * waiting for them) runs no pass at all.
 */
import type { PoolClient } from 'pg';
import { chatClient, startApp, waitFor, type TestApp } from '../support/app';
import { changeAgentState, ROUTER_LOCK_KEY } from '../../src/routing/routing.repository';
import { chatEntry, createAgent, createQueue, type AgentClient } from '../support/agent';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('routing triggers', () => {
  let t: TestApp;
  const open: Array<{ close(): void }> = [];
  beforeAll(async () => {
    t = await startApp({ ROUTER_SWEEP_MS: '60000', OFFER_TIMEOUT_SECONDS: '30' });
  });
  afterAll(async () => {
    open.forEach((c) => c.close());
    await t.close();
  });
  const counts = () => ({ ...t.app.services.router.counts });
  const reads = () => ({ ...t.app.services.router.waitingReads });
  /** Routing settles: no pass running or pending. */
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
  /** A new customer writes under `widget`; the contact is offered to `a`. */
  const offeredTo = async (a: AgentClient, widget: string, text: string) => {
    const offered = a.nextOffer(3000);
    const c = await customer(widget, text);
    expect((await offered).interaction.id).toBe(c.session.interactionId);
    return c;
  };
  const agent = async (...queueIds: string[]) => {
    const a = await createAgent(t, queueIds, { capacity: { chat: 1 }, wrapupSeconds: 600 });
    open.push(a);
    return a;
  };
  const finish = async (a: AgentClient, interactionId: string) => {
    expect(await a.emit('interaction:end', { interactionId })).toMatchObject({ ok: true });
    expect(await a.emit('interaction:wrapup', { interactionId, disposition: 'done' })).toMatchObject({ ok: true, state: 'closed' });
  };

  it('offers at once when a contact starts waiting, skips the pass while the queue is full (once a pass has found it so), and offers when a wrap-up frees the slot', async () => {
    const q = await createQueue(t, { name: 'triggers-a' });
    await chatEntry(t, 'triggers-a', q);
    const a = await agent(q);
    await a.emit('state:set', { state: 'available' });
    await settled();

    const first = a.nextOffer(3000);
    const c1 = await customer('triggers-a', 'first');
    const o1 = await first;
    expect(o1.interaction.id).toBe(c1.session.interactionId);
    expect(await a.emit('offer:accept', { offerId: o1.offerId })).toMatchObject({ ok: true });
    await settled();

    // The agent is full. The last pass offered in this queue, so the second contact's pass runs
    // without the check; it offers nothing, and the queue loses that presumption…
    const before = counts();
    const c2 = await customer('triggers-a', 'second');
    await settled();
    expect(counts()).toEqual({ ...before, passes: before.passes + 1, presumed: before.presumed + 1 });
    // …so a third contact is checked first, and no pass runs for it.
    await customer('triggers-a', 'third');
    await settled();
    expect(counts()).toEqual({ ...before, passes: before.passes + 1, presumed: before.presumed + 1, skipped: before.skipped + 1 });
    expect(a.offers).toHaveLength(1);

    // The wrap-up frees the slot: the waiting contact is offered at once (the sweep is an hour away).
    const second = a.nextOffer(3000);
    await finish(a, c1.session.interactionId);
    expect((await second).interaction.id).toBe(c2.session.interactionId);
  });

  it('runs no pass when a wrap-up frees an agent with nothing waiting in their queues', async () => {
    const q = await createQueue(t, { name: 'triggers-b' });
    const other = await createQueue(t, { name: 'triggers-b-other' });
    await chatEntry(t, 'triggers-b', q);
    await chatEntry(t, 'triggers-b-other', other);
    const a = await agent(q);
    await a.emit('state:set', { state: 'available' });
    const offered = a.nextOffer(3000);
    const c = await customer('triggers-b', 'hello');
    const o = await offered;
    await a.emit('offer:accept', { offerId: o.offerId });
    // Work waits elsewhere, in a queue this agent is not in.
    await customer('triggers-b-other', 'not for a');
    await settled();

    const before = counts();
    await finish(a, c.session.interactionId);
    await settled();
    expect(counts().passes).toBe(before.passes);
    expect(counts().skipped).toBe(before.skipped + 1);
    expect(a.offers).toHaveLength(1);
  });

  it('checks new work against the free agents of its own queue and channel, and sees a queue joined at once', async () => {
    // The check for new work reads the free-agent view: an agent free on another channel, or free
    // in another queue, runs no pass; an agent added to the queue (a profile change) does.
    const q = await createQueue(t, { name: 'triggers-e' });
    const elsewhere = await createQueue(t, { name: 'triggers-e-other' });
    await chatEntry(t, 'triggers-e', q);
    const smsOnly = await createAgent(t, [q], { capacity: { sms: 1, chat: 0 } });
    open.push(smsOnly);
    const other = await agent(elsewhere);
    await Promise.all([smsOnly, other].map((a) => a.emit('state:set', { state: 'available' })));
    await settled();

    const before = counts();
    const c = await customer('triggers-e', 'who takes chat here?');
    await settled();
    expect(counts()).toEqual({ ...before, skipped: before.skipped + 1 });
    expect([...smsOnly.offers, ...other.offers]).toHaveLength(0);

    // The other queue's agent joins this one: the next contact's check sees it, and a pass offers.
    const res = await t.app.inject({ method: 'PATCH', url: `/api/agents/${other.agentId}`, headers: { authorization: `Bearer ${t.adminToken}` }, payload: { queueIds: [elsewhere, q] } });
    expect(res.statusCode).toBe(200);
    const offered = other.nextOffer(3000);
    await customer('triggers-e', 'and now?');
    expect((await offered).interaction.id).toBe(c.session.interactionId);
    // The offer reaches the socket before the pass that made it is counted.
    await settled();
    expect(counts().passes).toBeGreaterThan(before.passes);
  });

  // A pass sends its read of waiting work right behind its read of the free agents' changes, for
  // the queues and channels the agents as it last read them call for, and uses it only when the
  // changes keep the pass inside it: a change that calls for a queue it did not read (an agent
  // added to a queue, which starts no pass of its own) makes it read again, and the offer is the
  // one a pass without the read ahead would make.
  it('uses the read sent ahead when the agents are as last read, and reads again for a queue an agent joined since', async () => {
    // The pass's own reads, as when no message's statement carries them (see the tests below).
    const { ingest } = t.app.services;
    const readsBehind = ingest.readsBehindMessages;
    ingest.readsBehindMessages = null;
    try {
      await readAheadCase();
    } finally {
      ingest.readsBehindMessages = readsBehind;
    }
  });
  const readAheadCase = async () => {
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
    await offeredTo(a, 'ahead-first', 'one');
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
  };

  /** A chat queue under `widget` with two agents, `older` available first (the longer idle). */
  const twoAvailable = async (widget: string) => {
    const q = await createQueue(t, { name: widget });
    await chatEntry(t, widget, q);
    const older = await agent(q);
    const newer = await agent(q);
    for (const a of [older, newer]) {
      expect(await a.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
      await settled();
    }
    return { older, newer };
  };

  // A message that may open a conversation carries, right behind its statement on the same
  // connection, the claim a pass would make of its new contact (planned from the free agents and
  // entry points the router holds, made only if they still hold), then the first reads of the
  // pass it calls for; Postgres runs them after the statement's commit. The pass then has nothing
  // left to do.
  it('claims a new contact ahead of its pass, in its message\'s write, for the agent a pass of its own would choose', async () => {
    const { older, newer } = await twoAvailable('behind-a');

    // Longest idle: the agent available first.
    let before = reads();
    await offeredTo(older, 'behind-a', 'hello');
    await settled();
    expect(reads()).toEqual({ ...before, claimedAhead: before.claimedAhead + 1 });
    expect(await older.emit('offer:accept', { offerId: older.offers[0]!.offerId })).toMatchObject({ ok: true });
    await settled();

    // The accept moved an agent: the router read the free agents again while idle, so the next
    // contact is claimed ahead too, for the one agent free.
    before = reads();
    await offeredTo(newer, 'behind-a', 'hello again');
    await settled();
    expect(reads()).toEqual({ ...before, claimedAhead: before.claimedAhead + 1 });
    expect(older.offers).toHaveLength(1);
    const { db } = t.app.services;
    const made = await db.query<{ explanation: { strategy: string; eligibleAgents: number } }>('SELECT explanation FROM offers WHERE id = $1', [newer.offers[0]!.offerId]);
    expect(made.rows[0]!.explanation).toMatchObject({ strategy: 'longest-idle', eligibleAgents: 1 });
  });

  // When what a claim ahead was planned from no longer holds in Postgres, it writes nothing, and
  // the pass plans from the reads sent behind it (the agent changes they bring, the waiting work).
  it('refuses a claim ahead planned from an agent changed behind the router\'s back, and the pass offers to the agent that is longest idle now', async () => {
    const { older, newer } = await twoAvailable('behind-stale');
    const { db } = t.app.services;
    // Another process made `newer` the longer idle (no trigger here: the router does not know).
    await db.query("UPDATE agents SET last_idle_at = now() - interval '1 hour' WHERE id = $1", [newer.agentId]);
    const before = reads();
    await offeredTo(newer, 'behind-stale', 'hello');
    await settled();
    expect(reads()).toEqual({ ...before, aheadRefused: before.aheadRefused + 1, behind: before.behind + 1 });
    expect(older.offers).toHaveLength(0);
  });

  it('refuses a claim ahead while something else waits in the agent\'s queues on its free channel, and the pass offers the contact waiting longest first', async () => {
    const q = await createQueue(t, { name: 'behind-other' });
    const expert = await createQueue(t, { name: 'behind-expert', skills: { french: 3 } });
    await chatEntry(t, 'behind-other', q);
    await chatEntry(t, 'behind-expert', expert);
    const a = await createAgent(t, [q, expert], { capacity: { chat: 2 }, skills: { french: 1 }, wrapupSeconds: 600 });
    open.push(a);
    expect(await a.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    await settled();
    // Waits in a queue of the agent's that asks for more than the agent has: nobody takes it.
    await customer('behind-expert', 'bonjour');
    await settled();
    expect(a.offers).toHaveLength(0);
    const before = reads();
    await offeredTo(a, 'behind-other', 'hello');
    await settled();
    expect(reads()).toEqual({ ...before, aheadRefused: before.aheadRefused + 1, behind: before.behind + 1 });
    expect(a.offers).toHaveLength(1);
  });

  it('refuses a claim ahead for an entry point repointed since the router read it, and the pass offers in the queue the contact waits in', async () => {
    const first = await createQueue(t, { name: 'behind-moved-1' });
    const second = await createQueue(t, { name: 'behind-moved-2' });
    await chatEntry(t, 'behind-moved', first);
    const a = await agent(first);
    const b = await agent(second);
    for (const x of [a, b]) {
      expect(await x.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
      await settled();
    }
    // Repointed with no agent change: the router still holds the entry point's old queue.
    await chatEntry(t, 'behind-moved', second);
    const before = reads();
    const c = await offeredTo(b, 'behind-moved', 'hello');
    await settled();
    expect(reads()).toEqual({ ...before, aheadRefused: before.aheadRefused + 1, behind: before.behind + 1 });
    expect(a.offers).toHaveLength(0);
    const queued = await t.app.services.db.query<{ queue_id: string }>('SELECT queue_id FROM interactions WHERE id = $1', [c.session.interactionId]);
    expect(queued.rows[0]!.queue_id).toBe(second);
  });

  // That message's statement commits without waiting for the WAL: its contact is announced (the
  // pass triggered) as soon as the statement is answered, and published (the agents' and the
  // visitor's sockets told, the visitor's ack sent) once a flush sent behind the reads is answered.
  // One trigger, one pass.
  it('triggers a new contact\'s pass once its message is visible, publishes it once durable, and runs one pass for it', async () => {
    const { older } = await twoAvailable('visible-a');
    const { ingest, publisher } = t.app.services;
    // The message's own events (the pass's offer has its own, in its own order).
    const seen: string[] = [];
    const mine = ['interaction.queued', 'message.received'];
    publisher.onVisible((e) => mine.includes(e.type) && seen.push(`visible ${e.type}`));
    publisher.on((e) => {
      if (mine.includes(e.type)) seen.push(`published ${e.type}`);
    });
    const before = { counts: counts(), reads: reads(), announced: ingest.announcedBeforeFlush };
    await offeredTo(older, 'visible-a', 'hello');
    await settled();
    expect(seen).toEqual(['visible interaction.queued', 'visible message.received', 'published interaction.queued', 'published message.received']);
    expect(ingest.announcedBeforeFlush).toBe(before.announced + 1);
    expect(reads()).toEqual({ ...before.reads, claimedAhead: before.reads.claimedAhead + 1 });
    const { passes, skipped } = counts();
    expect(passes + skipped).toBe(before.counts.passes + before.counts.skipped + 1);
  });

  // Once idle after agents changed, the router reads the free agents' changes and prepares the
  // walk and planning index; the reads behind the next message then bring nothing new, and its
  // pass plans from what was prepared, in longest-idle order without a walk over every agent.
  // (Here the claims ahead of the passes are refused, the routing lock held a moment elsewhere,
  // so the passes plan from the reads behind.)
  it('prepares the next pass while idle after agents change, and plans a new contact from what it prepared', async () => {
    const { older, newer } = await twoAvailable('prepared-a');
    const { router, db } = t.app.services;
    const before = { ...router.prepared };
    const offeredHeld = async (a: AgentClient, text: string) => {
      const lock = await db.connect();
      try {
        await lock.query('BEGIN');
        await lock.query('SELECT pg_advisory_xact_lock($1)', [ROUTER_LOCK_KEY]);
        const offered = a.nextOffer(3000);
        const c = await customer('prepared-a', text);
        await sleep(100);
        await lock.query('COMMIT');
        expect((await offered).interaction.id).toBe(c.session.interactionId);
        return c;
      } finally {
        lock.release();
      }
    };
    const refused = reads().aheadRefused;
    const c1 = await offeredHeld(older, 'hello');

    // The agent who took it changes: it accepts, ends and wraps up (free again, now the newest idle).
    expect(await older.emit('offer:accept', { offerId: older.offers[0]!.offerId })).toMatchObject({ ok: true });
    await finish(older, c1.session.interactionId!);
    await settled();
    await offeredHeld(newer, 'hello again');

    expect(router.prepared).toEqual({ used: before.used + 2, missed: before.missed });
    expect(reads().aheadRefused).toBe(refused + 2);
    expect(older.offers).toHaveLength(1);
  });

  // Such a pass planned outside the routing lock: should another process change an agent between
  // its reads and its claims (here a write made while the test holds the lock), the claim is
  // refused, and a full pass under the lock offers the contact to whoever can take it.
  it('follows a claim refused after the reads behind a message with a full pass, which offers the contact elsewhere', async () => {
    const { older, newer } = await twoAvailable('behind-c');
    const { router, db } = t.app.services;
    // A pass with nothing waiting: the router now holds both agents as free.
    await router.pass();
    const lock = await db.connect();
    const before = reads();
    const offered = newer.nextOffer(5000);
    let c: Awaited<ReturnType<typeof customer>>;
    try {
      await lock.query('BEGIN');
      await lock.query('SELECT pg_advisory_xact_lock($1)', [ROUTER_LOCK_KEY]);
      c = await customer('behind-c', 'hello');
      // The pass, planned for the longest idle agent from the reads behind the message, waits for the lock.
      await waitFor(async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rows[0]!.n > 0, 5000, 'the pass to wait for the routing lock');
      expect(reads().behind).toBe(before.behind + 1);
      await db.query("UPDATE agents SET state = 'away' WHERE id = $1", [older.agentId]);
    } finally {
      await lock.query('COMMIT');
      lock.release();
    }
    expect((await offered).interaction.id).toBe(c.session.interactionId);
    await settled();
    expect(older.offers).toHaveLength(0);
  });

  it('does not plan from reads behind a message that did not see the contact it names: the pass reads for itself', async () => {
    const q = await createQueue(t, { name: 'behind-b' });
    await chatEntry(t, 'behind-b', q);
    const a = await agent(q);
    expect(await a.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    await settled();
    const { ingest, router, db } = t.app.services;
    const c = await chatClient(t.url, { widget: 'behind-b' });
    open.push(c);
    // Reads sent for this contact's id before its message is stored: they cannot have seen it.
    const sent = router.readBehind(db, [c.session.interactionId]);
    expect(sent).not.toBeNull();
    await sent;
    const readsBehind = ingest.readsBehindMessages;
    ingest.readsBehindMessages = null;
    try {
      const before = reads();
      const offered = a.nextOffer(3000);
      expect((await c.send('m-unseen', 'hello')).ok).toBe(true);
      expect((await offered).interaction.id).toBe(c.session.interactionId);
      await settled();
      expect(reads().behind).toBe(before.behind);
    } finally {
      ingest.readsBehindMessages = readsBehind;
    }
  });

  // An agent's change to available carries, right behind its COMMIT, the first reads of the pass
  // it calls for: that pass runs without a check and sends only its claims. (Only for an agent
  // whose profile the router holds: one it has seen free before.)
  /** An agent of `q` the router has seen free (so it holds the agent's profile), away now. */
  const known = async (queues: string | string[], capacity: Record<string, number> = { chat: 1 }) => {
    const a = await createAgent(t, typeof queues === 'string' ? [queues] : queues, { capacity, wrapupSeconds: 600 });
    open.push(a);
    expect(await a.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    await settled();
    expect(await a.emit('state:set', { state: 'away', reason: 'not yet' })).toMatchObject({ ok: true });
    await settled();
    return a;
  };
  /** A chat queue under `widget` with one agent the router knows (away), and customers waiting there with these first messages, oldest first. */
  const knownAgentAndWaiting = async (widget: string, texts: string[], capacity?: Record<string, number>) => {
    const q = await createQueue(t, { name: widget });
    await chatEntry(t, widget, q);
    const a = await known(q, capacity);
    const waiting = [];
    for (const text of texts) waiting.push(await customer(widget, text));
    await settled();
    return { q, a, waiting };
  };

  it('plans the pass of an agent gone available from the reads sent behind its COMMIT, with no check: the head of its queue is offered', async () => {
    const { q, a, waiting: [first] } = await knownAgentAndWaiting('freed-a', ['waiting longest', 'waiting too']);
    const before = { counts: counts(), reads: reads() };
    const offered = a.nextOffer(3000);
    expect(await a.emit('state:set', { state: 'available' })).toMatchObject({ ok: true, state: 'available' });
    expect((await offered).interaction.id).toBe(first!.session.interactionId);
    await settled();
    expect(reads()).toEqual({ ...before.reads, behindAvailable: before.reads.behindAvailable + 1 });
    expect(counts()).toEqual({ ...before.counts, passes: before.counts.passes + 1, offering: before.counts.offering + 1 });
    expect(a.offers).toHaveLength(1);

    // Another agent of the queue, without chat slots, goes available with nothing it can take:
    // planned from the reads behind its COMMIT too, and nothing is offered.
    const b = await known(q, { chat: 0 });
    const again = { counts: counts(), reads: reads() };
    expect(await b.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    await settled();
    expect(reads()).toEqual({ ...again.reads, behindAvailable: again.reads.behindAvailable + 1 });
    expect(counts()).toEqual({ ...again.counts, passes: again.counts.passes + 1 });
    expect(b.offers).toHaveLength(0);
  });

  it('drops the reads behind a change to available that did not commit: a later change of that agent, which sent none, is planned afresh and offered', async () => {
    const { a, waiting: [first] } = await knownAgentAndWaiting('freed-failed', ['waiting']);
    const { db, router, agentState } = t.app.services;
    // The change's log line is refused, so its COMMIT keeps nothing; the reads behind it still
    // run after it, and see the agent away.
    await db.query(`CREATE FUNCTION refuse_state_log() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.reason = 'refused-by-test' THEN RAISE EXCEPTION 'state change refused by the test'; END IF; RETURN NEW; END $$`);
    await db.query('CREATE TRIGGER refuse_state_log BEFORE INSERT ON agent_state_log FOR EACH ROW EXECUTE FUNCTION refuse_state_log()');
    try {
      await expect(agentState.set(a.agentId, 'available', 'refused-by-test', 'test')).rejects.toThrow('state change refused by the test');
    } finally {
      await db.query('DROP TRIGGER refuse_state_log ON agent_state_log; DROP FUNCTION refuse_state_log()');
    }
    expect((await db.query<{ state: string }>('SELECT state FROM agents WHERE id = $1', [a.agentId])).rows[0]!.state).toBe('away');
    // A second change of the agent to available, made while those reads were on their way,
    // would have sent none (one set of reads at a time) and triggered its pass with only its
    // name: as here. That pass must not plan from the failed change's reads.
    const before = { counts: counts(), reads: reads() };
    const offered = a.nextOffer(3000);
    expect(await changeAgentState(db, { agentId: a.agentId, state: 'available', reason: null, logReason: null, actor: 'test' })).toEqual({ found: true, changed: true });
    router.trigger({ agentId: a.agentId });
    expect((await offered).interaction.id).toBe(first!.session.interactionId);
    await settled();
    expect(reads().behindAvailable).toBe(before.reads.behindAvailable);
    expect(counts()).toMatchObject({ passes: before.counts.passes + 1, offering: before.counts.offering + 1 });
  });

  it('counts in /metrics what came of each trigger and how each pass read the waiting work, as the router does', async () => {
    const { a } = await knownAgentAndWaiting('metrics-a', ['waiting']);
    const offered = a.nextOffer(3000);
    expect(await a.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    await offered;
    await settled();
    const text = await fetch(`${t.url}/metrics`).then((r) => r.text());
    const metric = (name: string, labels: string) => Number(new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    const c = counts();
    const w = reads();
    expect({
      offered: metric('switchboard_routing_triggers_total', 'outcome="offered"'),
      nothingOffered: metric('switchboard_routing_triggers_total', 'outcome="nothing_offered"'),
      skipped: metric('switchboard_routing_triggers_total', 'outcome="skipped"'),
    }).toEqual({ offered: c.offering, nothingOffered: c.passes - c.offering, skipped: c.skipped });
    expect({
      ahead: metric('switchboard_routing_waiting_reads_total', 'how="ahead"'),
      missed: metric('switchboard_routing_waiting_reads_total', 'how="missed"'),
      plain: metric('switchboard_routing_waiting_reads_total', 'how="plain"'),
      behind: metric('switchboard_routing_waiting_reads_total', 'how="behind_message"'),
      behindAvailable: metric('switchboard_routing_waiting_reads_total', 'how="behind_available"'),
      claimedAhead: metric('switchboard_routing_waiting_reads_total', 'how="claimed_ahead"'),
      aheadRefused: metric('switchboard_routing_waiting_reads_total', 'how="ahead_refused"'),
    }).toEqual(w);
    expect(w.claimedAhead).toBeGreaterThan(0);
    expect(w.behindAvailable).toBeGreaterThan(0);
    expect(c.offering).toBeGreaterThan(0);
  });

  it('runs no pass of its own for an agent gone available without a free slot, as the reads behind its COMMIT show it', async () => {
    const { a } = await knownAgentAndWaiting('freed-c', [], { chat: 1, voice: 0, sms: 0, email: 0 });
    expect(await a.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    await settled();
    await offeredTo(a, 'freed-c', 'first');
    expect(await a.emit('offer:accept', { offerId: a.offers[0]!.offerId })).toMatchObject({ ok: true });
    expect(await a.emit('state:set', { state: 'away', reason: 'a call' })).toMatchObject({ ok: true });
    await customer('freed-c', 'waiting');
    await settled();
    // Back, with its one chat slot still taken: nothing to offer, and no pass takes the lock
    // (the router goes idle while another holds it) or reads again.
    const before = reads();
    const { router } = t.app.services;
    const set = await behindTheLock(() => a.emit('state:set', { state: 'available' }), async () => {
      await waitFor(() => reads().behindAvailable === before.behindAvailable + 1, 5000, 'the reads behind the COMMIT');
      const idle = await Promise.race([router.idle().then(() => true), sleep(1000).then(() => false)]);
      expect(idle).toBe(true);
    });
    expect(set).toMatchObject({ ok: true, state: 'available' });
    await settled();
    expect(reads()).toEqual({ ...before, behindAvailable: before.behindAvailable + 1 });
    expect(a.offers).toHaveLength(1);
  });

  /**
   * Run `change` (a write that takes the routing lock, as an agent's change of state does) while
   * the lock is held, with a second holder queued behind it: once the first lets go, the change
   * commits and the second holds the lock, so whatever the router does next with the lock waits.
   * `meanwhile` runs while the second holder has it; then it lets go. The change's result.
   */
  const behindTheLock = async (change: () => Promise<unknown>, meanwhile: (db: PoolClient) => Promise<void>) => {
    const { db } = t.app.services;
    const waiters = async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rows[0]!.n;
    const holder = await db.connect();
    const after = await db.connect();
    let changed: Promise<unknown> | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [ROUTER_LOCK_KEY]);
      changed = change();
      await waitFor(async () => (await waiters()) === 1, 5000, 'the change to wait for the routing lock');
      await after.query('BEGIN');
      const locked = after.query('SELECT pg_advisory_xact_lock($1)', [ROUTER_LOCK_KEY]);
      await waitFor(async () => (await waiters()) === 2, 5000, 'the second holder to queue behind the change');
      await holder.query('COMMIT');
      await locked;
      await meanwhile(after);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await after.query('COMMIT');
      holder.release();
      after.release();
    }
    return changed;
  };

  it('follows a claim refused after the reads behind an agent\'s COMMIT with a full pass, which offers the next contact', async () => {
    const { a, waiting: [gone, next] } = await knownAgentAndWaiting('freed-b', ['waiting longest', 'waiting next']);
    const { db } = t.app.services;
    const before = reads();
    const offered = a.nextOffer(5000);
    const set = await behindTheLock(() => a.emit('state:set', { state: 'available' }), async (holder) => {
      // The pass the reads behind the change's COMMIT planned for the longest-waiting contact
      // waits for the lock; meanwhile that contact is gone, so its claim is refused.
      await waitFor(async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rows[0]!.n === 1 && reads().behindAvailable === before.behindAvailable + 1, 5000, 'the pass planned behind the COMMIT to wait for the lock');
      await holder.query("UPDATE interactions SET state = 'closed', outcome = 'abandoned', closed_at = clock_timestamp() WHERE id = $1", [gone!.session.interactionId]);
    });
    expect(set).toMatchObject({ ok: true });
    expect((await offered).interaction.id).toBe(next!.session.interactionId);
    await settled();
    expect(a.offers).toHaveLength(1);
  });

  it('offers waiting work the moment an agent becomes available', async () => {
    const q = await createQueue(t, { name: 'triggers-c' });
    await chatEntry(t, 'triggers-c', q);
    const c = await customer('triggers-c', 'anyone there?');
    const a = await agent(q);
    await settled();
    expect(a.offers).toHaveLength(0);
    const offered = a.nextOffer(3000);
    await a.emit('state:set', { state: 'available' });
    expect((await offered).interaction.id).toBe(c.session.interactionId);
  });

  /** Twelve agents: four of `qa`, four of `qb`, four of both (`agentOf` makes each). */
  const twelveAgents = async (agentOf: (...queueIds: string[]) => Promise<AgentClient>, qa: string, qb: string) => [
    ...(await Promise.all([0, 1, 2, 3].map(() => agentOf(qa)))),
    ...(await Promise.all([0, 1, 2, 3].map(() => agentOf(qb)))),
    ...(await Promise.all([0, 1, 2, 3].map(() => agentOf(qa, qb)))),
  ];
  /**
   * Three rounds: twelve agents of two queues (`prepare`, given the queues, says which for each
   * round) become available while twelve contacts arrive, all at once; then no contact may wait
   * while an agent of its queue has a free slot, and each is offered once. `prefix` names the
   * queues and widgets. `lead`: the round's first agent goes first, and the rest of the round
   * starts once `lead` resolves (with that agent's change, which may still be under way).
   */
  const strandingRounds = async (prefix: string, prepare: (qa: string, qb: string) => Promise<(round: number) => Promise<AgentClient[]>>, lead?: (first: AgentClient) => Promise<{ change: Promise<unknown> }>) => {
    const qa = await createQueue(t, { name: `${prefix}-a` });
    const qb = await createQueue(t, { name: `${prefix}-b` });
    await chatEntry(t, `${prefix}-a`, qa);
    await chatEntry(t, `${prefix}-b`, qb);
    const db = t.app.services.db;
    const stranded = async () =>
      (await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM interactions w
          WHERE w.state = 'queued' AND w.queue_id = ANY($1::uuid[])
            AND EXISTS (SELECT 1 FROM agent_queues aq JOIN agents a ON a.id = aq.agent_id
                         WHERE aq.queue_id = w.queue_id AND a.state = 'available'
                           AND (SELECT count(*) FROM interactions x WHERE x.agent_id = a.id AND x.channel = 'chat' AND x.state IN ('offered','active','wrapup')) < 1)`,
        [[qa, qb]],
      )).rows[0]!.n;
    const agentsFor = await prepare(qa, qb);
    for (let round = 0; round < 3; round++) {
      const agents = await agentsFor(round);
      await settled();
      const arrivals = Array.from({ length: 12 }, (_, n) => () => customer(n % 2 ? `${prefix}-a` : `${prefix}-b`, `round ${round} contact ${n}`));
      const availability = agents.map((a) => () => a.emit('state:set', { state: 'available' }));
      const leading = lead ? await lead(agents[0]!) : undefined;
      const all = arrivals.flatMap((arrive, n) => (n === 0 && lead ? [arrive] : [arrive, availability[n]!]));
      await Promise.all([leading?.change, ...all.map((go) => go())]);
      await settled();
      await sleep(300);
      await t.app.services.router.idle();
      expect(await stranded()).toBe(0);
      const offers = agents.flatMap((a) => a.offers);
      expect(new Set(offers.map((o) => o.interaction.id)).size).toBe(offers.length); // each offered once
      expect(offers.length).toBeGreaterThanOrEqual(8);
      // Everyone goes offline again: their offers go back to the queues, and are not offered on (nobody is free).
      await Promise.all(agents.map((a) => a.emit('state:set', { state: 'offline' })));
    }
  };

  it('leaves nothing stranded when agents become available while contacts arrive, all at once (passes read only what their triggers name)', async () => {
    // With the sweep an hour away, only triggers route. A pass for a freed agent reads that
    // agent; a pass for new work reads the agents of its queue. Of two changes committed at
    // once, at least one trigger's pass must see both, so no contact may be left waiting while
    // an agent of its queue has a free slot.
    await strandingRounds('triggers-d', async (qa, qb) => () => twelveAgents(agent, qa, qb));
  });

  it('leaves nothing stranded when agents the router knows become available while contacts arrive (their passes planned from the reads behind their COMMIT)', async () => {
    // The same with agents seen free before (all of them, before any contact waits): reads
    // behind a change to available are made after its commit, so a contact queued before them is
    // in them, and one queued after them has a pass of its own that sees the agent free.
    // Each round's first agent goes while the router is idle, so the reads behind its COMMIT are
    // sent and its pass plans from them (from round 1 on, the contacts the last round's agents
    // left are waiting: it takes the head); the rest of the round starts once that pass has
    // planned, while its claim may still be on the way. (In a burst, which agent's reads are sent
    // and whose trigger comes first is the machine's to decide: another pass may take them.)
    await strandingRounds(
      'triggers-e',
      async (qa, qb) => {
        const rounds: AgentClient[][] = [];
        for (let round = 0; round < 3; round++) rounds.push(await twelveAgents((...queueIds) => known(queueIds), qa, qb));
        return async (round) => rounds[round]!;
      },
      async (first) => {
        const before = reads().behindAvailable;
        const change = first.emit('state:set', { state: 'available' });
        await waitFor(() => reads().behindAvailable === before + 1, 5000, 'the first agent\'s pass planned from the reads behind its COMMIT');
        return { change };
      },
    );
  });
});
