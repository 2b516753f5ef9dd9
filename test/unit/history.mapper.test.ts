import { toHistoryItem, withUnseen } from '../../src/interactions/history.mapper';
import type { StoredEvent } from '../../src/interactions/events.types';

const event = (id: number, type: StoredEvent['type'] = 'message.received'): StoredEvent => ({
  id: String(id), customerId: 'c1', interactionId: 'i1', seq: id, type, channel: 'chat', direction: 'in',
  payload: { text: `m${id}` }, occurredAt: new Date(1_700_000_000_000 + id),
});

describe('withUnseen: a history page with the reading transaction\'s own events put in place', () => {
  it('puts the unseen events in id order (newest first) and keeps the page to its limit', () => {
    const page = [9, 7, 3].map((n) => toHistoryItem(event(n)));
    const merged = withUnseen(page, [event(11, 'offer.created'), event(8)], 4);
    expect(merged.map((h) => h.id)).toEqual(['11', '9', '8', '7']);
    expect(merged[0]).toMatchObject({ type: 'offer.created', text: 'm11' });
  });

  it('never shows an event twice, and compares ids as numbers, not strings', () => {
    const page = [100, 99].map((n) => toHistoryItem(event(n)));
    expect(withUnseen(page, [event(100), event(1000)], 10).map((h) => h.id)).toEqual(['1000', '100', '99']);
  });

  it('with nothing unseen is the page itself, cut to the limit', () => {
    const page = [5, 4, 3].map((n) => toHistoryItem(event(n)));
    expect(withUnseen(page, [], 2)).toEqual(page.slice(0, 2));
  });
});
