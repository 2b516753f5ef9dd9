/**
 * Writes of the ingest path done in one statement each, committed on its own. Plain messages:
 * the customers resolved (new ones created with their identity), the conversations locked or
 * opened, the `#queued` events of the ones opened into a queue and every message's event
 * appended with its sequence number. An event on an interaction an agent holds (a chat reply):
 * see `appendEventInOneStatement`.
 * The same steps as `appendMessages`, from the same SQL, in one round trip instead of four
 * (BEGIN and the customers, the conversations, the events, COMMIT).
 *
 * When a step cannot do its part — an identity or a conversation another writer is creating at
 * the same moment, an idempotency key already stored — the statement ends in an error
 * (`statement_assert`), which undoes all of it, and the caller takes the step-by-step path,
 * which handles those cases. So the statement either stores everything, or nothing.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../platform/db';
import { customersWithIdentitiesFrom, identityRootsFrom, rootOf } from '../customers/customers.repository';
import { insertEventsFrom, toStoredEvent } from './events.repository';
import type { IngestCommand, IngestResult, StoredEvent } from './events.types';
import { interactionColumnsAs, interactionFromPrefixed, lockOrInsertConversationsFrom } from './interactions.repository';
import type { MessageCommand } from './append';

/** The statement stored nothing: one of its steps met another writer or a stored key. */
export class NotInOneStatement extends Error {
  constructor(readonly step: string) {
    super(`not in one statement: ${step}`);
  }
}

/** statement_assert's SQLSTATE (migrations/010_statement_assert.sql). */
const INCOMPLETE = 'SBI01';

/** Run one of these statements: its rows, or NotInOneStatement when statement_assert undid it. */
async function runStatement(db: Queryable, query: { name: string; text: string; values: unknown[] }): Promise<Array<Record<string, unknown>>> {
  try {
    return (await db.query(query)).rows;
  } catch (err) {
    if ((err as { code?: string }).code === INCOMPLETE) throw new NotInOneStatement(String((err as Error).message));
    throw err;
  }
}

