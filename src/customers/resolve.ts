/**
 * Resolve-or-create, inside the caller's transaction. Concurrent first contacts from one
 * address converge on one customer: the identity's unique index decides the winner, losers
 * wait for it, drop the customer row they created and use the winner's.
 */
import type { Queryable } from '../platform/db';
import { AppError, notFound } from '../platform/errors';
import type { CustomerTarget } from '../interactions/events.types';
import { deleteCustomer, findIdentityOwner, findRootId, insertCustomer, insertIdentity } from './customers.repository';

export async function resolveCustomer(tx: Queryable, target: CustomerTarget): Promise<string> {
  if ('id' in target) {
    const root = await findRootId(tx, target.id);
    if (!root) throw notFound('customer', target.id);
    return root;
  }
  const existing = await findIdentityOwner(tx, target.identity);
  if (existing) return rootOf(tx, existing);

  const created = await insertCustomer(tx, target.preferredId ?? null);
  if (created && (await insertIdentity(tx, created, target.identity))) return created;
  if (created) await deleteCustomer(tx, created);
  const winner = await findIdentityOwner(tx, target.identity);
  if (!winner) throw new AppError('SB_CONFLICT', 'customer identity could not be resolved; retry');
  return rootOf(tx, winner);
}

async function rootOf(tx: Queryable, id: string): Promise<string> {
  const root = await findRootId(tx, id);
  if (!root) throw notFound('customer', id);
  return root;
}
