/**
 * SQL of offers: the claim that records one (conditional on the interaction still waiting, the
 * agent still available and a slot free), and the decisions on it (accept, decline, expire,
 * release). Each is a conditional UPDATE on the state it expects.
 */
import type { Queryable } from '../platform/db';
import type { Channel, EventPayload, HeldInteraction, StoredEvent } from '../interactions/events.types';
import { insertEventsFrom } from '../interactions/events.repository';
import type { Explanation } from './selection';
import { horizonLost, openOn } from './free-agents.repository';
import { interactionColumns, interactionFromRow, type InteractionRow } from '../interactions/interactions.repository';
import { rootOf } from '../customers/customers.repository';
import { ROUTER_LOCK_KEY } from './routing.repository';

/**
 * What a claim sent ahead of a pass (see routing/claim-ahead.ts) was planned from, checked in
 * its statement: the contact in this queue, new (not relaxed by escalation, no skills of its
 * own), the queue's skills and strategy as the plan took them, nothing else waiting in the
 * agent's queues on the channels it had free, no agent changed since the free agents were read
 * (`horizon`, `epoch`: see Horizon), and the routing lock free (taken for the transaction).
 */
export interface ClaimAheadGuard {
  queueId: string;
  queueSkills: Record<string, number>;
  strategy: string;
  agentQueueIds: string[];
  agentChannels: Channel[];
  horizon: string;
  epoch: string | null;
}

const AHEAD_GUARD = `AND i.queue_id = $10::uuid AND i.skill_relax = 0 AND NOT (i.attributes ? 'skills')
          AND EXISTS (SELECT 1 FROM queues q WHERE q.id = $10::uuid AND q.skills = $11::jsonb AND q.strategy = $12::text)
          AND NOT EXISTS (SELECT 1 FROM unnest($13::uuid[]) AS aq(id) CROSS JOIN unnest($14::text[]) AS ac(channel) CROSS JOIN LATERAL (
                            SELECT 1 FROM interactions w WHERE w.state = 'queued' AND w.queue_id = aq.id AND w.channel = ac.channel AND w.id <> $1
                             ORDER BY w.priority DESC, w.queued_at LIMIT 1) w)
          AND NOT EXISTS (SELECT 1 FROM agents_changed_since($15::pg_snapshot))
          AND NOT (SELECT ${horizonLost('$15', '$16')} FROM agent_changes_pruned)
          AND pg_try_advisory_xact_lock(${ROUTER_LOCK_KEY})`;

export interface CreatedOffer {
  id: string;
  interactionId: string;
  /** The interaction's customer (as recorded on it; a merge may since have joined it to another). */
  customerId: string;
  agentId: string;
  queueId: string | null;
  channel: Channel;
  expiresAt: Date;
  createdAt: Date;
}

/** The offer's own event (`offer.created`), stored by the claim's statement. */
export interface OfferEvent {
  idempotencyKey: string;
  payload: EventPayload;
  occurredAt: Date;
}

/**
 * Claim a waiting interaction for an agent, record the offer (its id given) and append its
 * `offer.created` event, in one statement: only if the interaction is still waiting, the agent
 * still available, and a slot of that channel free (the agent's last offer time moves with it,
 * for round-robin). The event goes in through the events' one insert (insertEventsFrom), with
 * the interaction's next sequence number taken by the claim's own update, on behalf of the
 * customer that stands for the interaction's now. Also returns the interaction as claimed (its
 * row now locked by `tx`). Throws, for the caller to roll back, if the event's key is taken.
 */
export async function createOffer(
  tx: Queryable,
  o: { offerId: string; interactionId: string; agentId: string; explanation: Explanation | Record<string, unknown>; timeoutSeconds: number; requireAvailable?: boolean },
  event: OfferEvent,
  guard?: ClaimAheadGuard,
): Promise<{ offer: CreatedOffer; held: HeldInteraction; event: StoredEvent } | null> {
  const { rows } = await tx.query<InteractionRow & { offer_id: string; expires_at: Date; offer_created_at: Date; customer_root: string; event_id: string | null; event_seq: number }>({
    name: guard ? 'offers.create-ahead' : 'offers.create',
    text: `WITH agent AS (
       SELECT a.id, a.capacity FROM agents a WHERE a.id = $2 AND (a.state = 'available' OR NOT $5)
     ), claimed AS (
       UPDATE interactions i SET state = 'offered', agent_id = $2, last_seq = i.last_seq + 1, updated_at = clock_timestamp()
        FROM agent
        WHERE i.id = $1 AND i.state = 'queued'
          AND ${openOn('$2', 'i.channel')} < COALESCE((agent.capacity ->> i.channel)::int, 0)
          ${guard ? AHEAD_GUARD : ''}
       RETURNING ${interactionColumns('i')}, i.last_seq
     ), touched AS (
       UPDATE agents SET last_offer_at = clock_timestamp() WHERE id = $2 AND EXISTS (SELECT 1 FROM claimed)
     ), made AS (
       INSERT INTO offers (id, interaction_id, agent_id, queue_id, channel, state, explanation, queued_at, expires_at)
       SELECT $6, id, $2, queue_id, channel, 'pending', $3, queued_at, clock_timestamp() + make_interval(secs => $4) FROM claimed
       RETURNING id, expires_at, created_at
     ), input AS (
       SELECT COALESCE(${rootOf('claimed.customer_id')}, claimed.customer_id) AS customer_id, claimed.id AS interaction_id, claimed.last_seq AS seq,
              'offer.created' AS type, claimed.channel, 'internal' AS direction, $7::text AS idempotency_key, $8::jsonb AS payload,
              $9::timestamptz AS occurred_at, 1 AS n
         FROM claimed CROSS JOIN made
     ), appended AS (
       ${insertEventsFrom('input')}
     )
     SELECT claimed.*, made.id AS offer_id, made.expires_at, made.created_at AS offer_created_at, input.customer_id AS customer_root,
            appended.id AS event_id, input.seq AS event_seq
       FROM made CROSS JOIN claimed CROSS JOIN input LEFT JOIN appended ON true`,
    values: [
      o.interactionId, o.agentId, JSON.stringify(o.explanation), o.timeoutSeconds, o.requireAvailable ?? true, o.offerId, event.idempotencyKey, JSON.stringify(event.payload), event.occurredAt,
      ...(guard ? [guard.queueId, JSON.stringify(guard.queueSkills), guard.strategy, guard.agentQueueIds, guard.agentChannels, guard.horizon, guard.epoch] : []),
    ],
  });
  const r = rows[0];
  if (!r) return null;
  if (r.event_id === null) throw new Error(`offer event key ${event.idempotencyKey} is taken`);
  const interaction = interactionFromRow(r);
  return {
    offer: { id: r.offer_id, interactionId: r.id, customerId: r.customer_id, agentId: o.agentId, queueId: r.queue_id, channel: r.channel, expiresAt: r.expires_at, createdAt: r.offer_created_at },
    held: { interaction, customerRoot: r.customer_root },
    event: {
      id: r.event_id, customerId: r.customer_root, interactionId: r.id, seq: r.event_seq, type: 'offer.created', channel: r.channel,
      direction: 'internal', payload: event.payload, occurredAt: event.occurredAt,
    },
  };
}

