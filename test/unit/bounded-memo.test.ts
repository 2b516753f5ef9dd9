import { boundedMemo } from '../../src/platform/bounded-memo';

describe('boundedMemo', () => {
  it('computes each key once while it is kept', () => {
    const calls: string[] = [];
    const upper = boundedMemo(3, (k) => (calls.push(k), k.toUpperCase()));
    expect([upper('a'), upper('b'), upper('a'), upper('b')]).toEqual(['A', 'B', 'A', 'B']);
    expect(calls).toEqual(['a', 'b']);
  });

  it('lets the least recently used key go first', () => {
    const calls: string[] = [];
    const f = boundedMemo(2, (k) => (calls.push(k), k.length));
    f('a');
    f('bb');
    f('a'); // a is now the most recently used
    f('ccc'); // evicts bb
    f('a');
    f('bb');
    expect(calls).toEqual(['a', 'bb', 'ccc', 'bb']);
  });

  it('keeps null results too', () => {
    let n = 0;
    const f = boundedMemo(2, () => (n++, null));
    f('x');
    f('x');
    expect(n).toBe(1);
  });

  it('refuses a capacity below one', () => {
    expect(() => boundedMemo(0, (k) => k)).toThrow(RangeError);
  });
});
