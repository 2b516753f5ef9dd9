/** A customer's history across every channel, newest first, as the screen pop and the customer panel show it. */
import { dateTime, h } from '../shared/dom';
import type { CustomerView, HistoryItem, Identity, OfferPayload } from '../shared/types';

const CHANNEL_LABELS: Record<string, string> = { chat: 'Chat', sms: 'SMS', email: 'Email', voice: 'Voice' };

export function channelLabel(channel: string | null | undefined): string {
  return channel ? (CHANNEL_LABELS[channel] ?? channel) : 'Internal';
}

type Who = Pick<CustomerView, 'name' | 'identities'> | Pick<OfferPayload['customer'], 'name' | 'identities'>;

/** How agents see a customer: the name, else a phone number or address; never a raw visitor id. */
export function customerLabel(c: Who): string {
  if (c.name) return c.name;
  const pick = (kind: Identity['kind']) => c.identities.find((i) => i.kind === kind)?.value;
  return pick('phone') ?? pick('email') ?? 'a web chat visitor';
}

function describe(item: HistoryItem): string {
  const data = item.data ?? {};
  switch (item.type) {
    case 'message.received':
      return `${channelLabel(item.channel)} from the customer`;
    case 'message.sent':
      return item.from === 'system' ? `${channelLabel(item.channel)} sent automatically` : `${channelLabel(item.channel)} reply from an agent`;
    case 'note.added':
      return 'Note';
    case 'interaction.queued':
      return `${channelLabel(item.channel)} contact queued`;
    case 'offer.created':
      return 'Offered to an agent';
    case 'offer.accepted':
      return 'Accepted by an agent';
    case 'offer.rejected':
      return 'Offer rejected';
    case 'offer.expired':
      return 'Offer not answered in time';
    case 'offer.revoked':
      return 'Offer withdrawn';
    case 'interaction.ended':
      return 'Conversation ended';
    case 'interaction.wrappedup':
      return typeof data.disposition === 'string' ? `Wrapped up: ${data.disposition}` : 'Wrapped up';
    case 'interaction.closed':
      return `${channelLabel(item.channel)} contact closed`;
    case 'interaction.transferred':
      return 'Transferred';
    case 'customer.updated':
      return 'Customer details updated';
    case 'customer.merged':
      return 'Customer records merged';
    default:
      return item.type.replace(/[._]/g, ' ');
  }
}

export function renderTimeline(items: HistoryItem[], label: string): HTMLOListElement {
  const list = h('ol', { class: 'timeline', 'aria-label': label });
  if (items.length === 0) list.append(h('li', { class: 'empty' }, 'Nothing yet.'));
  for (const item of items) {
    const channel = item.type === 'note.added' ? 'note' : (item.channel ?? 'internal');
    list.append(
      h(
        'li',
        { class: `timeline-item dir-${item.direction}`, 'data-type': item.type, 'data-channel': channel },
        h('span', { class: `badge channel-${channel}` }, item.type === 'note.added' ? 'Note' : channelLabel(item.channel)),
        h('span', { class: 'what' }, describe(item)),
        h('time', { datetime: item.at }, dateTime(item.at)),
        item.text ? h('p', { class: 'text' }, item.text) : null,
      ),
    );
  }
  return list;
}
