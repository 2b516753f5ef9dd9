import type { Queryable } from '../platform/db';
import type { Identity, IdentityKind } from '../interactions/events.types';

export interface CustomerRecord {
  id: string;
  name: string | null;
  attributes: Record<string, unknown>;
  tags: string[];
  mergedInto: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface CustomerRow {
  id: string;
  name: string | null;
  attributes: Record<string, unknown>;
  tags: string[];
  merged_into: string | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, name, attributes, tags, merged_into, created_at, updated_at';

const toRecord = (r: CustomerRow): CustomerRecord => ({
  id: r.id,
  name: r.name,
  attributes: r.attributes,
  tags: r.tags,
  mergedInto: r.merged_into,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export async function findCustomer(db: Queryable, id: string, forUpdate = false): Promise<CustomerRecord | null> {
  const { rows } = await db.query<CustomerRow>(`SELECT ${COLUMNS} FROM customers WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** Merges followed upward from the customer `param`: every customer on the way, the root the one with merged_into NULL. */
export const chainFrom = (param: string): string => `chain(id, merged_into, depth) AS (
       SELECT id, merged_into, 0 FROM customers WHERE id = ${param}
       UNION ALL
       SELECT c.id, c.merged_into, chain.depth + 1 FROM customers c JOIN chain ON c.id = chain.merged_into WHERE chain.depth < 32
     )`;
const CHAIN = chainFrom('$1');

/** SQL for a scalar subquery: the customer that currently stands for the customer `param` (null if none). */
export const rootOf = (param: string): string => `(WITH RECURSIVE ${chainFrom(param)} SELECT id FROM chain WHERE merged_into IS NULL LIMIT 1)`;

/** The customers `seed` selects (by id) and everyone merged into them, directly or through a chain. */
export const tree = (seed: string): string => `tree(id, depth) AS (
       SELECT id, 0 FROM ${seed}
       UNION ALL
       SELECT c.id, tree.depth + 1 FROM customers c JOIN tree ON c.merged_into = tree.id WHERE tree.depth < 32
     )`;

/** Follow merges to the customer that currently stands for `id` (itself when never merged). */
export async function findRootId(db: Queryable, id: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(`WITH RECURSIVE ${CHAIN} SELECT id FROM chain WHERE merged_into IS NULL LIMIT 1`, [id]);
  return rows[0]?.id ?? null;
}

/** The customer and everyone merged into it (directly or through a chain). */
export async function findMergedSet(db: Queryable, rootId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(`WITH RECURSIVE ${tree('customers WHERE id = $1')} SELECT id FROM tree`, [rootId]);
  return rows.map((r) => r.id);
}

/**
 * The root of the customer `id` was merged into (or `id` itself) and everyone merged into that
 * root: findRootId and findMergedSet in one statement, for reads that need both.
 */
export async function findRootAndSet(db: Queryable, id: string): Promise<{ root: string; set: string[] } | null> {
  const { rows } = await db.query<{ root: string; id: string }>(
    `WITH RECURSIVE ${CHAIN}, root AS (SELECT id FROM chain WHERE merged_into IS NULL LIMIT 1), ${tree('root')}
     SELECT (SELECT id FROM root) AS root, id FROM tree`,
    [id],
  );
  return rows[0] ? { root: rows[0].root, set: rows.map((r) => r.id) } : null;
}

export async function listIdentities(db: Queryable, customerIds: string[]): Promise<Identity[]> {
  const { rows } = await db.query<{ kind: IdentityKind; value: string }>(
    'SELECT kind, value FROM customer_identities WHERE customer_id = ANY($1::uuid[]) ORDER BY created_at, value',
    [customerIds],
  );
  return rows.map((r) => ({ kind: r.kind, value: r.value }));
}

export const identityKey = (i: Identity): string => `${i.kind}:${i.value}`;

/**
 * WITH RECURSIVE clauses: `roots` (kind, value, id), the customer that currently stands for the
 * owner of each identity of the relation `input` (kind, value), merges followed; identities
 * nobody holds are absent.
 */
export const identityRootsFrom = (input: string): string => `chain(kind, value, id, merged_into, depth) AS (
       SELECT ci.kind, ci.value, c.id, c.merged_into, 0
         FROM ${input} JOIN customer_identities ci ON ci.kind = ${input}.kind AND ci.value = ${input}.value
         JOIN customers c ON c.id = ci.customer_id
       UNION ALL
       SELECT chain.kind, chain.value, c.id, c.merged_into, chain.depth + 1
         FROM customers c JOIN chain ON c.id = chain.merged_into WHERE chain.depth < 32
     ),
     roots AS (SELECT DISTINCT ON (kind, value) kind, value, id FROM chain WHERE merged_into IS NULL ORDER BY kind, value)`;

/**
 * The customers that currently stand for the identities' owners (merges followed), in one round
 * trip: identity key (`kind:value`) → root id; identities nobody holds are absent.
 */
export async function findIdentityRoots(db: Queryable, identities: Identity[]): Promise<Map<string, string>> {
  const { rows } = await db.query<{ kind: IdentityKind; value: string; id: string }>({
    name: 'customers.identity-roots',
    text: `WITH RECURSIVE input AS (SELECT * FROM unnest($1::text[], $2::text[]) AS t(kind, value)),
     ${identityRootsFrom('input')}
     SELECT kind, value, id FROM roots`,
    values: [identities.map((i) => i.kind), identities.map((i) => i.value)],
  });
  return new Map(rows.map((r) => [identityKey(r), r.id]));
}

/**
 * WITH clauses: `c` (id), the customers of the relation `input` (id, kind, value, n) inserted,
 * those whose id exists left out; `i` (customer_id, kind, value), the identities attached to
 * them, those another writer holds left out. Identities go in a fixed order, so concurrent
 * writers wait for each other instead of deadlocking.
 */
export const customersWithIdentitiesFrom = (input: string): string =>
  `c AS (INSERT INTO customers (id) SELECT id FROM ${input} ORDER BY n ON CONFLICT (id) DO NOTHING RETURNING id),
          i AS (INSERT INTO customer_identities (customer_id, kind, value)
                SELECT ${input}.id, ${input}.kind, ${input}.value FROM ${input} JOIN c ON c.id = ${input}.id ORDER BY ${input}.kind, ${input}.value
                ON CONFLICT (kind, value) DO NOTHING RETURNING customer_id, kind, value)`;

/**
 * New customers, each with its first identity, in one statement. Per row: `created` is false
 * when the chosen id exists; `attached` is false when another writer holds the identity (the
 * caller then deletes the customer it created and uses the winner).
 */
export async function insertCustomersWithIdentities(
  db: Queryable,
  rows: Array<{ id: string; identity: Identity }>,
): Promise<Array<{ created: boolean; attached: boolean }>> {
  const { rows: out } = await db.query<{ n: string; created: boolean; attached: boolean }>({
    name: 'customers.insert-with-identities',
    text: `WITH input AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS t(id, kind, value, n)),
          ${customersWithIdentitiesFrom('input')}
     SELECT input.n, c.id IS NOT NULL AS created, i.customer_id IS NOT NULL AS attached
       FROM input LEFT JOIN c ON c.id = input.id LEFT JOIN i ON i.kind = input.kind AND i.value = input.value
      ORDER BY input.n`,
    values: [rows.map((r) => r.id), rows.map((r) => r.identity.kind), rows.map((r) => r.identity.value)],
  });
  return out.map((r) => ({ created: r.created, attached: r.attached }));
}

export async function deleteCustomers(db: Queryable, ids: string[]): Promise<void> {
  await db.query('DELETE FROM customers WHERE id = ANY($1::uuid[])', [ids]);
}

export interface CustomerSearch {
  identity?: Identity;
  q?: string;
  limit: number;
}

/** Root customers matching an identity or a name/identity fragment. */
export async function searchCustomers(db: Queryable, s: CustomerSearch): Promise<string[]> {
  if (s.identity) {
    const root = (await findIdentityRoots(db, [s.identity])).get(identityKey(s.identity));
    return root ? [root] : [];
  }
  const pattern = `%${(s.q ?? '').replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const { rows } = await db.query<{ id: string }>(
    `SELECT DISTINCT c.id, c.created_at FROM customers c
       LEFT JOIN customer_identities ci ON ci.customer_id = c.id
      WHERE c.merged_into IS NULL AND (c.name ILIKE $1 OR ci.value ILIKE $1)
      ORDER BY c.created_at DESC LIMIT $2`,
    [pattern, s.limit],
  );
  return rows.map((r) => r.id);
}

export interface CustomerPatch {
  name?: string | null;
  attributes?: Record<string, unknown>;
  tags?: string[];
}

/** Apply a patch: attributes are merged key by key (a null value removes the key). */
export async function updateCustomer(db: Queryable, id: string, p: CustomerPatch): Promise<void> {
  await db.query(
    `UPDATE customers SET
       name = CASE WHEN $2 THEN $3 ELSE name END,
       attributes = CASE WHEN $4::jsonb IS NULL THEN attributes ELSE jsonb_strip_nulls(attributes || $4::jsonb) END,
       tags = COALESCE($5::text[], tags),
       updated_at = now()
     WHERE id = $1`,
    [id, p.name !== undefined, p.name ?? null, p.attributes === undefined ? null : JSON.stringify(p.attributes), p.tags ?? null],
  );
}

export async function markMerged(db: Queryable, sourceId: string, targetId: string, userId: string | null): Promise<void> {
  await db.query('UPDATE customers SET merged_into = $2, updated_at = now() WHERE id = $1', [sourceId, targetId]);
  await db.query('INSERT INTO customer_merges (target_id, source_id, merged_by) VALUES ($1, $2, $3)', [targetId, sourceId, userId]);
}
