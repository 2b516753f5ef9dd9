/**
 * Diagnostics for the routing scenario: the service's own writes and reads on the way from a
 * contact's first message to its offer, run unchanged (imported from src) against the
 * scenario's database once it is quiet, each round in a transaction rolled back: the probe
 * visitor's next first message (one statement: the conversation opened into its queue, the
 * queued cue and the message's event), the claim of the backlog's head for the agent kept away
 * (the offer, its event, the interaction and the agent's changes), and that offer's screen pop.
 * On generic plans, as the service's pools run them. Per statement, p50 over the rounds: the
 * round trip as this client sees it (rounds not logged), and Postgres's own time to execute it
 * (the other rounds: from its statement log, sent to this client; `log_min_duration_statement`
 * is a superuser's setting, and the bench's role is one). With caches warm and nothing else
 * running, these are what our Postgres work costs on this machine at least; the floor writes
 * one row a contact.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { chatMessageCommand } from '../../src/channels/chat/chat.mapper';
import { isMessageCommand } from '../../src/interactions/append';
import { appendMessagesInOneStatement } from '../../src/interactions/append-statement';
import { createOffer } from '../../src/routing/offers.repository';
import { POP_HISTORY, readScreenPop } from '../../src/agents/screen-pop.repository';
import { summarize, type Summary } from './stats';

/** One statement's times, ms: the client's round trip and Postgres's execution. */
export interface StatementTimes {
  roundTrip: Summary;
  execute: Summary;
}

export interface WriteSqlTimes {
  message: StatementTimes;
  claim: StatementTimes;
  screenPop: StatementTimes;
}

/** The statement names the service gives them (pg's prepared statements), as Postgres logs them. */
const NAMES = { message: 'events.append-messages', claim: 'offers.create', screenPop: 'agents.screen-pop' } as const;
type Step = keyof typeof NAMES;

/**
 * Null when the database lacks what the rounds need: a chat the probe visitor wrote, a waiting
 * contact, and an agent away.
 */
export async function writeSql(databaseUrl: string, opts: { rounds?: number } = {}): Promise<WriteSqlTimes | null> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query('SET jit = off');
    await db.query('SET plan_cache_mode = force_generic_plan');
    const { rows: chats } = await db.query<{ visitor: string; customer_id: string; widget: string }>(
      `SELECT i.attributes ->> 'visitorId' AS visitor, i.customer_id, e.address AS widget
         FROM interactions i JOIN entry_points e ON e.id = i.entry_point_id
        WHERE i.channel = 'chat' AND i.attributes ? 'visitorId' ORDER BY i.created_at DESC LIMIT 1`,
    );
    const { rows: away } = await db.query<{ id: string }>(`SELECT id FROM agents WHERE state = 'away' ORDER BY id LIMIT 1`);
    const chat = chats[0];
    const agent = away[0];
    if (!chat || !agent) return null;

    const executed: Partial<Record<Step, number>> = {};
    db.on('notice', (n) => {
      const m = /duration: ([\d.]+) ms\s+execute ([^:]+):/.exec(n.message ?? '');
      const step = m && (Object.keys(NAMES) as Step[]).find((s) => NAMES[s] === m[2]);
      if (step) executed[step] = Number(m[1]);
    });
    await db.query('SET client_min_messages = log');

    const samples = { message: { roundTrip: [] as number[], execute: [] as number[] }, claim: { roundTrip: [] as number[], execute: [] as number[] }, screenPop: { roundTrip: [] as number[], execute: [] as number[] } };
    let logged = false;
    const timed = async <T>(step: Step, f: () => Promise<T>): Promise<T> => {
      delete executed[step];
      const t0 = performance.now();
      const out = await f();
      const t1 = performance.now();
      // The statement's log line comes before its answer: it is in by now.
      if (!logged) samples[step].roundTrip.push(t1 - t0);
      else if (executed[step] !== undefined) samples[step].execute.push(executed[step]!);
      return out;
    };

    const rounds = opts.rounds ?? 200;
    for (let k = 0; k < rounds; k++) {
      logged = k % 2 === 1;
      await db.query('BEGIN');
      try {
        // Undone with the round's ROLLBACK.
        if (logged) await db.query('SET LOCAL log_min_duration_statement = 0');
        const cmd = chatMessageCommand({ visitorId: chat.visitor, customerId: chat.customer_id, pendingInteractionId: randomUUID(), widget: chat.widget, clientMessageId: `write-sql-${randomUUID()}`, text: 'probe: hello, I need help', now: new Date() });
        if (!isMessageCommand(cmd)) throw new Error('the probe message is not a plain message');
        await timed('message', () => appendMessagesInOneStatement(db, [cmd]));
        const { rows: head } = await db.query<{ id: string }>(`SELECT id FROM interactions WHERE state = 'queued' AND channel = 'sms' ORDER BY priority DESC, queued_at, id LIMIT 1`);
        if (!head[0]) return null;
        const made = await timed('claim', () =>
          createOffer(
            db,
            { offerId: randomUUID(), interactionId: head[0]!.id, agentId: agent.id, explanation: { strategy: 'longest-idle', reason: 'bench' }, timeoutSeconds: 60, requireAvailable: false },
            { idempotencyKey: `write-sql:${randomUUID()}`, payload: { agentId: agent.id }, occurredAt: new Date() },
          ),
        );
        if (!made) throw new Error('the backlog head was not claimed for the agent away');
        await timed('screenPop', () => readScreenPop(db, { interactionId: made.offer.interactionId, customerId: made.offer.customerId, queueId: made.offer.queueId }, POP_HISTORY));
      } finally {
        await db.query('ROLLBACK');
      }
    }
    const times = (s: { roundTrip: number[]; execute: number[] }): StatementTimes => ({ roundTrip: summarize(s.roundTrip), execute: summarize(s.execute) });
    return { message: times(samples.message), claim: times(samples.claim), screenPop: times(samples.screenPop) };
  } finally {
    await db.end();
  }
}
