import type { IngestCommand } from '../../src/interactions/events.types';
import { normalizeIdentity } from '../../src/customers/identity';
import { bearer, chatClient, startApp, type TestApp } from '../support/app';

/** What the SMS channel does with an inbound text: normalize the sender, then ingest. */
function smsCommand(from: string, n: number, region = 'US'): IngestCommand {
  const r = normalizeIdentity('phone', from, region);
  if (!r.ok) throw new Error(r.message);
  return {
    idempotencyKey: `test-sms:${from}:${n}`,
    type: 'message.received',
    channel: 'sms',
    direction: 'in',
    occurredAt: new Date(),
    payload: { text: `text ${n}`, from: 'customer' },
    customer: { identity: r.identity },
    interaction: { kind: 'conversation', key: `sms:${r.identity.value}:+15550000000`, open: { direction: 'in', entryAddress: '+15550000000' } },
  };
}

describe('customers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });
  const get = (url: string) => t.app.inject({ method: 'GET', url, headers: bearer(t.adminToken) });

  it('20 concurrent first contacts from one number in different formats create one customer with one identity', async () => {
    const formats = ['+1 415 555 0100', '(415) 555-0100', '415-555-0100', '4155550100', '+14155550100', '1 (415) 555 0100', '001 415 555 0100', '415.555.0100', '+1-415-555-0100', ' 415 555 0100 '];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => t.app.services.ingest.ingest(smsCommand(formats[i % formats.length]!, i))));
    expect(new Set(results.map((r) => r.customerId)).size).toBe(1);
    const { rows } = await t.app.services.db.query("SELECT customer_id, value FROM customer_identities WHERE kind = 'phone'");
    expect(rows).toEqual([{ customer_id: results[0]!.customerId, value: '+14155550100' }]);
    const customers = await t.app.services.db.query('SELECT count(*)::int AS n FROM customers');
    expect(customers.rows[0].n).toBe(1);
    // One open SMS conversation, holding all 20 messages in a gapless order.
    const interactions = await t.app.services.db.query("SELECT id, last_seq FROM interactions WHERE channel = 'sms'");
    expect(interactions.rows).toHaveLength(1);
    expect(interactions.rows[0].last_seq).toBe(21);

    const found = await get(`/api/customers?phone=${encodeURIComponent('(415) 555-0100')}`);
    expect(found.statusCode).toBe(200);
    expect(found.json()).toHaveLength(1);
    expect(found.json()[0].identities).toEqual([{ kind: 'phone', value: '+14155550100' }]);
  });

  it('keeps one timeline across channels, newest first, with cursor paging', async () => {
    const { customerId } = await t.app.services.ingest.ingest(smsCommand('+44 20 7946 0018', 1));
    const c = await chatClient(t.url);
    await c.send('m1', 'chat hello');
    // Tie the chat visitor to the SMS customer by merging, then page through one history.
    const merged = await t.app.inject({ method: 'POST', url: `/api/customers/${customerId}/merge`, headers: bearer(t.adminToken), payload: { sourceId: c.session.customerId } });
    expect(merged.statusCode).toBe(200);
    expect(merged.json().identities.map((i: { kind: string }) => i.kind).sort()).toEqual(['chat', 'phone']);
    await t.app.inject({ method: 'POST', url: `/api/customers/${customerId}/notes`, headers: bearer(t.adminToken), payload: { text: 'prefers SMS' } });

    const items: Array<{ id: string; type: string; channel: string | null }> = [];
    let next: string | undefined;
    do {
      const page = await get(`/api/customers/${customerId}/history?limit=2${next ? `&before=${next}` : ''}`);
      expect(page.statusCode).toBe(200);
      items.push(...page.json().items);
      next = page.json().next;
    } while (next);
    const ids = items.map((i) => Number(i.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(items.map((i) => i.type)).toEqual(['note.added', 'customer.merged', 'message.received', 'interaction.queued', 'message.received', 'interaction.queued']);
    expect(new Set(items.map((i) => i.channel))).toEqual(new Set([null, 'chat', 'sms']));
    // The merged-away id still answers, as the customer it became.
    const old = await get(`/api/customers/${c.session.customerId}`);
    expect(old.json().id).toBe(customerId);
    // A repeated merge is refused, and the merge is recorded.
    const again = await t.app.inject({ method: 'POST', url: `/api/customers/${customerId}/merge`, headers: bearer(t.adminToken), payload: { sourceId: c.session.customerId } });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('SB_ALREADY_MERGED');
    const { rows } = await t.app.services.db.query('SELECT target_id, source_id FROM customer_merges');
    expect(rows).toEqual([{ target_id: customerId, source_id: c.session.customerId }]);
    // An event on the chat's interaction, recorded on the merged-away customer, lands on the customer it became.
    const later = await t.app.services.ingest.ingest({
      idempotencyKey: `after-merge-${Math.random()}`, type: 'note.added', channel: 'chat', direction: 'internal', occurredAt: new Date(),
      payload: { text: 'after the merge' }, customer: { id: c.session.customerId }, interaction: { kind: 'existing', id: c.session.interactionId },
    });
    expect(later.customerId).toBe(customerId);
    expect((await t.app.services.db.query('SELECT customer_id FROM events WHERE id = $1', [later.event.id])).rows[0].customer_id).toBe(customerId);
    // The chat visitor, resuming, is now the merged customer.
    const resumed = await chatClient(t.url, { visitorToken: c.session.visitorToken });
    expect(resumed.session.customerId).toBe(customerId);
    c.close();
    resumed.close();
  });

  it('captures details once: PATCH merges attributes and tags, and the edit is in the timeline', async () => {
    const { customerId } = await t.app.services.ingest.ingest(smsCommand('+1 212 555 0199', 1));
    const patch = (payload: Record<string, unknown>) => t.app.inject({ method: 'PATCH', url: `/api/customers/${customerId}`, headers: bearer(t.adminToken), payload });
    expect((await patch({ name: 'Ada Lovelace', attributes: { vip: true, language: 'en' }, tags: ['vip'] })).statusCode).toBe(200);
    const res = await patch({ attributes: { language: 'fr', vip: null } });
    expect(res.json()).toMatchObject({ name: 'Ada Lovelace', attributes: { language: 'fr' }, tags: ['vip'] });
    expect(res.json().attributes).not.toHaveProperty('vip');
    const history = await get(`/api/customers/${customerId}/history`);
    expect(history.json().items.filter((i: { type: string }) => i.type === 'customer.updated')).toHaveLength(2);
    const byName = await get('/api/customers?q=lovelace');
    expect(byName.json().map((c: { id: string }) => c.id)).toEqual([customerId]);
    const byEmail = await get('/api/customers?email=nobody@example.com');
    expect(byEmail.json()).toEqual([]);
  });
});
