/**
 * The message write alone, both ways, interleaved in one process on one fresh database: the
 * step-by-step transaction (BEGIN and the customer, the conversation, the events, COMMIT: what
 * a message took before it was stored in one statement, and what it still takes when that
 * statement declines) and the one statement. Each round stores one chat message both ways, in
 * alternating order, so both see the same machine. Three cases: a known visitor continuing an open
 * conversation; a first contact (new customer, new conversation, the queued cue); and a group
 * commit of 32 known visitors' messages, as busy ingest forms them. And an agent's chat reply on
 * an active conversation: its key checked, then a transaction (lock, apply's checks, event), or
 * one statement.
 *
 *   npx tsx bench/message-write.ts [rounds=2000]
 *
 * Prints p50/p99 per way and case, and their ratio. Not part of `npm run bench`: it measures
 * one step of the enqueue → offer path, not a promise of the service.
 */
import { randomUUID } from 'node:crypto';
import { chatMessageCommand } from '../src/channels/chat/chat.mapper';
import { appendMessages, isMessageCommand, type MessageCommand } from '../src/interactions/append';
import { appendEventInOneStatement, appendMessagesInOneStatement } from '../src/interactions/append-statement';
import { findEventByKey } from '../src/interactions/events.repository';
import type { IngestCommand } from '../src/interactions/events.types';
import type { EventPublisher } from '../src/interactions/publisher';
import { createMessagePool, IngestService } from '../src/interactions/ingest.service';
import { loadConfig } from '../src/platform/config';
import { createPool, ensureDatabase, withTransaction } from '../src/platform/db';
import { migrate } from '../src/platform/migrate';
import { Pool } from 'pg';
import { summarize, type Summary } from './lib/stats';

const PG = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

const message = (visitorId: string, text: string): MessageCommand => {
  const cmd = chatMessageCommand({ visitorId, customerId: randomUUID(), pendingInteractionId: randomUUID(), widget: '*', clientMessageId: randomUUID(), text, now: new Date() });
  if (!isMessageCommand(cmd)) throw new Error('not a plain message');
  return cmd;
};

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 2000);
  const name = `sb_bench_write_${Date.now()}`;
  const databaseUrl = `${PG}/${name}`;
  await ensureDatabase(databaseUrl);
  const config = loadConfig({ ...process.env, DATABASE_URL: databaseUrl, JWT_SECRET: 'bench-secret-0123456789abcdef' });
  const pool = createPool(config);
  const messagePool = createMessagePool(config);
  try {
    await migrate(pool);
    const ways = {
      stepByStep: (...cmds: MessageCommand[]) => withTransaction(pool, (tx) => appendMessages(tx, cmds), { genericPlans: true }),
      oneStatement: (...cmds: MessageCommand[]) => appendMessagesInOneStatement(messagePool, cmds),
    };
    type Way = keyof typeof ways;
    const order: Way[][] = [['stepByStep', 'oneStatement'], ['oneStatement', 'stepByStep']];
    // Each way continues its own visitor's conversation.
    const visitors: Record<Way, string> = { stepByStep: randomUUID(), oneStatement: randomUUID() };
    const groups: Record<Way, string[]> = { stepByStep: Array.from({ length: 32 }, () => randomUUID()), oneStatement: Array.from({ length: 32 }, () => randomUUID()) };
    const samples: Record<string, number[]> = {};
    const time = async (key: string, f: () => Promise<unknown>) => {
      const t0 = performance.now();
      await f();
      (samples[key] ??= []).push(performance.now() - t0);
    };
    // Replies: an agent working one active chat per way. The transaction is the ingest path's own
    // (appendWithin, on the service's pool as ingestOne runs it); no publisher is needed for it.
    const { rows: [agent] } = await pool.query("INSERT INTO agents (name) VALUES ('bench') RETURNING id");
    const steps = new IngestService(pool, null as unknown as EventPublisher);
    const chats = {} as Record<Way, { id: string; customerId: string }>;
    for (const way of Object.keys(ways) as Way[]) {
      const [opened] = await appendMessagesInOneStatement(messagePool, [message(randomUUID(), 'hello')]);
      await pool.query("UPDATE interactions SET state = 'active', agent_id = $2 WHERE id = $1", [opened!.interaction!.id, agent.id]);
      chats[way] = { id: opened!.interaction!.id, customerId: opened!.customerId };
    }
    const reply = (way: Way): IngestCommand => ({
      idempotencyKey: `agent:${agent.id}:reply:${randomUUID()}`,
      type: 'message.sent',
      channel: 'chat',
      direction: 'out',
      occurredAt: new Date(),
      payload: { text: 'a reply', from: 'agent', agentId: agent.id },
      customer: { id: chats[way].customerId },
      interaction: { kind: 'existing', id: chats[way].id },
      inOneStatementWhen: { agentId: agent.id, state: 'active' },
      apply: async (_tx, { interaction }) => {
        if (interaction!.agentId !== agent.id || interaction!.state !== 'active') throw new Error('not the agent\'s active chat');
      },
    });
    const replies: Record<Way, (cmd: IngestCommand) => Promise<unknown>> = {
      stepByStep: async (cmd) => {
        if (await findEventByKey(pool, cmd.idempotencyKey)) throw new Error('key taken');
        return withTransaction(pool, (tx) => steps.appendWithin(tx, cmd));
      },
      oneStatement: (cmd) => appendEventInOneStatement(messagePool, cmd),
    };
    for (const way of Object.keys(ways) as Way[]) {
      for (let k = 0; k < 50; k++) await ways[way](message(visitors[way], 'warm-up'));
      for (let k = 0; k < 50; k++) await replies[way](reply(way));
      for (let k = 0; k < 10; k++) await ways[way](...groups[way].map((v) => message(v, 'warm-up')));
    }
    for (const key of Object.keys(samples)) delete samples[key];
    for (let r = 0; r < rounds; r++) {
      for (const way of order[r % 2]!) {
        await time(`continued ${way}`, () => ways[way](message(visitors[way], `round ${r}`)));
        await time(`first contact ${way}`, () => ways[way](message(randomUUID(), `round ${r}`)));
        await time(`batch of 32 ${way}`, () => ways[way](...groups[way].map((v) => message(v, `round ${r}`))));
        await time(`chat reply ${way}`, () => replies[way](reply(way)));
      }
    }
    const out: Record<string, Summary> = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
    for (const c of ['continued', 'first contact', 'batch of 32', 'chat reply']) {
      const a = out[`${c} stepByStep`]!;
      const b = out[`${c} oneStatement`]!;
      process.stdout.write(
        `${c}: step by step p50 ${a.p50} ms p99 ${a.p99} ms; one statement p50 ${b.p50} ms p99 ${b.p99} ms; ` +
          `ratio p50 ${(b.p50 / a.p50).toFixed(2)} p99 ${(b.p99 / a.p99).toFixed(2)} (${rounds} rounds)\n`,
      );
    }
  } finally {
    await pool.end();
    await messagePool.end();
    const admin = new Pool({ connectionString: `${PG}/postgres`, max: 1 });
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

void main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
