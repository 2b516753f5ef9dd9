/**
 * Natural batching (group commit), with no timer: an item submitted while fewer than
 * `maxInFlight` batches run starts a batch at once; items that arrive while the limit is reached
 * wait and go together in the next batch, up to `maxBatch` at a time. A lone item therefore
 * waits for nothing, and under load the batches grow by themselves. No I/O here: `run` does it.
 */
export interface BatcherOptions<T, R> {
  /** Settle every item of the batch: one result per item, in order, or a thrown error for all. */
  run(items: T[]): Promise<Array<Settled<R>>>;
  maxBatch: number;
  maxInFlight: number;
  /** Told the size of each batch as it starts. */
  onBatch?: (size: number) => void;
}

export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Pending<T, R> {
  item: T;
  resolve(value: R): void;
  reject(error: unknown): void;
}

export class Batcher<T, R> {
  private readonly waiting: Array<Pending<T, R>> = [];
  private inFlight = 0;
  /** Batches run and items in them, for metrics and tests. */
  readonly stats = { batches: 0, items: 0, largest: 0 };

  constructor(private readonly options: BatcherOptions<T, R>) {
    if (options.maxBatch < 1 || options.maxInFlight < 1) throw new RangeError('maxBatch and maxInFlight must be at least 1');
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.options.maxBatch);
      this.inFlight++;
      this.stats.batches++;
      this.stats.items += batch.length;
      this.stats.largest = Math.max(this.stats.largest, batch.length);
      this.options.onBatch?.(batch.length);
      void this.settle(batch);
    }
  }

  private async settle(batch: Array<Pending<T, R>>): Promise<void> {
    try {
      const results = await this.options.run(batch.map((p) => p.item));
      batch.forEach((p, i) => {
        const r = results[i];
        if (!r) p.reject(new Error('batch returned no result for an item'));
        else if (r.ok) p.resolve(r.value);
        else p.reject(r.error);
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.inFlight--;
      this.pump();
    }
  }
}
