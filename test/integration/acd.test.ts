import { bearer, chatClient, startApp, waitFor, type TestApp } from '../support/app';
import { agentClient, chatEntry, createAgent, createQueue, type AgentClient } from '../support/agent';
import { randomUUID } from 'node:crypto';
import { PASS_LIMIT } from '../../src/routing/pass-reads';
import { createOffer } from '../../src/routing/offers.repository';
import { withTransaction, type Queryable } from '../../src/platform/db';
import { loadWaiting } from '../../src/routing/routing.repository';

/** A chat customer in `widget` who has sent one message. */
async function customer(t: TestApp, widget: string, text = 'hello') {
  const c = await chatClient(t.url, { widget });
  const ack = await c.send(`first-${Math.random()}`, text);
  expect(ack.ok).toBe(true);
  return c;
}

describe('ACD: offers, accept, work, wrap-up', () => {
  let t: TestApp;
  const cleanup: Array<{ close(): void }> = [];
  beforeAll(async () => {
    t = await startApp({ OFFER_TIMEOUT_SECONDS: '2', AGENT_GRACE_SECONDS: '1', ROUTER_SWEEP_MS: '200' });
  });
  afterEach(() => {
    cleanup.splice(0).forEach((c) => c.close());
  });
  afterAll(async () => {
    await t.close();
  });
  const track = <T extends { close(): void }>(c: T): T => {
    cleanup.push(c);
    return c;
  };
  const db = () => t.app.services.db;
  const interaction = async (id: string) => (await db().query('SELECT * FROM interactions WHERE id = $1', [id])).rows[0];
  const historyTypes = async (id: string) => (await db().query('SELECT type FROM events WHERE interaction_id = $1 ORDER BY seq', [id])).rows.map((r) => r.type);
  const available = async (a: AgentClient) => expect(await a.emit('state:set', { state: 'available' })).toMatchObject({ ok: true, state: 'available' });

  it('offers a chat with a screen pop across channels; accept, reply, end, wrap-up free the slot', async () => {
    const q = await createQueue(t, { name: 'flow', script: 'Ask for the order number.' });
    await chatEntry(t, 'flow', q);
    const agent = track(await createAgent(t, [q], { capacity: { chat: 1 } }));

    // The customer wrote by SMS before: the screen pop shows it.
    const earlier = await t.app.services.ingest.ingest({
      idempotencyKey: 'earlier-sms', type: 'message.received', channel: 'sms', direction: 'in', occurredAt: new Date(Date.now() - 60000),
      payload: { text: 'my parcel is late', from: 'customer' }, customer: { identity: { kind: 'phone', value: '+14155550111' } },
      interaction: { kind: 'none' },
    });
    const c = track(await chatClient(t.url, { widget: 'flow' }));
    await c.send('m1', 'where is my parcel?');
    const merged = await t.app.inject({ method: 'POST', url: `/api/customers/${earlier.customerId}/merge`, headers: bearer(t.adminToken), payload: { sourceId: c.session.customerId } });
    expect(merged.statusCode).toBe(200);
    const offered = agent.nextOffer();
    await available(agent);
    const offer = await offered;
    expect(offer).toMatchObject({
      interaction: { id: c.session.interactionId, channel: 'chat', queueId: q, preview: 'where is my parcel?' },
      customer: { id: earlier.customerId, identities: expect.arrayContaining([{ kind: 'phone', value: '+14155550111' }]) },
      script: 'Ask for the order number.',
    });
    expect(offer.customer.recentHistory.map((h) => h.text)).toContain('my parcel is late');
    // The pop is read while the offer's transaction is still open; its own event is put in place.
    expect(offer.customer.recentHistory[0]).toMatchObject({ type: 'offer.created', interactionId: c.session.interactionId, data: { offerId: offer.offerId } });
    expect(new Date(offer.expiresAt).getTime()).toBeGreaterThan(Date.now());
    // The offer's event, appended from the claim's own row, goes to the customer the chat's one was merged into.
    const created = await db().query("SELECT customer_id, payload FROM events WHERE interaction_id = $1 AND type = 'offer.created'", [c.session.interactionId]);
    expect(created.rows).toEqual([{ customer_id: earlier.customerId, payload: expect.objectContaining({ offerId: offer.offerId, agentId: agent.agentId }) }]);

    // The agent has the console open in a second tab too: it learns the offer was taken.
    const tab2 = track(await agentClient(t.url, agent.token, agent.agentId));
    const tab2States: Array<{ interactionId: string; state: string }> = [];
    tab2.socket.on('interaction:state', (e: { interactionId: string; state: string }) => tab2States.push(e));
    const accepted = await agent.emit('offer:accept', { offerId: offer.offerId });
    expect(accepted).toMatchObject({ ok: true, interaction: { id: c.session.interactionId, state: 'active', agentId: agent.agentId } });
    await waitFor(() => tab2States.some((e) => e.interactionId === c.session.interactionId && e.state === 'active'), 5000, 'the second tab told');
    const again = await agent.emit('offer:accept', { offerId: offer.offerId });
    expect(again).toMatchObject({ ok: false, error: { code: 'SB_OFFER_TAKEN' } });

    // Conversation both ways.
    const reply = await agent.emit('interaction:reply', { interactionId: c.session.interactionId, clientMessageId: 'r1', text: 'Let me check.' });
    expect(reply).toMatchObject({ ok: true, duplicate: false });
    expect(await agent.emit('interaction:reply', { interactionId: c.session.interactionId, clientMessageId: 'r1', text: 'Let me check.' })).toMatchObject({ ok: true, duplicate: true });
    await waitFor(() => c.messages.some((m) => m.from === 'agent' && m.text === 'Let me check.'), 5000, 'reply at the customer');
    await c.send('m2', 'thanks');
    await waitFor(() => agent.messages.some((m) => m.text === 'thanks'), 5000, 'customer message at the agent');

    // The routing explanation is on the interaction.
    const detail = await t.app.inject({ method: 'GET', url: `/api/interactions/${c.session.interactionId}`, headers: bearer(t.adminToken) });
    expect(detail.json().routing).toMatchObject({ strategy: 'longest-idle', reason: expect.stringContaining('longest idle'), eligibleAgents: 1 });

    // Full: a second chat waits while the agent's one chat slot is taken.
    const second = track(await customer(t, 'flow', 'second customer'));
    await new Promise((r) => setTimeout(r, 500));
    expect((await interaction(second.session.interactionId)).state).toBe('queued');

    const ended = new Promise((r) => c.socket.once('ended', r));
    expect(await agent.emit('interaction:end', { interactionId: c.session.interactionId })).toMatchObject({ ok: true, state: 'wrapup' });
    await ended;
    expect((await interaction(second.session.interactionId)).state).toBe('queued'); // wrap-up still holds the slot
    const next = agent.nextOffer();
    expect(await agent.emit('interaction:wrapup', { interactionId: c.session.interactionId, disposition: 'resolved', notes: 'refund issued' })).toMatchObject({ ok: true, state: 'closed' });
    expect((await next).interaction.id).toBe(second.session.interactionId);

    const row = await interaction(c.session.interactionId);
    expect(row).toMatchObject({ state: 'closed', outcome: 'handled', disposition: 'resolved' });
    expect(await historyTypes(c.session.interactionId)).toEqual([
      'interaction.queued', 'message.received', 'offer.created', 'offer.accepted', 'message.sent', 'message.received',
      'interaction.ended', 'interaction.wrappedup', 'interaction.closed',
    ]);
    // The offer's event took its sequence number in the claim's own update: no gap, none twice.
    const seqs = (await db().query('SELECT seq FROM events WHERE interaction_id = $1 ORDER BY seq', [c.session.interactionId])).rows.map((r) => r.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(row.last_seq).toBe(seqs.length);
    // After the agent ended it, the customer's next message is a new conversation.
    const after = await c.send('m3', 'one more thing');
    expect(after).toMatchObject({ ok: true, duplicate: false });
    expect(after.interactionId).not.toBe(c.session.interactionId);
    expect((await c.send('m4', 'and another')).interactionId).toBe(after.interactionId);
  });

  it('rejecting sends the interaction to another agent, and rings back to the rejecter only as a last resort', async () => {
    const q = await createQueue(t, { name: 'reject' });
    await chatEntry(t, 'reject', q);
    const a = track(await createAgent(t, [q]));
    await available(a);
    const c = track(await customer(t, 'reject'));
    const first = await a.nextOffer();
    const b = track(await createAgent(t, [q]));
    await available(b);
    const toB = b.nextOffer();
    const reOffer = a.nextOffer(1500).catch(() => null);
    expect(await a.emit('offer:reject', { offerId: first.offerId })).toMatchObject({ ok: true });
    expect((await toB).interaction.id).toBe(c.session.interactionId);
    expect(await reOffer).toBeNull();
    // B rejects too: with nobody fresh left, it goes back to one of them.
    const anyOffer = Promise.race([a.nextOffer(), b.nextOffer()]);
    await b.emit('offer:reject', { offerId: b.offers[0]!.offerId });
    expect((await anyOffer).interaction.id).toBe(c.session.interactionId);
    const offers = (await db().query('SELECT state, decided_reason FROM offers WHERE interaction_id = $1 ORDER BY created_at', [c.session.interactionId])).rows;
    expect(offers.map((o) => o.state)).toEqual(['rejected', 'rejected', 'pending']);
    expect(await historyTypes(c.session.interactionId)).toEqual(expect.arrayContaining(['offer.rejected', 'offer.created']));
  });

  it('ring-no-answer: the offer is revoked on timeout, the agent goes away (no-answer), the work returns to the head of the queue', async () => {
    const q = await createQueue(t, { name: 'rona' });
    await chatEntry(t, 'rona', q);
    const sleepy = track(await createAgent(t, [q]));
    await available(sleepy);
    const c = track(await customer(t, 'rona'));
    const offer = await sleepy.nextOffer();
    const before = await interaction(c.session.interactionId);
    // The younger contact comes well after, so its offer would ring out well after the first
    // one's (of two offers ringing out at once, either may send the agent away first).
    await new Promise((r) => setTimeout(r, 700));
    const younger = track(await customer(t, 'rona', 'I came later'));
    // Rung at the same agent too (three chat slots).
    const youngerOffer = await sleepy.nextOffer();
    expect(youngerOffer.interaction.id).toBe(younger.session.interactionId);
    await waitFor(() => sleepy.revoked.some((r) => r.offerId === offer.offerId), 6000, 'revocation');
    expect(sleepy.revoked.find((r) => r.offerId === offer.offerId)!.reason).toBe('timeout');
    await waitFor(() => sleepy.states.some((s) => s.state === 'away' && s.reason === 'no-answer'), 3000, 'away state');
    // Gone away, the agent no longer holds the younger one either: withdrawn with the first
    // one's timeout, not left ringing until its own.
    await waitFor(() => sleepy.revoked.some((r) => r.offerId === youngerOffer.offerId), 3000, 'the younger offer withdrawn');
    expect(sleepy.revoked.find((r) => r.offerId === youngerOffer.offerId)!.reason).toBe('cancelled');
    expect((await interaction(younger.session.interactionId)).state).toBe('queued');
    const agentRow = (await db().query('SELECT state, state_reason FROM agents WHERE id = $1', [sleepy.agentId])).rows[0];
    expect(agentRow).toEqual({ state: 'away', state_reason: 'no-answer' });
    const after = await interaction(c.session.interactionId);
    expect(after.queued_at).toEqual(before.queued_at); // keeps its age
    expect(after.state).toBe('queued');
    // A fresh agent gets the older interaction first.
    const fresh = track(await createAgent(t, [q], { capacity: { chat: 1 } }));
    const got = fresh.nextOffer();
    await available(fresh);
    expect((await got).interaction.id).toBe(c.session.interactionId);
    expect((await interaction(younger.session.interactionId)).state).toBe('queued');
    expect((await db().query('SELECT state, decided_reason FROM offers WHERE id = $1', [offer.offerId])).rows[0]).toEqual({ state: 'expired', decided_reason: 'no-answer' });
    expect(await historyTypes(c.session.interactionId)).toContain('offer.expired');
    // Accepting too late is refused.
    expect(await sleepy.emit('offer:accept', { offerId: offer.offerId })).toMatchObject({ ok: false, error: { code: 'SB_OFFER_EXPIRED' } });
  });

  it('disconnect grace: after it, pending offers are revoked and open work goes back to routing with its age', async () => {
    const q = await createQueue(t, { name: 'grace' });
    await chatEntry(t, 'grace', q);
    const leaver = await createAgent(t, [q], { capacity: { chat: 2 } });
    await available(leaver);
    const c1 = track(await customer(t, 'grace', 'first'));
    const o1 = await leaver.nextOffer();
    await leaver.emit('offer:accept', { offerId: o1.offerId });
    const c2 = track(await customer(t, 'grace', 'second'));
    await leaver.nextOffer();
    const before = await interaction(c1.session.interactionId);
    leaver.close();
    // Within the grace period nothing changes.
    await new Promise((r) => setTimeout(r, 300));
    expect((await interaction(c1.session.interactionId)).state).toBe('active');
    await waitFor(async () => (await db().query('SELECT state FROM agents WHERE id = $1', [leaver.agentId])).rows[0].state === 'offline', 5000, 'agent offline');
    const i1 = await interaction(c1.session.interactionId);
    expect(i1).toMatchObject({ state: 'queued', agent_id: null });
    expect(i1.queued_at).toEqual(before.queued_at);
    expect((await interaction(c2.session.interactionId)).state).toBe('queued');
    expect(await historyTypes(c1.session.interactionId)).toContain('interaction.requeued');
    expect(await historyTypes(c2.session.interactionId)).toContain('offer.revoked');
    const log = (await db().query('SELECT state, reason, actor FROM agent_state_log WHERE agent_id = $1 ORDER BY id', [leaver.agentId])).rows;
    expect(log.at(-1)).toEqual({ state: 'offline', reason: 'disconnected', actor: 'system' });
    // A successor picks both up.
    const successor = track(await createAgent(t, [q]));
    await available(successor);
    await waitFor(() => successor.offers.length === 2, 5000, 'both re-offered');
  });

  it('a long backlog nobody can take does not hide a contact behind it (more waiting than one pass reads)', async () => {
    const q = await createQueue(t, { name: 'backlog', channels: ['sms', 'chat'] });
    await chatEntry(t, 'backlog', q);
    const smsEntry = await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'sms', address: '+15005550199', queueId: q } });
    expect(smsEntry.statusCode).toBe(201);
    // More texts wait than a routing pass reads per queue and channel; no agent has an SMS slot.
    const texts = PASS_LIMIT + 50;
    for (let k = 0; k < texts; k += 50) {
      await Promise.all(Array.from({ length: Math.min(50, texts - k) }, (_, j) => t.app.services.ingest.ingest({
        idempotencyKey: `backlog-sms-${k + j}`, type: 'message.received', channel: 'sms', direction: 'in', occurredAt: new Date(),
        payload: { text: 'waiting', from: 'customer' }, customer: { identity: { kind: 'phone', value: `+1415555${String(2000 + k + j)}` } },
        interaction: { kind: 'conversation', key: `sms:backlog:${k + j}`, open: { direction: 'in', entryAddress: '+15005550199' } },
      })));
    }
    const a = track(await createAgent(t, [q], { capacity: { sms: 0, chat: 1 } }));
    await available(a);
    const c = track(await customer(t, 'backlog', 'behind the texts'));
    const o = await a.nextOffer();
    expect(o.interaction).toMatchObject({ id: c.session.interactionId, channel: 'chat' });
  });

  it('reads who declined a waiting contact without walking every offer it was ever made', async () => {
    const q = await createQueue(t, { name: 'withdrawn-often' });
    await chatEntry(t, 'withdrawn-often', q);
    const [a, b] = [track(await createAgent(t, [q])), track(await createAgent(t, [q]))];
    const c = track(await customer(t, 'withdrawn-often'));
    // 3,000 offers withdrawn (an agent going away each time), one rejected by b.
    await db().query(
      `INSERT INTO offers (id, interaction_id, agent_id, queue_id, channel, state, explanation, queued_at, expires_at, decided_at, decided_reason)
       SELECT gen_random_uuid(), $1, CASE WHEN n = 0 THEN $3::uuid ELSE $2::uuid END, $4, 'chat', CASE WHEN n = 0 THEN 'rejected' ELSE 'revoked' END, '{}',
              clock_timestamp(), clock_timestamp(), clock_timestamp(), CASE WHEN n = 0 THEN 'agent-rejected' ELSE 'cancelled' END
         FROM generate_series(0, 3000) AS n`,
      [c.session.interactionId, a.agentId, b.agentId, q],
    );
    await db().query('ANALYZE offers');
    // The router's own statement, as it sends it.
    let sent: { text: string; values: unknown[] } | undefined;
    const capture = { query: async (config: { text: string; values: unknown[] }) => ((sent = config), { rows: [] }) } as unknown as Queryable;
    await loadWaiting(capture, [q], ['chat'], 5);
    const plan = JSON.stringify((await db().query(`EXPLAIN (FORMAT JSON) ${sent!.text}`, sent!.values)).rows[0]);
    expect(plan).toContain('offers_declined_idx');
    expect(plan).not.toContain('offers_interaction_idx');
    const { waiting } = await loadWaiting(db(), [q], ['chat'], 5);
    expect(waiting.find((w) => w.id === c.session.interactionId)?.declinedBy).toEqual([b.agentId]);
  });

  it('a pass for one free slot reads the head of the queue, and reads on when skills pass over all of it', async () => {
    // A freed agent with one slot first reads only the best few contacts of each queue and
    // channel; here every one of those needs a skill the agent lacks, so the pass must read on.
    const q = await createQueue(t, { name: 'deep-read' });
    await chatEntry(t, 'deep-read', q);
    const waiting: string[] = [];
    for (let k = 0; k < 30; k++) waiting.push(track(await customer(t, 'deep-read', `contact ${k}`)).session.interactionId);
    await db().query(`UPDATE interactions SET attributes = attributes || '{"skills": {"german": 1}}' WHERE id = ANY($1::uuid[])`, [waiting.slice(0, 25)]);
    const a = track(await createAgent(t, [q], { capacity: { voice: 0, chat: 1, sms: 0, email: 0 } }));
    const offered = a.nextOffer();
    await available(a);
    expect((await offered).interaction.id).toBe(waiting[25]);
  });

  it('a pass sees an agent\'s new skills, queues and capacity at once (kept profiles are re-read when their version moves)', async () => {
    const home = await createQueue(t, { name: 'profile-home' });
    const french = await createQueue(t, { name: 'profile-french', skills: { french: 2 } });
    await chatEntry(t, 'profile-home', home);
    await chatEntry(t, 'profile-french', french);
    const a = track(await createAgent(t, [home], { capacity: { voice: 0, chat: 2, sms: 0, email: 0 } }));
    const patch = async (body: Record<string, unknown>) =>
      expect((await t.app.inject({ method: 'PATCH', url: `/api/agents/${a.agentId}`, headers: bearer(t.adminToken), payload: body })).statusCode).toBe(200);
    const version = async () => (await db().query('SELECT profile_version FROM agents WHERE id = $1', [a.agentId])).rows[0].profile_version as number;
    const stillQueued = async (id: string) => {
      await new Promise((r) => setTimeout(r, 800)); // several sweeps, each a routing pass
      expect((await interaction(id)).state).toBe('queued');
    };
    await available(a);
    // A first offer: the router now holds this agent's profile.
    const c1 = track(await customer(t, 'profile-home', 'one'));
    const o1 = await a.nextOffer();
    expect(o1.interaction.id).toBe(c1.session.interactionId);
    expect(await a.emit('offer:accept', { offerId: o1.offerId })).toMatchObject({ ok: true });

    // A French contact: the agent is neither in that queue nor has the skill.
    const c2 = track(await customer(t, 'profile-french', 'bonjour'));
    await stillQueued(c2.session.interactionId);
    const v0 = await version();
    await patch({ skills: { french: 3 } });
    expect(await version()).toBe(v0 + 1);
    await stillQueued(c2.session.interactionId); // skilled now, but still not in the queue
    const offered2 = a.nextOffer();
    await patch({ queueIds: [home, french] });
    expect(await version()).toBeGreaterThan(v0 + 1);
    const o2 = await offered2;
    expect(o2.interaction.id).toBe(c2.session.interactionId);
    expect(await a.emit('offer:accept', { offerId: o2.offerId })).toMatchObject({ ok: true });

    // Both chat slots taken: a third contact waits until the agent's capacity grows.
    const c3 = track(await customer(t, 'profile-home', 'three'));
    await stillQueued(c3.session.interactionId);
    const offered3 = a.nextOffer();
    const v1 = await version();
    await patch({ capacity: { voice: 0, chat: 3, sms: 0, email: 0 } });
    expect(await version()).toBe(v1 + 1);
    expect((await offered3).interaction.id).toBe(c3.session.interactionId);

    // Going away and back, or being offered work, is not a profile change.
    const v2 = await version();
    expect(await a.emit('state:set', { state: 'away', reason: 'break' })).toMatchObject({ ok: true });
    await available(a);
    expect(await version()).toBe(v2);
  });

  it('signing out hands held work back to the queue and tells the console', async () => {
    const q = await createQueue(t, { name: 'signout' });
    await chatEntry(t, 'signout', q);
    const a = track(await createAgent(t, [q]));
    const states: Array<{ interactionId: string; state: string }> = [];
    a.socket.on('interaction:state', (e: { interactionId: string; state: string }) => states.push(e));
    await available(a);
    const c = track(await customer(t, 'signout', 'still there?'));
    const o = await a.nextOffer();
    expect(await a.emit('offer:accept', { offerId: o.offerId })).toMatchObject({ ok: true });
    expect(await a.emit('state:set', { state: 'offline' })).toMatchObject({ ok: true, state: 'offline' });
    await waitFor(() => states.some((e) => e.interactionId === c.session.interactionId && e.state === 'queued'), 5000, 'the console told');
    expect((await t.app.services.db.query('SELECT state, agent_id FROM interactions WHERE id = $1', [c.session.interactionId])).rows[0]).toEqual({ state: 'queued', agent_id: null });
  });

  it('transfer to another queue: the next agent gets it, with history kept', async () => {
    const sales = await createQueue(t, { name: 'xfer-sales' });
    const billing = await createQueue(t, { name: 'xfer-billing' });
    await chatEntry(t, 'xfer', sales);
    const s = track(await createAgent(t, [sales]));
    const b = track(await createAgent(t, [billing]));
    await available(s);
    await available(b);
    const c = track(await customer(t, 'xfer', 'about my invoice'));
    const o = await s.nextOffer();
    await s.emit('offer:accept', { offerId: o.offerId });
    const toBilling = b.nextOffer();
    expect(await s.emit('interaction:transfer', { interactionId: c.session.interactionId, queueId: billing })).toMatchObject({ ok: true, state: 'queued', queueId: billing });
    const ob = await toBilling;
    expect(ob.interaction).toMatchObject({ id: c.session.interactionId, queueId: billing });
    // A queue that does not take chats refuses a chat, naming why; nothing changes.
    const phones = await createQueue(t, { name: 'xfer-phones', channels: ['voice'] });
    const refused = await t.app.inject({ method: 'POST', url: `/api/interactions/${c.session.interactionId}/transfer`, headers: bearer(t.adminToken), payload: { queueId: phones } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error).toMatchObject({ code: 'SB_VALIDATION', message: expect.stringMatching(/does not take chat/) });
    expect((await t.app.services.db.query('SELECT queue_id FROM interactions WHERE id = $1', [c.session.interactionId])).rows[0].queue_id).toBe(billing);
    expect(ob.customer.recentHistory.map((h) => h.type)).toContain('interaction.transferred');
    await b.emit('offer:accept', { offerId: ob.offerId });
    // The first agent no longer owns it.
    expect(await s.emit('interaction:reply', { interactionId: c.session.interactionId, clientMessageId: 'x', text: 'hi' })).toMatchObject({ ok: false, error: { code: 'SB_NOT_OWNER' } });
    // A supervisor moves it to a named agent.
    const named = track(await createAgent(t, [billing]));
    await available(named);
    const toNamed = named.nextOffer();
    const moved = await t.app.inject({ method: 'POST', url: `/api/interactions/${c.session.interactionId}/transfer`, headers: bearer(t.adminToken), payload: { agentId: named.agentId } });
    expect(moved.statusCode).toBe(200);
    expect((await toNamed).interaction.id).toBe(c.session.interactionId);
    const detail = await t.app.inject({ method: 'GET', url: `/api/interactions/${c.session.interactionId}`, headers: bearer(t.adminToken) });
    expect(detail.json().routing).toMatchObject({ strategy: 'supervisor' });
  });

  it('escalation relaxes skills after a wait, and a VIP rule raises priority', async () => {
    const q = await createQueue(t, {
      name: 'esc',
      skills: { spanish: 5 },
      escalation: [{ afterSeconds: 1, action: 'relax-skills', by: 3 }],
      priorityRules: [{ attribute: 'vip', equals: true, raiseBy: 10 }],
    });
    await chatEntry(t, 'esc', q);
    const junior = track(await createAgent(t, [q], { skills: { spanish: 2 }, capacity: { chat: 1 } }));
    await available(junior);
    const c = track(await customer(t, 'esc'));
    const got = await junior.nextOffer(5000);
    expect(got.interaction.id).toBe(c.session.interactionId);
    const i = await interaction(c.session.interactionId);
    expect(i.skill_relax).toBe(3);
    expect(Date.now() - new Date(i.queued_at).getTime()).toBeGreaterThanOrEqual(1000);
    expect(await historyTypes(c.session.interactionId)).toContain('interaction.escalated');

    // VIP first: two wait; the VIP, though younger, is offered first.
    const vipQ = await createQueue(t, { name: 'vip', priorityRules: [{ attribute: 'vip', equals: true, raiseBy: 10 }] });
    await chatEntry(t, 'vip', vipQ);
    const regular = track(await customer(t, 'vip', 'regular'));
    const vip = track(await customer(t, 'vip', 'vip'));
    await t.app.inject({ method: 'PATCH', url: `/api/customers/${vip.session.customerId}`, headers: bearer(t.adminToken), payload: { attributes: { vip: true } } });
    const agent = track(await createAgent(t, [vipQ], { capacity: { chat: 1 } }));
    const first = agent.nextOffer();
    await available(agent);
    expect((await first).interaction.id).toBe(vip.session.interactionId);
    expect((await interaction(regular.session.interactionId)).state).toBe('queued');
  });

  it('wrap-up times out on its own and frees the slot; overflow and raise-priority escalate waiting work', async () => {
    const q = await createQueue(t, { name: 'wrap-timeout' });
    await chatEntry(t, 'wrap-timeout', q);
    const a = track(await createAgent(t, [q], { wrapupSeconds: 1 }));
    await available(a);
    const c = track(await customer(t, 'wrap-timeout'));
    const o = await a.nextOffer();
    await a.emit('offer:accept', { offerId: o.offerId });
    await a.emit('interaction:end', { interactionId: c.session.interactionId });
    await waitFor(async () => (await interaction(c.session.interactionId)).state === 'closed', 5000, 'wrap-up timeout');
    const closed = (await db().query("SELECT payload FROM events WHERE interaction_id = $1 AND type = 'interaction.wrappedup'", [c.session.interactionId])).rows[0];
    expect(closed.payload).toMatchObject({ reason: 'wrapup-timeout' });
    const released = (await db().query('SELECT released_at FROM offers WHERE id = $1', [o.offerId])).rows[0];
    expect(released.released_at).not.toBeNull();

    const overflowTarget = await createQueue(t, { name: 'overflow-target' });
    const source = await createQueue(t, {
      name: 'overflow-source',
      escalation: [
        { afterSeconds: 0, action: 'raise-priority', by: 7 },
        { afterSeconds: 1, action: 'overflow', queueId: overflowTarget },
      ],
    });
    await chatEntry(t, 'overflow', source);
    const waiting = track(await customer(t, 'overflow'));
    await waitFor(async () => (await interaction(waiting.session.interactionId)).queue_id === overflowTarget, 5000, 'overflow');
    const row = await interaction(waiting.session.interactionId);
    expect(row.state).toBe('queued');
    const steps = (await db().query("SELECT payload FROM events WHERE interaction_id = $1 AND type = 'interaction.escalated' ORDER BY seq", [waiting.session.interactionId])).rows;
    expect(steps.map((e) => e.payload.action)).toEqual(['raise-priority', 'overflow']);
    const target = track(await createAgent(t, [overflowTarget]));
    const offered = target.nextOffer();
    await available(target);
    expect((await offered).interaction.id).toBe(waiting.session.interactionId);
  });

  it('a customer leaving while queued is abandoned; the pending offer is revoked', async () => {
    const q = await createQueue(t, { name: 'abandon' });
    await chatEntry(t, 'abandon', q);
    const a = track(await createAgent(t, [q]));
    await available(a);
    const c = track(await customer(t, 'abandon'));
    const o = await a.nextOffer();
    await c.emitAck('end', {});
    await waitFor(() => a.revoked.some((r) => r.offerId === o.offerId && r.reason === 'abandoned'), 3000, 'abandon revocation');
    expect(await interaction(c.session.interactionId)).toMatchObject({ state: 'closed', outcome: 'abandoned' });
    expect(await a.emit('offer:accept', { offerId: o.offerId })).toMatchObject({ ok: false });
  });

  it('a screen pop read before its offer commits still shows the offer\'s own transaction', async () => {
    // The pop's reads start as the offer is claimed, beside the rest of its transaction. Here they
    // are made to finish before the commit, so they cannot see the transaction's own events: the
    // pushed pop must have them all the same.
    const q = await createQueue(t, { name: 'early-pop' });
    await chatEntry(t, 'early-pop', q);
    const a = track(await createAgent(t, [q]));
    const c = track(await customer(t, 'early-pop', 'my order is wrong'));
    const offered = a.nextOffer();
    const offerId = await t.app.services.acd.run(async (tx, fx) => {
      const offer = await t.app.services.acd.offer(tx, fx, { interactionId: c.session.interactionId, agentId: a.agentId, explanation: { strategy: 'test' }, requireAvailable: false });
      await t.app.services.acd.append(tx, fx, { ...offer!, id: offer!.interactionId, state: 'offered' }, 'note.added', { text: 'seen by the pop' });
      const early = (await fx.pops.get(offer!.id)) as { history: Array<{ type: string }> } | null;
      expect(early!.history.map((h) => h.type)).not.toContain('offer.created');
      return offer!.id;
    });
    const offer = await offered;
    expect(offer.offerId).toBe(offerId);
    expect(offer.interaction).toMatchObject({ id: c.session.interactionId, preview: 'my order is wrong' });
    expect(offer.customer.recentHistory.slice(0, 2)).toEqual([
      expect.objectContaining({ type: 'note.added', text: 'seen by the pop' }),
      expect.objectContaining({ type: 'offer.created', data: expect.objectContaining({ offerId }) }),
    ]);
    expect(offer.customer.recentHistory.map((h) => h.text)).toContain('my order is wrong');
  });

  it('a routing pass reads its screen pops on its own connection: a chat is offered while the service pool is all taken', async () => {
    // The pass sends each offer's screen pop read right behind its COMMIT, on the router's own
    // connection (AcdContext.readPopsBehind), so it needs none of the pool that REST calls and
    // agent actions use; read there, the offer would wait for a free connection and, past the
    // connect timeout, not be pushed at all.
    const q = await createQueue(t, { name: 'busy-pool', script: 'Greet them by name.' });
    await chatEntry(t, 'busy-pool', q);
    const a = track(await createAgent(t, [q]));
    await available(a);
    const c = track(await chatClient(t.url, { widget: 'busy-pool' }));
    const held: Array<{ release(): void }> = [];
    try {
      for (let k = 0; k < t.app.services.config.dbPoolSize; k++) held.push(await db().connect());
      const offered = a.nextOffer(2000);
      expect((await c.send('busy-1', 'is anyone there?')).ok).toBe(true);
      const offer = await offered;
      expect(offer).toMatchObject({
        interaction: { id: c.session.interactionId, queueId: q, preview: 'is anyone there?' },
        customer: { id: c.session.customerId },
        script: 'Greet them by name.',
      });
      // Read after the commit, the pop sees the offer's own event.
      expect(offer.customer.recentHistory[0]).toMatchObject({ type: 'offer.created', interactionId: c.session.interactionId, data: { offerId: offer.offerId } });
    } finally {
      held.forEach((h) => h.release());
    }
  });

  it('an offer whose event key is taken is not made: the claim and the offer roll back with it', async () => {
    const q = await createQueue(t, { name: 'taken-key' });
    await chatEntry(t, 'taken-key', q);
    const a = track(await createAgent(t, [q]));
    const c = track(await customer(t, 'taken-key', 'hello there'));
    const id = c.session.interactionId;
    const before = await interaction(id);
    const offerId = randomUUID();
    // The key the offer's event would take is stored already (a replay, say).
    await db().query(
      `INSERT INTO events (customer_id, type, direction, idempotency_key, payload) VALUES ($1, 'note.added', 'internal', $2, '{}')`,
      [before.customer_id, `offer.created:${offerId}`],
    );
    const made = withTransaction(db(), (tx) =>
      createOffer(tx, { offerId, interactionId: id, agentId: a.agentId, explanation: { strategy: 'test' }, timeoutSeconds: 30, requireAvailable: false },
        { idempotencyKey: `offer.created:${offerId}`, payload: { offerId }, occurredAt: new Date() }));
    await expect(made).rejects.toThrow(/offer event key .* is taken/);
    expect(await interaction(id)).toMatchObject({ state: 'queued', agent_id: null, last_seq: before.last_seq });
    expect((await db().query('SELECT count(*)::int AS n FROM offers WHERE interaction_id = $1', [id])).rows[0].n).toBe(0);
    // With a free key, the same claim makes the offer and its event at the interaction's next number.
    const ok = await withTransaction(db(), (tx) =>
      createOffer(tx, { offerId: randomUUID(), interactionId: id, agentId: a.agentId, explanation: { strategy: 'test' }, timeoutSeconds: 30, requireAvailable: false },
        { idempotencyKey: `offer.created:${randomUUID()}`, payload: { why: 'test' }, occurredAt: new Date() }));
    expect(ok!.event).toMatchObject({ type: 'offer.created', interactionId: id, seq: before.last_seq + 1, customerId: before.customer_id, payload: { why: 'test' } });
    expect(await interaction(id)).toMatchObject({ state: 'offered', agent_id: a.agentId, last_seq: before.last_seq + 1 });
  });

  it('answers malformed agent actions with error acks', async () => {
    const q = await createQueue(t, { name: 'bad-agent' });
    const a = track(await createAgent(t, [q]));
    for (const [event, payload, code] of [
      ['state:set', { state: 'sleeping' }, 'SB_VALIDATION'],
      ['offer:accept', { offerId: 'nope' }, 'SB_VALIDATION'],
      ['offer:accept', { offerId: '00000000-0000-0000-0000-000000000000' }, 'SB_OFFER_UNKNOWN'],
      ['interaction:reply', { interactionId: '00000000-0000-0000-0000-000000000000', clientMessageId: 'x', text: 'hi' }, 'SB_NOT_FOUND'],
      ['interaction:wrapup', { interactionId: 42 }, 'SB_VALIDATION'],
      ['interaction:transfer', { interactionId: '00000000-0000-0000-0000-000000000000' }, 'SB_VALIDATION'],
    ] as const) {
      expect(await a.emit(event, payload)).toMatchObject({ ok: false, error: { code } });
    }
  });
});

