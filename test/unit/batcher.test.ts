import { Batcher, type Settled } from '../../src/interactions/batcher';

/** A run whose batches finish only when the test says so. */
function controlled() {
  const batches: Array<{ items: number[]; finish(results?: Array<Settled<string>>): void; fail(err: unknown): void }> = [];
  const run = (items: number[]) =>
    new Promise<Array<Settled<string>>>((resolve, reject) => {
      batches.push({
        items,
        finish: (results) => resolve(results ?? items.map((i) => ({ ok: true, value: `r${i}` }))),
        fail: reject,
      });
    });
  return { batches, run };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Batcher', () => {
  it('starts a lone item at once, alone', async () => {
    const c = controlled();
    const b = new Batcher({ run: c.run, maxBatch: 10, maxInFlight: 1 });
    const p = b.submit(1);
    expect(c.batches.map((x) => x.items)).toEqual([[1]]);
    c.batches[0]!.finish();
    await expect(p).resolves.toBe('r1');
  });

  it('gathers what arrives while the limit is reached into the next batch, in order', async () => {
    const c = controlled();
    const sizes: number[] = [];
    const b = new Batcher({ run: c.run, maxBatch: 10, maxInFlight: 2, onBatch: (n) => sizes.push(n) });
    const ps = [1, 2, 3, 4, 5].map((i) => b.submit(i));
    expect(c.batches.map((x) => x.items)).toEqual([[1], [2]]);
    c.batches[1]!.finish();
    await tick();
    expect(c.batches.map((x) => x.items)).toEqual([[1], [2], [3, 4, 5]]);
    c.batches[2]!.finish();
    c.batches[0]!.finish();
    await expect(Promise.all(ps)).resolves.toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(sizes).toEqual([1, 1, 3]);
    expect(b.stats).toEqual({ batches: 3, items: 5, largest: 3 });
  });

  it('never puts more than maxBatch items in a batch', async () => {
    const c = controlled();
    const b = new Batcher({ run: c.run, maxBatch: 3, maxInFlight: 1 });
    const ps = Array.from({ length: 8 }, (_, i) => b.submit(i));
    for (let k = 0; k < 4; k++) {
      c.batches[k]!.finish();
      await tick();
    }
    await Promise.all(ps);
    expect(c.batches.map((x) => x.items)).toEqual([[0], [1, 2, 3], [4, 5, 6], [7]]);
  });

  it('settles each item with its own outcome, and every item with a thrown error', async () => {
    const c = controlled();
    const b = new Batcher({ run: c.run, maxBatch: 10, maxInFlight: 1 });
    const first = b.submit(0);
    const [ok, bad] = [b.submit(1), b.submit(2)];
    c.batches[0]!.fail(new Error('down'));
    await expect(first).rejects.toThrow('down');
    await tick();
    c.batches[1]!.finish([{ ok: true, value: 'fine' }, { ok: false, error: new Error('refused') }]);
    await expect(ok).resolves.toBe('fine');
    await expect(bad).rejects.toThrow('refused');
    // A short answer rejects the items it left out instead of leaving them hanging.
    const [x, y] = [b.submit(3), b.submit(4)];
    c.batches[2]!.finish([{ ok: true, value: 'x' }]);
    await expect(x).resolves.toBe('x');
    await tick();
    c.batches[3]!.finish([]);
    await expect(y).rejects.toThrow(/no result/);
  });

  it('refuses limits below 1', () => {
    expect(() => new Batcher({ run: async () => [], maxBatch: 0, maxInFlight: 1 })).toThrow(RangeError);
  });
});
