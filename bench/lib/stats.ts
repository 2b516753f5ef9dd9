/** Latency summaries and a clock every bench process shares. */

/**
 * Epoch milliseconds with sub-millisecond resolution. `performance.timeOrigin` is taken from the
 * system clock when the process starts, so two processes on one machine agree to well under a
 * millisecond; latencies that matter are still measured send-and-receive in one process.
 */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..1). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(samples: number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    n: s.length,
    p50: round(percentile(s, 0.5)),
    p90: round(percentile(s, 0.9)),
    p99: round(percentile(s, 0.99)),
    max: round(s.at(-1) ?? NaN),
    mean: round(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
  };
}

/** Our figure over the baseline's, or null when either is missing. */
export function ratio(ours: number | null | undefined, baseline: number | null | undefined): number | null {
  if (typeof ours !== 'number' || typeof baseline !== 'number' || !Number.isFinite(ours) || !Number.isFinite(baseline) || baseline === 0) return null;
  return Math.round((ours / baseline) * 100) / 100;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const k = next++;
        out[k] = await fn(items[k]!, k);
      }
    }),
  );
  return out;
}

/** Poll `check` until it returns a value other than undefined/false; fails after `ms`. */
export async function until<T>(check: () => Promise<T | undefined | false> | T | undefined | false, ms: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
