import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app instance, so several apps in one process (tests) do not collide. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  return {
    registry,
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
