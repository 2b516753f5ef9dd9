/**
 * Resolve-or-create, inside the caller's transaction. Concurrent first contacts from one
 * address converge on one customer: the identity's unique index decides the winner, losers
 * wait for it, drop the customer row they created and use the winner's.
 */
import type { Queryable } from '../platform/db';
import { AppError, notFound } from '../platform/errors';
import type { CustomerTarget } from '../interactions/events.types';
import { deleteCustomer, findIdentityRoot, findRootId, insertCustomerWithIdentity } from './customers.repository';

export async function resolveCustomer(tx: Queryable, target: CustomerTarget): Promise<string> {
  if ('id' in target) {
    const root = await findRootId(tx, target.id);
    if (!root) throw notFound('customer', target.id);
    return root;
  }
  const existing = await findIdentityRoot(tx, target.identity);
  if (existing) return existing;

  const { created, attached } = await insertCustomerWithIdentity(tx, target.preferredId ?? null, target.identity);
  if (created && attached) return created;
  if (created) await deleteCustomer(tx, created);
  const winner = await findIdentityRoot(tx, target.identity);
  if (!winner) throw new AppError('SB_CONFLICT', 'customer identity could not be resolved; retry');
  return winner;
}
