/** BullMQ queue names, job names and payloads, in one place. Job ids are deterministic. */
export const QUEUES = {
  offerTimeouts: 'offer-timeouts',
} as const;

export interface OfferTimeoutJob {
  offerId: string;
}

export const JOBS = {
  offerTimeout: { name: 'offer-timeout', id: (offerId: string) => `offer-${offerId}` },
} as const;
