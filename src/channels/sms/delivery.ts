/**
 * Delivery status as a forward-only state machine (pure). Provider callbacks arrive late,
 * twice, or out of order; a status only ever moves forward, and final states stay final.
 */
export const DELIVERY_STATUSES = ['pending', 'submitted', 'queued', 'sent', 'delivered', 'read', 'undelivered', 'failed', 'canceled'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

const RANK: Record<DeliveryStatus, number> = {
  pending: 0,
  submitted: 1,
  queued: 2,
  sent: 3,
  delivered: 4,
  undelivered: 4,
  failed: 4,
  canceled: 4,
  read: 5,
};

const FINAL = new Set<DeliveryStatus>(['read', 'undelivered', 'failed', 'canceled']);

/** The status after `incoming`, or null when it would move backwards (or out of a final state). */
export function advance(current: DeliveryStatus, incoming: DeliveryStatus): DeliveryStatus | null {
  if (FINAL.has(current)) return null;
  if (current === 'delivered') return incoming === 'read' ? 'read' : null;
  return RANK[incoming] > RANK[current] ? incoming : null;
}

/** Twilio's message statuses in our vocabulary; unknown ones are ignored (null). */
export function fromTwilioStatus(status: string): DeliveryStatus | null {
  switch (status) {
    case 'accepted':
    case 'scheduled':
    case 'queued':
      return 'queued';
    case 'sending':
    case 'sent':
      return 'sent';
    case 'delivered':
      return 'delivered';
    case 'read':
      return 'read';
    case 'undelivered':
      return 'undelivered';
    case 'failed':
      return 'failed';
    case 'canceled':
      return 'canceled';
    default:
      return null;
  }
}