const SQL = `WITH RECURSIVE msg AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bool[],
                            $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::timestamptz[])
         WITH ORDINALITY AS t(kind, value, customer_id, conversation_id, channel, conversation_direction, conversation_key, entry_address, ivr,
                              subject, attributes, type, direction, idempotency_key, payload, occurred_at, m)
     ),
     identities AS (SELECT DISTINCT kind, value FROM msg),
     ${identityRootsFrom('identities')},
     fresh AS (
       SELECT DISTINCT ON (msg.kind, msg.value) msg.customer_id AS id, msg.kind, msg.value, msg.m AS n FROM msg
        WHERE NOT EXISTS (SELECT 1 FROM roots WHERE roots.kind = msg.kind AND roots.value = msg.value)
        ORDER BY msg.kind, msg.value, msg.m
     ),
     ${customersWithIdentitiesFrom('fresh')},
     who AS (SELECT kind, value, id FROM roots UNION ALL SELECT kind, value, customer_id FROM i),
     sent AS (SELECT msg.*, who.id AS customer FROM msg JOIN who ON who.kind = msg.kind AND who.value = msg.value),
     requests AS (
       SELECT DISTINCT ON (conversation_key) conversation_id AS id, customer AS customer_id, channel, conversation_direction AS direction,
              conversation_key, entry_address, ivr, subject, attributes, occurred_at AS now,
              idempotency_key AS first_key, m AS first_m, count(*) OVER (PARTITION BY conversation_key) AS messages
         FROM sent ORDER BY conversation_key, m
     ),
     ${lockOrInsertConversationsFrom('requests', "messages + CASE WHEN state = 'queued' THEN 1 ELSE 0 END")},
     conversations AS (SELECT *, false AS opened FROM found UNION ALL SELECT *, true AS opened FROM opened),
     continued AS (
       UPDATE interactions x SET last_seq = x.last_seq + r.messages, updated_at = now()
         FROM found f JOIN requests r ON r.conversation_key = f.conversation_key
        WHERE x.id = f.id
       RETURNING x.id, x.last_seq - r.messages AS base
     ),
     bases AS (SELECT id, base FROM continued UNION ALL SELECT id, 0 FROM opened),
     items AS (
       SELECT cv.id AS interaction_id, r.customer_id, 'interaction.queued' AS type, r.channel, 'internal' AS direction,
              r.first_key || '#queued' AS idempotency_key, jsonb_build_object('queueId', cv.queue_id, 'entryPointId', cv.entry_point_id) AS payload,
              r.now AS occurred_at, r.first_m AS m, 0 AS k
         FROM conversations cv JOIN requests r ON r.conversation_key = cv.conversation_key
        WHERE cv.opened AND cv.state = 'queued'
       UNION ALL
       SELECT cv.id, sent.customer, sent.type, sent.channel, sent.direction, sent.idempotency_key, sent.payload::jsonb, sent.occurred_at, sent.m, 1
         FROM sent JOIN conversations cv ON cv.conversation_key = sent.conversation_key
     ),
     numbered AS (
       SELECT items.*, bases.base + row_number() OVER (PARTITION BY items.interaction_id ORDER BY items.m, items.k) AS seq,
              row_number() OVER (ORDER BY items.m, items.k) AS n
         FROM items JOIN bases ON bases.id = items.interaction_id
     ),
     stored AS (${insertEventsFrom('numbered')}),
     verdict AS MATERIALIZED (
       SELECT statement_assert(problem IS NULL, problem) AS ok, set_config('synchronous_commit', $17, true) AS commit_mode FROM (SELECT CASE
         WHEN (SELECT count(*) FROM sent) < (SELECT count(*) FROM msg) THEN 'customer'
         WHEN (SELECT count(*) FROM conversations) < (SELECT count(*) FROM requests) THEN 'conversation'
         WHEN (SELECT count(*) FROM stored) < (SELECT count(*) FROM numbered) THEN 'idempotency key'
       END AS problem) p
     )
     SELECT s.id, s.customer_id, s.interaction_id, s.seq, s.type, s.channel, s.direction, s.payload, s.occurred_at, nb.m,
            ${interactionColumnsAs('cv', 'i_')}
       FROM verdict LEFT JOIN (stored s JOIN numbered nb ON nb.idempotency_key = s.idempotency_key JOIN conversations cv ON cv.id = s.interaction_id)
         ON verdict.ok
      ORDER BY s.id`;

export interface OneStatementOptions {
  /**
   * Commit without waiting for the WAL to reach the disk (synchronous_commit off for the
   * statement's own transaction, set inside it). The messages are then visible but not yet
   * durable when it is answered: nobody may be told they are stored before a statement sent
   * behind it on the same connection has flushed the WAL (flushWal).
   */
  asyncCommit?: boolean;
}

/**
 * Append plain messages (idempotency keys distinct) in one statement, outside any transaction:
 * per message, in order, its result. Throws NotInOneStatement, having stored nothing, when the
 * step-by-step path must do it.
 */
