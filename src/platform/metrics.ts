import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The routing counters as the router keeps them (RouterService.counts and waitingReads), read when /metrics is. */
export interface RoutingFigures {
  counts: Readonly<Record<'passes' | 'offering' | 'skipped' | 'presumed', number>>;
  waitingReads: Readonly<Record<'ahead' | 'missed' | 'plain' | 'behind' | 'behindAvailable' | 'claimedAhead' | 'aheadRefused', number>>;
}

/**
 * A counter whose value the router keeps: each read of /metrics sets it from `read` (values only
 * grow while the process lives, as a counter's must).
 */
function keptCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], read: (set: (labels: Partial<Record<L, string>>, value: number) => void) => void): void {
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      read((labels, value) => this.inc(labels, value));
    },
  });
}

/** One registry per app instance, so several apps in one process (tests) do not collide. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  let routing: (() => RoutingFigures) | null = null;
  keptCounter(registry, 'switchboard_routing_triggers_total', 'Routing triggers by what came of them: a pass run (that offered, or not), or skipped (its hints showed no offer could follow)', ['outcome'] as const, (set) => {
    const c = routing?.().counts;
    if (!c) return;
    set({ outcome: 'offered' }, c.offering);
    set({ outcome: 'nothing_offered' }, c.passes - c.offering);
    set({ outcome: 'skipped' }, c.skipped);
  });
  keptCounter(registry, 'switchboard_routing_waiting_reads_total', "Routing passes by how they read the waiting work: read ahead with the free agents' changes (ahead), read ahead but read again (missed), read after them (plain), or planned from reads sent behind a message's statement (behind_message) or an agent's change to available (behind_available); none, the contact claimed ahead of the pass in its message's write (claimed_ahead); and such claims refused (ahead_refused, the pass then counted by how it read)", ['how'] as const, (set) => {
    const w = routing?.().waitingReads;
    if (!w) return;
    set({ how: 'ahead' }, w.ahead);
    set({ how: 'missed' }, w.missed);
    set({ how: 'plain' }, w.plain);
    set({ how: 'behind_message' }, w.behind);
    set({ how: 'behind_available' }, w.behindAvailable);
    set({ how: 'claimed_ahead' }, w.claimedAhead);
    set({ how: 'ahead_refused' }, w.aheadRefused);
  });
  return {
    registry,
    /** Where the routing counters come from (the router, once made). */
    observeRouting(read: () => RoutingFigures): void {
      routing = read;
    },
    httpDuration: new Histogram({
      name: 'switchboard_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    eventsIngested: new Counter({
      name: 'switchboard_events_ingested_total',
      help: 'Events appended to the event stream, by type',
      labelNames: ['type', 'channel'] as const,
      registers: [registry],
    }),
    eventsDuplicate: new Counter({
      name: 'switchboard_events_duplicate_total',
      help: 'Ingest calls answered from an earlier event (retries, replays)',
      registers: [registry],
    }),
    ingestBatch: new Histogram({
      name: 'switchboard_ingest_batch_messages',
      help: 'Plain messages (inbound texts, chat messages, incoming calls) stored per transaction: group commit at work',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    }),
    ingestOneStatement: new Counter({
      name: 'switchboard_ingest_one_statement_messages_total',
      help: 'Messages (plain ones, and chat replies) by how their one-statement write went: stored, declined (another writer, a stored key, another agent or state) or failed; the last two went step by step',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    socketConnections: new Counter({
      name: 'switchboard_socket_connections_total',
      help: 'socket.io connections accepted, by namespace',
      labelNames: ['namespace'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
