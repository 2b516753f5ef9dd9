/**
 * Resolve-or-create, inside the caller's transaction. Concurrent first contacts from one
 * address converge on one customer: the identity's unique index decides the winner, losers
 * wait for it, drop the customer row they created and use the winner's.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../platform/db';
import { AppError, notFound } from '../platform/errors';
import type { CustomerTarget, Identity } from '../interactions/events.types';
import { deleteCustomers, findIdentityRoots, findRootId, identityKey, insertCustomersWithIdentities } from './customers.repository';

export type IdentityTarget = { identity: Identity; preferredId?: string };

export async function resolveCustomer(tx: Queryable, target: CustomerTarget): Promise<string> {
  if ('id' in target) {
    const root = await findRootId(tx, target.id);
    if (!root) throw notFound('customer', target.id);
    return root;
  }
  const [id] = await resolveIdentities(tx, [target]);
  return id!;
}

/**
 * The customer of each target, in order: one round trip when every identity is known, two when
 * some are new (all created in one statement). A target repeated in the list gets the customer
 * its first occurrence got.
 */
export async function resolveIdentities(tx: Queryable, targets: IdentityTarget[]): Promise<string[]> {
  const distinct = new Map<string, IdentityTarget>();
  for (const t of targets) if (!distinct.has(identityKey(t.identity))) distinct.set(identityKey(t.identity), t);
  const roots = await findIdentityRoots(tx, [...distinct.values()].map((t) => t.identity));

  const missing = [...distinct.entries()].filter(([key]) => !roots.has(key)).map(([, t]) => ({ id: t.preferredId ?? randomUUID(), identity: t.identity }));
  if (missing.length > 0) {
    const outcomes = await insertCustomersWithIdentities(tx, missing);
    const lost: string[] = [];
    missing.forEach((m, i) => {
      const o = outcomes[i]!;
      if (o.created && o.attached) roots.set(identityKey(m.identity), m.id);
      else if (o.created) lost.push(m.id);
    });
    if (lost.length > 0) await deleteCustomers(tx, lost);
    const unresolved = missing.filter((m) => !roots.has(identityKey(m.identity))).map((m) => m.identity);
    if (unresolved.length > 0) {
      for (const [key, id] of await findIdentityRoots(tx, unresolved)) roots.set(key, id);
    }
  }
  return targets.map((t) => {
    const id = roots.get(identityKey(t.identity));
    if (!id) throw new AppError('SB_CONFLICT', 'customer identity could not be resolved; retry');
    return id;
  });
}