export interface OfferRecord {
  id: string;
  interactionId: string;
  agentId: string;
  queueId: string | null;
  channel: Channel;
  state: 'pending' | 'accepted' | 'rejected' | 'expired' | 'revoked';
  explanation: Record<string, unknown>;
  createdAt: Date;
  expiresAt: Date;
  decidedAt: Date | null;
  decidedReason: string | null;
  expired: boolean;
}

export async function findOffer(db: Queryable, id: string): Promise<OfferRecord | null> {
  const { rows } = await db.query<{
    id: string; interaction_id: string; agent_id: string; queue_id: string | null; channel: Channel; state: OfferRecord['state'];
    explanation: Record<string, unknown>; created_at: Date; expires_at: Date; decided_at: Date | null; decided_reason: string | null; expired: boolean;
  }>({
    name: 'offers.find',
    text: `SELECT id, interaction_id, agent_id, queue_id, channel, state, explanation, created_at, expires_at, decided_at, decided_reason,
            expires_at <= clock_timestamp() AS expired
       FROM offers WHERE id = $1`,
    values: [id],
  });
  const r = rows[0];
  return r
    ? { id: r.id, interactionId: r.interaction_id, agentId: r.agent_id, queueId: r.queue_id, channel: r.channel, state: r.state, explanation: r.explanation, createdAt: r.created_at, expiresAt: r.expires_at, decidedAt: r.decided_at, decidedReason: r.decided_reason, expired: r.expired }
    : null;
}

export async function listOffersOf(db: Queryable, interactionId: string): Promise<OfferRecord[]> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM offers WHERE interaction_id = $1 ORDER BY created_at', [interactionId]);
  const offers = await Promise.all(rows.map((r) => findOffer(db, r.id)));
  return offers.filter((o): o is OfferRecord => o !== null);
}

/** pending → accepted, only for its agent and before it expires. */
export async function markAccepted(tx: Queryable, offerId: string, agentId: string): Promise<boolean> {
  const { rowCount } = await tx.query({
    name: 'offers.accept',
    text: `UPDATE offers SET state = 'accepted', decided_at = clock_timestamp()
      WHERE id = $1 AND agent_id = $2 AND state = 'pending' AND expires_at > clock_timestamp()`,
    values: [offerId, agentId],
  });
  return (rowCount ?? 0) > 0;
}

/** pending → rejected | expired | revoked; the agent's hold ends at once. */
export async function markDeclined(
  tx: Queryable,
  offerId: string,
  to: 'rejected' | 'expired' | 'revoked',
  reason: string,
  opts: { agentId?: string; onlyIfDue?: boolean } = {},
): Promise<OfferRecord | null> {
  const { rows } = await tx.query<{ id: string }>({
    name: 'offers.decline',
    text: `UPDATE offers SET state = $2, decided_at = clock_timestamp(), released_at = clock_timestamp(), decided_reason = $3
      WHERE id = $1 AND state = 'pending' AND ($4::uuid IS NULL OR agent_id = $4) AND (NOT $5 OR expires_at <= clock_timestamp())
      RETURNING id`,
    values: [offerId, to, reason, opts.agentId ?? null, opts.onlyIfDue ?? false],
  });
  return rows[0] ? findOffer(tx, offerId) : null;
}

export async function pendingOfferOf(tx: Queryable, interactionId: string): Promise<OfferRecord | null> {
  const { rows } = await tx.query<{ id: string }>(`SELECT id FROM offers WHERE interaction_id = $1 AND state = 'pending'`, [interactionId]);
  return rows[0] ? findOffer(tx, rows[0].id) : null;
}

/** The accepted offer whose agent still holds the interaction: its hold ends now. */
export async function releaseAccepted(tx: Queryable, interactionId: string): Promise<void> {
  await tx.query({
    name: 'offers.release-accepted',
    text: `UPDATE offers SET released_at = clock_timestamp() WHERE interaction_id = $1 AND state = 'accepted' AND released_at IS NULL`,
    values: [interactionId],
  });
}

export async function overdueOfferIds(db: Queryable, limit = 500): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM offers WHERE state = 'pending' AND expires_at <= clock_timestamp() ORDER BY expires_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}
