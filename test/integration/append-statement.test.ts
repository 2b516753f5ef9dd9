/**
 * Plain messages stored in one statement (src/interactions/append-statement.ts). The promises:
 * it stores exactly what the step-by-step path stores (customers, conversations, the queued cue,
 * events numbered 1..n); when another writer is creating the same identity or conversation, or a
 * key is stored already, it stores nothing at all and the service's step-by-step path stores the
 * message instead; and the service takes this statement for plain messages.
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { startApp, bearer, seedQueueAndAgent, type TestApp } from '../support/app';
import { createQueue } from '../support/agent';
import { endPool } from '../support/env';
import { inboundSmsCommand } from '../../src/channels/sms/sms.mapper';
import { chatMessageCommand } from '../../src/channels/chat/chat.mapper';
import { appendMessages, isMessageCommand, type MessageCommand } from '../../src/interactions/append';
import { appendEventInOneStatement, appendMessagesInOneStatement, NotInOneStatement } from '../../src/interactions/append-statement';
import { withTransaction } from '../../src/platform/db';
import type { IngestCommand, IngestResult } from '../../src/interactions/events.types';

const OUR_NUMBER = '+15005550006';
let counter = 0;
const sid = () => `SM${(++counter).toString(16).padStart(32, '0')}`;

const message = (cmd: IngestCommand): MessageCommand => {
  if (!isMessageCommand(cmd)) throw new Error('not a plain message');
  return cmd;
};
const sms = (from: string, body: string) => message(inboundSmsCommand({ messageSid: sid(), from, to: OUR_NUMBER, body, numMedia: 0 }, new Date()));
const chat = (visitorId: string, text: string, customerId = randomUUID()) =>
  message(chatMessageCommand({ visitorId, customerId, pendingInteractionId: randomUUID(), widget: 'site', clientMessageId: randomUUID(), text, now: new Date() }));

describe('plain messages in one statement', () => {
  let t: TestApp;
  let db: Pool;
  let other: Pool;
  let queueId: string;

  beforeAll(async () => {
    t = await startApp({ ROUTER_SWEEP_MS: '60000' });
    db = t.app.services.db;
    other = new Pool({ connectionString: t.config.databaseUrl, max: 2 });
    queueId = await createQueue(t, { name: 'one-statement' });
    for (const ep of [{ channel: 'sms', address: OUR_NUMBER }, { channel: 'chat', address: 'site' }]) {
      const res = await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { ...ep, queueId } });
      expect(res.statusCode).toBe(201);
    }
  });
  afterAll(async () => {
    await endPool(other);
    await t.close();
  });

  /** What a conversation holds, with the sender's own name in place of ids that differ between runs. */
  async function conversationOf(key: string) {
    const { rows: [i] } = await db.query(
      `SELECT i.id, i.channel, i.direction, i.state, i.queue_id, i.entry_point_id, i.priority, i.subject, i.attributes, i.last_seq, i.customer_id,
              (i.queued_at IS NOT NULL) AS queued
         FROM interactions i WHERE conversation_key = $1 AND state <> 'closed'`,
      [key],
    );
    const { rows: events } = await db.query(
      'SELECT id::text, seq, type, channel, direction, payload, customer_id, idempotency_key FROM events WHERE interaction_id = $1 ORDER BY id',
      [i.id],
    );
    return { interaction: i, events };
  }

  /** The parts of a result and its conversation that must not depend on the path taken. */
  function shape(r: IngestResult, conv: Awaited<ReturnType<typeof conversationOf>>) {
    const { id: _id, customer_id: _c, ...interaction } = conv.interaction;
    return {
      duplicate: r.duplicate,
      appended: r.appended.map((e) => ({ seq: e.seq, type: e.type, channel: e.channel, direction: e.direction, payload: { ...e.payload, providerId: undefined } })),
      interaction: { state: r.interaction!.state, queueId: r.interaction!.queueId, channel: r.interaction!.channel },
      stored: { ...interaction, attributes: undefined, events: conv.events.map((e) => ({ seq: e.seq, type: e.type, payload: { ...e.payload, providerId: undefined } })) },
    };
  }

  it('stores what the step-by-step path stores: new and known customers, opened and continued conversations, the queued cue', async () => {
    // Two runs of the same traffic, one per path, with senders of their own.
    const run = async (tag: string, store: (cmds: MessageCommand[]) => Promise<IngestResult[]>) => {
      const a = `+1415${tag}0001`;
      const b = `+1415${tag}0002`;
      const visitor = randomUUID();
      const first = await store([sms(a, 'hello'), sms(a, 'again'), sms(b, 'hi'), chat(visitor, 'hey')]);
      const second = await store([sms(a, 'third'), chat(visitor, 'still there?')]);
      const results = [...first, ...second];
      const keys = [`sms:${a}:${OUR_NUMBER}`, `sms:${a}:${OUR_NUMBER}`, `sms:${b}:${OUR_NUMBER}`, `chat:${visitor}`, `sms:${a}:${OUR_NUMBER}`, `chat:${visitor}`];
      const shapes = [];
      for (const [k, r] of results.entries()) {
        const conv = await conversationOf(keys[k]!);
        shapes.push(shape(r, conv));
        // The result is what is stored: the same ids, sequence numbers, interaction and customer.
        expect(r.appended.map((e) => e.id)).toEqual(conv.events.filter((e) => r.appended.some((x) => x.id === e.id)).map((e) => e.id));
        expect(r.event.interactionId).toBe(conv.interaction.id);
        expect(r.interaction!.id).toBe(conv.interaction.id);
        expect(r.customerId).toBe(conv.interaction.customer_id);
        expect(conv.events.every((e) => e.customer_id === r.customerId)).toBe(true);
      }
      // One customer per sender, holding its identity.
      const { rows } = await db.query("SELECT value, count(DISTINCT customer_id)::int AS n FROM customer_identities WHERE value = ANY($1) GROUP BY value", [[a, b, visitor]]);
      expect(rows.map((r) => r.n)).toEqual([1, 1, 1]);
      return shapes;
    };
    const stepByStep = await run('1', (cmds) => withTransaction(db, (tx) => appendMessages(tx, cmds)));
    const oneStatement = await run('2', (cmds) => appendMessagesInOneStatement(db, cmds));
    expect(oneStatement).toEqual(stepByStep);
    // And what that is: the cue first, then every message, numbered 1..n.
    expect(oneStatement[4]!.stored.events.map((e: { seq: number; type: string }) => [e.seq, e.type])).toEqual([
      [1, 'interaction.queued'], [2, 'message.received'], [3, 'message.received'], [4, 'message.received'],
    ]);
    expect(oneStatement[4]!.stored).toMatchObject({ last_seq: 4, state: 'queued', queue_id: queueId, queued: true });
    expect(oneStatement[0]!.appended.map((e) => e.type)).toEqual(['interaction.queued', 'message.received']);
    expect(oneStatement[1]!.appended.map((e) => e.type)).toEqual(['message.received']);
  });

  it('follows merges to the customer that stands for the sender', async () => {
    const from = '+14155550900';
    const [first] = await appendMessagesInOneStatement(db, [sms(from, 'before the merge')]);
    const { rows: [survivor] } = await db.query('INSERT INTO customers DEFAULT VALUES RETURNING id');
    await db.query('UPDATE customers SET merged_into = $1 WHERE id = $2', [survivor.id, first!.customerId]);
    const [after] = await appendMessagesInOneStatement(db, [sms(from, 'after the merge')]);
    expect(after!.customerId).toBe(survivor.id);
    expect(after!.event.customerId).toBe(survivor.id);
    expect(after!.event.seq).toBe(3);
  });

  /** Everything the statement could have touched, to show that a declined statement left nothing. */
  const snapshot = async () =>
    (await db.query(
      `SELECT (SELECT count(*) FROM customers)::int AS customers, (SELECT count(*) FROM customer_identities)::int AS identities,
              (SELECT count(*) FROM interactions)::int AS interactions, (SELECT count(*) FROM events)::int AS events,
              (SELECT sum(last_seq) FROM interactions)::int AS seqs`,
    )).rows[0];

  it('stores nothing when a key is stored already, and says which step declined', async () => {
    const retry = sms('+14155550910', 'once');
    await appendMessagesInOneStatement(db, [retry]);
    const before = await snapshot();
    // Beside it, a new sender and a continued conversation: neither may be stored.
    const attempt = appendMessagesInOneStatement(db, [sms('+14155550911', 'new sender'), sms('+14155550910', 'more'), retry]);
    await expect(attempt).rejects.toBeInstanceOf(NotInOneStatement);
    await expect(attempt).rejects.toMatchObject({ message: expect.stringContaining('idempotency key') });
    expect(await snapshot()).toEqual(before);
  });

  /** Hold a transaction that has written, run `during` against it, then commit it. */
  async function whileHeld(write: (tx: import('pg').PoolClient) => Promise<unknown>, during: () => Promise<unknown>): Promise<void> {
    const tx = await other.connect();
    try {
      await tx.query('BEGIN');
      await write(tx);
      const running = during();
      running.catch(() => undefined);
      // The statement must be waiting on our row when we commit.
      await new Promise((r) => setTimeout(r, 300));
      await tx.query('COMMIT');
      await running.catch(() => undefined);
    } finally {
      tx.release();
    }
  }

  it('stores nothing when another writer opens the same conversation meanwhile; the service then stores the message step by step', async () => {
    const from = '+14155550920';
    const key = `sms:${from}:${OUR_NUMBER}`;
    // The sender is known, its conversation closed: the statement will open a new one.
    await appendMessagesInOneStatement(db, [sms(from, 'old')]);
    await db.query("UPDATE interactions SET state = 'closed', closed_at = now() WHERE conversation_key = $1", [key]);
    const before = await snapshot();
    let declined: unknown;
    await whileHeld(
      (tx) => appendMessages(tx, [sms(from, 'theirs')]),
      () => appendMessagesInOneStatement(db, [sms(from, 'mine')]).catch((err) => (declined = err)),
    );
    expect(declined).toBeInstanceOf(NotInOneStatement);
    expect((declined as Error).message).toContain('conversation');
    const after = await snapshot();
    // Only the other writer's conversation and its two events (the cue and its message).
    expect(after).toEqual({ ...before, interactions: before.interactions + 1, events: before.events + 2, seqs: before.seqs + 2 });

    // Through the service: declined, then stored in the conversation the other writer opened.
    const ingest = t.app.services.ingest;
    const counts = { ...ingest.oneStatement };
    let result: IngestResult | undefined;
    await whileHeld(
      async (tx) => {
        await tx.query("UPDATE interactions SET state = 'closed', closed_at = now() WHERE conversation_key = $1 AND state <> 'closed'", [key]);
        await appendMessages(tx, [sms(from, 'theirs again')]);
      },
      async () => (result = await ingest.ingest(sms(from, 'mine again'))),
    );
    expect(ingest.oneStatement.declined - counts.declined).toBe(1);
    const conv = await conversationOf(key);
    expect(result!.event.interactionId).toBe(conv.interaction.id);
    expect(conv.events.map((e) => [e.seq, e.type, e.payload.text])).toEqual([
      [1, 'interaction.queued', undefined], [2, 'message.received', 'theirs again'], [3, 'message.received', 'mine again'],
    ]);
    expect(conv.interaction.last_seq).toBe(3);
  });

  it('stores nothing when another writer creates the same customer meanwhile; the service then stores the message step by step', async () => {
    const visitor = randomUUID();
    const before = await snapshot();
    let declined: unknown;
    const theirs = randomUUID();
    const claim = (tx: import('pg').PoolClient) =>
      tx.query("WITH c AS (INSERT INTO customers (id) VALUES ($1) RETURNING id) INSERT INTO customer_identities (customer_id, kind, value) SELECT id, 'chat', $2 FROM c", [theirs, visitor]);
    await whileHeld(claim, () => appendMessagesInOneStatement(db, [chat(visitor, 'mine')]).catch((err) => (declined = err)));
    expect(declined).toBeInstanceOf(NotInOneStatement);
    expect((declined as Error).message).toContain('customer');
    // Only the other writer's customer: the statement's own customer row went with it.
    expect(await snapshot()).toEqual({ ...before, customers: before.customers + 1, identities: before.identities + 1 });

    const visitor2 = randomUUID();
    const theirs2 = randomUUID();
    const ingest = t.app.services.ingest;
    const counts = { ...ingest.oneStatement };
    let result: IngestResult | undefined;
    await whileHeld(
      (tx) => tx.query("WITH c AS (INSERT INTO customers (id) VALUES ($1) RETURNING id) INSERT INTO customer_identities (customer_id, kind, value) SELECT id, 'chat', $2 FROM c", [theirs2, visitor2]),
      async () => (result = await ingest.ingest(chat(visitor2, 'mine', randomUUID()))),
    );
    expect(ingest.oneStatement.declined - counts.declined).toBe(1);
    expect(result!.customerId).toBe(theirs2);
    const conv = await conversationOf(`chat:${visitor2}`);
    expect(conv.events.map((e) => [e.seq, e.type])).toEqual([[1, 'interaction.queued'], [2, 'message.received']]);
    const orphans = await db.query('SELECT count(*)::int AS n FROM customers c WHERE NOT EXISTS (SELECT 1 FROM customer_identities ci WHERE ci.customer_id = c.id) AND merged_into IS NULL AND NOT EXISTS (SELECT 1 FROM customers m WHERE m.merged_into = c.id)');
    expect(orphans.rows[0].n).toBe(0);
  });

  it('is the way the service stores plain messages, and a retry is still answered with the first event', async () => {
    const ingest = t.app.services.ingest;
    const counts = { ...ingest.oneStatement };
    const cmd = sms('+14155550930', 'through the service');
    const first = await ingest.ingest(cmd);
    const again = await ingest.ingest(cmd);
    expect(first.duplicate).toBe(false);
    expect(again).toMatchObject({ duplicate: true, event: { id: first.event.id, seq: first.event.seq } });
    expect(ingest.oneStatement.stored - counts.stored).toBe(1);
    expect(ingest.oneStatement.declined - counts.declined).toBe(1);
    expect(ingest.oneStatement.failed - counts.failed).toBe(0);
  });

  it('falls back to the step-by-step path when the statement fails, and counts it in the metrics', async () => {
    const ingest = t.app.services.ingest;
    const counts = { ...ingest.oneStatement };
    // The statement cannot run while its check is missing; the step-by-step path does not use it.
    await db.query('ALTER FUNCTION statement_assert(boolean, text) RENAME TO statement_assert_away');
    let result: IngestResult;
    try {
      result = await ingest.ingest(sms('+14155550940', 'stored anyway'));
    } finally {
      await db.query('ALTER FUNCTION statement_assert_away(boolean, text) RENAME TO statement_assert');
    }
    expect(ingest.oneStatement.failed - counts.failed).toBe(1);
    expect(ingest.oneStatement.stored - counts.stored).toBe(0);
    const conv = await conversationOf(`sms:+14155550940:${OUR_NUMBER}`);
    expect(conv.events.map((e) => [e.seq, e.type, e.id])).toEqual([[1, 'interaction.queued', result.appended[0]!.id], [2, 'message.received', result.event.id]]);
    const metrics = await fetch(`${t.url}/metrics`).then((r) => r.text());
    const value = (outcome: string) => Number(new RegExp(`^switchboard_ingest_one_statement_messages_total\\{outcome="${outcome}"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(value('failed')).toBe(ingest.oneStatement.failed);
    expect(value('stored')).toBe(ingest.oneStatement.stored);
    expect(value('declined')).toBe(ingest.oneStatement.declined);
    // And the next message is stored in one statement again.
    await ingest.ingest(sms('+14155550940', 'back to one statement'));
    expect(ingest.oneStatement.stored - counts.stored).toBe(1);
  });
});

describe("an agent's chat reply in one statement", () => {
  let t: TestApp;
  let db: Pool;
  let agentId: string;
  let otherAgent: string;

  beforeAll(async () => {
    t = await startApp({ ROUTER_SWEEP_MS: '60000' });
    db = t.app.services.db;
    ({ agentId } = await seedQueueAndAgent(t, 'replies'));
    ({ agentId: otherAgent } = await seedQueueAndAgent(t, 'others'));
  });
  afterAll(async () => t.close());

  /** A chat conversation the agent works (active), as after an accepted offer. */
  async function activeChat(agent = agentId): Promise<{ interactionId: string; customerId: string }> {
    const [opened] = await appendMessagesInOneStatement(db, [chat(randomUUID(), 'hello')]);
    await db.query("UPDATE interactions SET state = 'active', agent_id = $2 WHERE id = $1", [opened!.interaction!.id, agent]);
    return { interactionId: opened!.interaction!.id, customerId: opened!.customerId };
  }
  const replyCommand = (i: { interactionId: string; customerId: string }, text: string): IngestCommand => ({
    idempotencyKey: `agent:${agentId}:reply:${randomUUID()}`,
    type: 'message.sent',
    channel: 'chat',
    direction: 'out',
    occurredAt: new Date(),
    payload: { text, from: 'agent', agentId },
    customer: { id: i.customerId },
    interaction: { kind: 'existing', id: i.interactionId },
    inOneStatementWhen: { agentId, state: 'active' },
  });
  const stateOf = async (interactionId: string) =>
    (await db.query('SELECT last_seq, (SELECT count(*)::int FROM events WHERE interaction_id = $1) AS events FROM interactions WHERE id = $1', [interactionId])).rows[0];

  it('stores what the transaction stores: the next sequence number, the customer that now stands for the sender', async () => {
    const a = await activeChat();
    const b = await activeChat();
    const viaTransaction = await withTransaction(db, (tx) => t.app.services.ingest.appendWithin(tx, replyCommand(a, 'hi')));
    const inOne = await appendEventInOneStatement(db, replyCommand(b, 'hi'));
    const strip = (r: IngestResult) => ({
      event: { ...r.event, id: undefined, customerId: undefined, interactionId: undefined, occurredAt: undefined },
      interaction: { ...r.interaction!, id: undefined, customerId: undefined, createdAt: undefined, queuedAt: undefined, attributes: undefined },
    });
    expect(strip(inOne)).toEqual(strip(viaTransaction));
    expect(inOne.event).toMatchObject({ seq: 3, interactionId: b.interactionId, customerId: b.customerId, type: 'message.sent', direction: 'out' });
    expect(inOne.interaction).toMatchObject({ id: b.interactionId, state: 'active', agentId });
    expect(await stateOf(b.interactionId)).toEqual({ last_seq: 3, events: 3 });

    // A merged customer: the reply goes to the one that stands for it now.
    const { rows: [survivor] } = await db.query('INSERT INTO customers DEFAULT VALUES RETURNING id');
    await db.query('UPDATE customers SET merged_into = $1 WHERE id = $2', [survivor.id, b.customerId]);
    const after = await appendEventInOneStatement(db, replyCommand(b, 'after the merge'));
    expect(after).toMatchObject({ customerId: survivor.id, event: { seq: 4, customerId: survivor.id } });
  });

  it('is how a chat reply is stored; another agent, another state and a retry are left to the transaction, which answers as before and stores nothing more', async () => {
    const ingest = t.app.services.ingest;
    const work = t.app.services.work;
    const i = await activeChat();
    const counts = { ...ingest.oneStatement };
    const first = await work.reply(agentId, i.interactionId, 'c1', 'first');
    expect(ingest.oneStatement.stored - counts.stored).toBe(1);
    expect(first.event).toMatchObject({ seq: 3, type: 'message.sent' });

    const before = await stateOf(i.interactionId);
    // A retry: the first event again.
    expect(await work.reply(agentId, i.interactionId, 'c1', 'first')).toMatchObject({ duplicate: true, event: { id: first.event.id } });
    // Not this agent's.
    await expect(work.reply(otherAgent, i.interactionId, 'c2', 'mine?')).rejects.toMatchObject({ code: 'SB_NOT_OWNER' });
    // Not active any more.
    await db.query("UPDATE interactions SET state = 'wrapup' WHERE id = $1", [i.interactionId]);
    await expect(work.reply(agentId, i.interactionId, 'c3', 'too late')).rejects.toMatchObject({ code: 'SB_INVALID_STATE' });
    expect(await stateOf(i.interactionId)).toEqual(before);
    expect(ingest.oneStatement.declined - counts.declined).toBe(3);
    expect(ingest.oneStatement.stored - counts.stored).toBe(1);
    expect(ingest.oneStatement.failed - counts.failed).toBe(0);

    // Straight at the statement: each of those stores nothing and says why.
    await db.query("UPDATE interactions SET state = 'active' WHERE id = $1", [i.interactionId]);
    const retry = { ...replyCommand(i, 'first'), idempotencyKey: `agent:${agentId}:reply:c1` };
    await expect(appendEventInOneStatement(db, retry)).rejects.toMatchObject({ message: expect.stringContaining('idempotency key') });
    await expect(appendEventInOneStatement(db, { ...replyCommand(i, 'x'), inOneStatementWhen: { agentId: otherAgent, state: 'active' } })).rejects.toMatchObject({
      message: expect.stringContaining('interaction'),
    });
    await expect(appendEventInOneStatement(db, { ...replyCommand(i, 'x'), customer: { id: randomUUID() } })).rejects.toMatchObject({ message: expect.stringContaining('customer') });
    expect(await stateOf(i.interactionId)).toEqual(before);
  });
});