export async function appendMessagesInOneStatement(db: Queryable, cmds: MessageCommand[], opts: OneStatementOptions = {}): Promise<IngestResult[]> {
  const col = <T>(f: (c: MessageCommand) => T): T[] => cmds.map(f);
  const rows = await runStatement(db, {
    name: 'events.append-messages',
    text: SQL,
    values: [
      col((c) => c.customer.identity.kind),
      col((c) => c.customer.identity.value),
      col((c) => c.customer.preferredId ?? randomUUID()),
      col((c) => c.interaction.open.id ?? randomUUID()),
      col((c) => c.channel),
      col((c) => c.interaction.open.direction),
      col((c) => c.interaction.key),
      col((c) => c.interaction.open.entryAddress),
      col((c) => c.interaction.open.ivr ?? false),
      col((c) => c.interaction.open.subject ?? null),
      col((c) => JSON.stringify(c.interaction.open.attributes ?? {})),
      col((c) => c.type),
      col((c) => c.direction),
      col((c) => c.idempotencyKey),
      col((c) => JSON.stringify(c.payload)),
      col((c) => c.occurredAt),
      // Local to the statement's transaction: the connection's next statement commits as usual.
      opts.asyncCommit ? 'off' : 'on',
    ],
  });
  const appended: StoredEvent[][] = cmds.map(() => []);
  const interactions: Array<Record<string, unknown>> = new Array(cmds.length);
  for (const r of rows) {
    const m = Number(r.m) - 1;
    appended[m]!.push(toStoredEvent(r as unknown as Parameters<typeof toStoredEvent>[0]));
    interactions[m] = r;
  }
  return cmds.map((_, m) => {
    const events = appended[m]!;
    const event = events[events.length - 1];
    if (!event) throw new Error(`message ${m} came back without its event`);
    return { duplicate: false, event, appended: events, interaction: interactionFromPrefixed(interactions[m]!, 'i_'), customerId: event.customerId };
  });
}

const EVENT_SQL = `WITH target AS (
       SELECT ${interactionColumnsAs('interactions', 'i_')} FROM interactions WHERE id = $1 AND agent_id = $2 AND state = $3 FOR UPDATE
     ),
     root AS (SELECT ${rootOf('$4')} AS id),
     bumped AS (
       UPDATE interactions x SET last_seq = x.last_seq + 1, updated_at = now() FROM target WHERE x.id = target.i_id
       RETURNING x.id, x.last_seq AS seq
     ),
     input AS (
       SELECT root.id AS customer_id, bumped.id AS interaction_id, bumped.seq, $5::text AS type, $6::text AS channel, $7::text AS direction,
              $8::text AS idempotency_key, $9::jsonb AS payload, $10::timestamptz AS occurred_at, 1 AS n
         FROM bumped CROSS JOIN root WHERE root.id IS NOT NULL
     ),
     stored AS (${insertEventsFrom('input')}),
     verdict AS MATERIALIZED (
       SELECT statement_assert(problem IS NULL, problem) AS ok FROM (SELECT CASE
         WHEN NOT EXISTS (SELECT 1 FROM target) THEN 'interaction'
         WHEN (SELECT id FROM root) IS NULL THEN 'customer'
         WHEN NOT EXISTS (SELECT 1 FROM stored) THEN 'idempotency key'
       END AS problem) p
     )
     SELECT s.id, s.customer_id, s.interaction_id, s.seq, s.type, s.channel, s.direction, s.payload, s.occurred_at, target.*
       FROM verdict LEFT JOIN (stored s CROSS JOIN target) ON verdict.ok`;

/**
 * Append one event to an existing interaction in one statement, outside any transaction, when
 * the interaction has the agent and state the command names (`inOneStatementWhen`): the row
 * locked and its sequence moved on, the event appended for the customer that now stands for
 * `cmd.customer`. Throws NotInOneStatement, having stored nothing, otherwise (another agent or
 * state, the key stored already): the transaction with the command's `apply` then decides.
 */
export async function appendEventInOneStatement(db: Queryable, cmd: IngestCommand): Promise<IngestResult> {
  const when = cmd.inOneStatementWhen;
  if (!when || cmd.interaction.kind !== 'existing' || !('id' in cmd.customer)) throw new NotInOneStatement('command');
  const rows = await runStatement(db, {
    name: 'events.append-to-interaction',
    text: EVENT_SQL,
    values: [cmd.interaction.id, when.agentId, when.state, cmd.customer.id, cmd.type, cmd.channel, cmd.direction, cmd.idempotencyKey, JSON.stringify(cmd.payload), cmd.occurredAt],
  });
  const row = rows[0]!;
  const event = toStoredEvent(row as unknown as Parameters<typeof toStoredEvent>[0]);
  return { duplicate: false, event, appended: [event], interaction: interactionFromPrefixed(row, 'i_'), customerId: event.customerId };
}
