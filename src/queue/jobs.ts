/** BullMQ queue names, job names and payloads, in one place. Job ids are deterministic. */
export const QUEUES = {
  offerTimeouts: 'offer-timeouts',
} as const;

export interface OfferTimeoutJob {
  offerId: string;
  /** The offer's agent (jobs from before 2026-12-06 lack it): see OffersService.expire. */
  agentId?: string;
}

export const JOBS = {
  offerTimeout: { name: 'offer-timeout', id: (offerId: string) => `offer-${offerId}` },
} as const;
