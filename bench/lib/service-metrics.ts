/**
 * The service's own figures from its `/metrics` (prom-client's default metrics, prefixed
 * `switchboard_`): V8's heap, to split a process's RSS, the garbage collector's pauses, to
 * tell a latency tail made of collections from one made elsewhere, and the router's counters, to
 * tell which way its passes went.
 */

export interface Heap {
  heapUsedMiB: number | null;
  heapTotalMiB: number | null;
  externalMiB: number | null;
}

/** Collections of one kind (V8's: `major`, `minor`, `incremental`, `weakcb`) and their summed pause. */
export interface GcKind {
  count: number;
  ms: number;
}

export type GcTotals = Record<string, GcKind>;

const metricsText = async (base: string): Promise<string> => (await fetch(`${base}/metrics`)).text();

function parseHeap(text: string): Heap {
  const mib = (name: string) => {
    const m = new RegExp(`^switchboard_${name} ([0-9.e+]+)$`, 'm').exec(text);
    return m ? Number(m[1]) / 1048576 : null;
  };
  return { heapUsedMiB: mib('nodejs_heap_size_used_bytes'), heapTotalMiB: mib('nodejs_heap_size_total_bytes'), externalMiB: mib('nodejs_external_memory_bytes') };
}

/** Collections since the service started, by kind (from the `nodejs_gc_duration_seconds` histogram). */
function parseGcTotals(text: string): GcTotals {
  const totals: GcTotals = {};
  const line = /^switchboard_nodejs_gc_duration_seconds_(sum|count)\{kind="([a-z]+)"\} ([0-9.e+-]+)$/gm;
  for (const [, field, kind, value] of text.matchAll(line)) {
    const k = (totals[kind!] ??= { count: 0, ms: 0 });
    if (field === 'sum') k.ms = Number(value) * 1000;
    else k.count = Number(value);
  }
  return totals;
}

/**
 * The router's counters so far (`switchboard_routing_*_total`), flat: `triggers_total.offered`,
 * `waiting_reads_total.behind_message`, and so on.
 */
export type RoutingCounts = Record<string, number>;

export async function routingCounts(base: string): Promise<RoutingCounts> {
  const out: RoutingCounts = {};
  for (const [, name, value, n] of (await metricsText(base)).matchAll(/^switchboard_routing_([a-z_]+)\{[a-z]+="([a-z_]+)"\} ([0-9]+)$/gm)) out[`${name}.${value}`] = Number(n);
  return out;
}

/** What the router counted between two readings (counters that did not move left out). */
export function routingBetween(before: RoutingCounts, after: RoutingCounts): RoutingCounts {
  const out: RoutingCounts = {};
  for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

/** V8's heap and its collections so far, of the service at `base` (one read of its /metrics). */
export async function serviceFigures(base: string): Promise<{ heap: Heap; gc: GcTotals }> {
  const text = await metricsText(base);
  return { heap: parseHeap(text), gc: parseGcTotals(text) };
}

/** V8's heap figures of the service at `base`. */
export const heapOf = async (base: string): Promise<Heap> => (await serviceFigures(base)).heap;

/** Collections between two readings, by kind (kinds with none left out). */
export function gcBetween(before: GcTotals, after: GcTotals): GcTotals {
  const out: GcTotals = {};
  for (const [kind, a] of Object.entries(after)) {
    const b = before[kind] ?? { count: 0, ms: 0 };
    if (a.count > b.count) out[kind] = { count: a.count - b.count, ms: a.ms - b.ms };
  }
  return out;
}

/** "major 11 (95.2 ms), minor 107 (402.1 ms)" */
export const describeGc = (gc: GcTotals): string =>
  Object.entries(gc)
    .map(([kind, k]) => `${kind} ${k.count} (${k.ms.toFixed(1)} ms)`)
    .join(', ') || 'none';
