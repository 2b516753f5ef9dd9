/**
 * What an offer's screen pop shows, read in one statement: the interaction, the customer who
 * stands for the offer's customer now (merges followed) with the identities of everyone merged
 * into them, their latest history, and the queue's script. One round trip, where reading each
 * part on its own took seven statements on five connections, beside the routing pass that made
 * the offer.
 */
import type { Queryable } from '../platform/db';
import type { Channel, Identity, StoredEvent } from '../interactions/events.types';
import { customerEventsFromJson, customerEventsJson } from '../interactions/events.repository';
import { chainFrom, tree } from '../customers/customers.repository';

/** How many of the customer's latest events a screen pop shows. */
export const POP_HISTORY = 10;

export interface ScreenPopRecord {
  interaction: { id: string; channel: Channel; queueId: string | null; subject: string | null } | null;
  customer: { id: string; name: string | null; attributes: Record<string, unknown>; tags: string[]; identities: Identity[] } | null;
  /** Newest first. */
  history: StoredEvent[];
  script: string | null;
}

type Row = {
  interaction: { id: string; channel: Channel; queue_id: string | null; subject: string | null } | null;
  customer: { id: string; name: string | null; attributes: Record<string, unknown>; tags: string[]; identities: Identity[] } | null;
  history: Parameters<typeof customerEventsFromJson>[0];
  script: string | null;
};

/**
 * `customerId` and `queueId`: the offer's (its interaction's as recorded at the claim); when the
 * read is made before the offer is known to have been claimed (`undefined`), the interaction's own.
 */
export async function readScreenPop(db: Queryable, o: { interactionId: string; customerId?: string; queueId?: string | null }, historyLimit: number): Promise<ScreenPopRecord> {
  const known = o.customerId !== undefined;
  const { rows } = await db.query<Row>({
    name: 'agents.screen-pop',
    text: `WITH RECURSIVE ${chainFrom('CASE WHEN $5 THEN $1::uuid ELSE (SELECT customer_id FROM interactions WHERE id = $2) END')}, root AS (SELECT id FROM chain WHERE merged_into IS NULL LIMIT 1), ${tree('root')},
          merged AS (SELECT ARRAY(SELECT id FROM tree) AS ids)
     SELECT (SELECT json_build_object('id', i.id, 'channel', i.channel, 'queue_id', i.queue_id, 'subject', i.subject) FROM interactions i WHERE i.id = $2) AS interaction,
            (SELECT json_build_object('id', c.id, 'name', c.name, 'attributes', c.attributes, 'tags', c.tags,
                      'identities', (SELECT COALESCE(json_agg(json_build_object('kind', ci.kind, 'value', ci.value) ORDER BY ci.created_at, ci.value), '[]'::json)
                                       FROM customer_identities ci WHERE ci.customer_id = ANY(merged.ids)))
               FROM customers c WHERE c.id = (SELECT id FROM root)) AS customer,
            ${customerEventsJson('merged.ids', '$3::int')} AS history,
            (SELECT q.script FROM queues q WHERE q.id = CASE WHEN $5 THEN $4::uuid ELSE (SELECT queue_id FROM interactions WHERE id = $2) END) AS script
       FROM merged`,
    values: [o.customerId ?? null, o.interactionId, historyLimit, o.queueId ?? null, known],
  });
  const r = rows[0]!;
  return {
    interaction: r.interaction && { id: r.interaction.id, channel: r.interaction.channel, queueId: r.interaction.queue_id, subject: r.interaction.subject },
    customer: r.customer,
    history: customerEventsFromJson(r.history),
    script: r.script,
  };
}
