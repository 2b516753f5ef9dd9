/**
 * Customer profiles: the view across merges, edits, notes and merge itself. Every change that
 * belongs in the timeline is written through the ingest path.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { AppError, notFound } from '../platform/errors';
import type { Identity } from '../interactions/events.types';
import type { IngestService } from '../interactions/ingest.service';
import { listCustomerEvents } from '../interactions/events.repository';
import { toHistoryItem, type HistoryItem } from '../interactions/history.mapper';
import {
  findCustomer,
  findRootAndSet,
  findRootId,
  listIdentities,
  markMerged,
  searchCustomers,
  updateCustomer,
  type CustomerPatch,
} from './customers.repository';

export interface CustomerView {
  id: string;
  name: string | null;
  identities: Identity[];
  attributes: Record<string, unknown>;
  tags: string[];
  mergedFrom: string[];
  createdAt: string;
  updatedAt: string;
}

export class CustomersService {
  constructor(
    private readonly db: Pool,
    private readonly ingest: IngestService,
  ) {}

  /** The customer as it stands now: a merged-away id shows the customer it was merged into. */
  async get(id: string): Promise<CustomerView> {
    const found = await findRootAndSet(this.db, id);
    if (!found) throw notFound('customer', id);
    const { root, set } = found;
    const [customer, identities] = await Promise.all([findCustomer(this.db, root), listIdentities(this.db, set)]);
    if (!customer) throw notFound('customer', id);
    return {
      id: customer.id,
      name: customer.name,
      identities,
      attributes: customer.attributes,
      tags: customer.tags,
      mergedFrom: set.filter((x) => x !== root),
      createdAt: customer.createdAt.toISOString(),
      updatedAt: customer.updatedAt.toISOString(),
    };
  }

  async search(s: { identity?: Identity; q?: string; limit: number }): Promise<CustomerView[]> {
    const ids = await searchCustomers(this.db, s);
    return Promise.all(ids.map((id) => this.get(id)));
  }

  async patch(id: string, patch: CustomerPatch, userId: string): Promise<CustomerView> {
    const root = await findRootId(this.db, id);
    if (!root) throw notFound('customer', id);
    await this.ingest.ingest({
      idempotencyKey: `customer:${root}:update:${randomUUID()}`,
      type: 'customer.updated',
      channel: null,
      direction: 'internal',
      occurredAt: new Date(),
      payload: { userId, fields: Object.keys(patch) },
      customer: { id: root },
      interaction: { kind: 'none' },
      apply: (tx) => updateCustomer(tx, root, patch),
    });
    return this.get(root);
  }

  async addNote(id: string, text: string, user: { id: string; agentId?: string }): Promise<HistoryItem> {
    const result = await this.ingest.ingest({
      idempotencyKey: `customer:${id}:note:${randomUUID()}`,
      type: 'note.added',
      channel: null,
      direction: 'internal',
      occurredAt: new Date(),
      payload: { text, userId: user.id, ...(user.agentId ? { agentId: user.agentId } : {}) },
      customer: { id },
      interaction: { kind: 'none' },
    });
    return toHistoryItem(result.event);
  }

  async history(id: string, limit: number, before?: string): Promise<{ items: HistoryItem[]; next?: string }> {
    const found = await findRootAndSet(this.db, id);
    if (!found) throw notFound('customer', id);
    const events = await listCustomerEvents(this.db, found.set, limit + 1, before);
    const page = events.slice(0, limit);
    const items = page.map(toHistoryItem);
    return events.length > limit ? { items, next: page[page.length - 1]!.id } : { items };
  }

  /** Merge `sourceId` into `targetId`: recorded, reversible, and the history becomes one. */
  async merge(targetId: string, sourceId: string, userId: string): Promise<CustomerView> {
    if (targetId === sourceId) throw new AppError('SB_VALIDATION', 'sourceId must differ from the target customer');
    await this.ingest.ingest({
      idempotencyKey: `customer:${targetId}:merged:${sourceId}:${randomUUID()}`,
      type: 'customer.merged',
      channel: null,
      direction: 'internal',
      occurredAt: new Date(),
      payload: { sourceId, userId },
      customer: { id: targetId },
      interaction: { kind: 'none' },
      apply: async (tx) => {
      // Lock both in a fixed order so two opposite merges cannot deadlock or form a cycle.
      const [first, second] = [targetId, sourceId].sort();
      const locked = [await findCustomer(tx, first!, true), await findCustomer(tx, second!, true)];
      const target = locked.find((c) => c?.id === targetId);
      const source = locked.find((c) => c?.id === sourceId);
      if (!target) throw notFound('customer', targetId);
      if (!source) throw notFound('customer', sourceId);
      if (target.mergedInto) throw new AppError('SB_ALREADY_MERGED', `customer ${targetId} was merged into another customer`);
      if (source.mergedInto) throw new AppError('SB_ALREADY_MERGED', `customer ${sourceId} is already merged`);
      await markMerged(tx, sourceId, targetId, userId);
      },
    });
    return this.get(targetId);
  }
}