describe('ACD: ring-no-answer timers', () => {
  // Offers ring for a minute here, so none rings out while the test answers them.
  let t: TestApp;
  const cleanup: Array<{ close(): void }> = [];
  beforeAll(async () => {
    t = await startApp({ OFFER_TIMEOUT_SECONDS: '60', ROUTER_SWEEP_MS: '60000' });
  });
  afterAll(async () => {
    cleanup.splice(0).forEach((c) => c.close());
    await t.close();
  });
  const track = <T extends { close(): void }>(c: T): T => {
    cleanup.push(c);
    return c;
  };

  it('drops an offer\'s ring-no-answer timer once the offer is answered or withdrawn, and keeps the timers of offers still ringing', async () => {
    const q = await createQueue(t, { name: 'timers' });
    await chatEntry(t, 'timers', q);
    const a = track(await createAgent(t, [q], { capacity: { chat: 3 } }));
    const redis = t.app.services.redis;
    const bull = `${t.config.redisKeyPrefix}-bull:offer-timeouts`;
    // Its delayed job, and that job's data (a job that ran is kept for an hour: gone means removed).
    const timer = async (offerId: string) => ({ delayed: (await redis.zscore(`${bull}:delayed`, `offer-${offerId}`)) !== null, job: (await redis.exists(`${bull}:offer-${offerId}`)) === 1 });
    const ringing = async (offerId: string) => waitFor(async () => (await timer(offerId)).delayed, 5000, `the timer of offer ${offerId}`);
    const gone = async (offerId: string) => waitFor(async () => !(await timer(offerId)).job, 5000, `the timer of offer ${offerId} removed`);
    expect(await a.emit('state:set', { state: 'available' })).toMatchObject({ ok: true });
    const offerOf = async (text: string) => {
      const offered = a.nextOffer();
      track(await customer(t, 'timers', text));
      return offered;
    };
    const [accepted, rejected, withdrawn] = [await offerOf('accepted'), await offerOf('rejected'), await offerOf('withdrawn')];
    for (const o of [accepted, rejected, withdrawn]) await ringing(o.offerId);

    expect(await a.emit('offer:accept', { offerId: accepted.offerId })).toMatchObject({ ok: true });
    await gone(accepted.offerId);
    expect(await timer(rejected.offerId)).toEqual({ delayed: true, job: true });

    expect(await a.emit('offer:reject', { offerId: rejected.offerId })).toMatchObject({ ok: true });
    await gone(rejected.offerId);
    expect(await timer(withdrawn.offerId)).toEqual({ delayed: true, job: true });

    // Going away withdraws what still rings (the rejected contact may have rung here again).
    expect(await a.emit('state:set', { state: 'away', reason: 'break' })).toMatchObject({ ok: true });
    await gone(withdrawn.offerId);
    for (const o of a.revoked) await gone(o.offerId);
    expect(a.revoked.map((r) => r.offerId)).toContain(withdrawn.offerId);
  });
});
