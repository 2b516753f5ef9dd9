import { boundedMemo } from '../../src/platform/bounded-memo';

describe('boundedMemo', () => {
  it('computes each key once while it is kept', () => {
    const calls: string[] = [];
    const upper = boundedMemo(4, (k) => (calls.push(k), k.toUpperCase()));
    expect([upper('a'), upper('b'), upper('a'), upper('b')]).toEqual(['A', 'B', 'A', 'B']);
    expect(calls).toEqual(['a', 'b']);
  });

  it('keeps every key used among the last capacity / 2 distinct keys', () => {
    const calls: string[] = [];
    const f = boundedMemo(4, (k) => (calls.push(k), k.length));
    f('a');
    f('bb');
    f('ccc'); // a and bb became the older generation
    f('a'); // found there, and kept on in the recent one
    f('dddd'); // ccc and a became the older generation; bb is gone
    f('a');
    f('ccc');
    f('bb');
    expect(calls).toEqual(['a', 'bb', 'ccc', 'dddd', 'bb']);
  });

  it('never keeps more than the last capacity distinct keys', () => {
    const calls: string[] = [];
    const f = boundedMemo(4, (k) => (calls.push(k), k));
    for (const k of ['a', 'b', 'c', 'd', 'e']) f(k);
    calls.length = 0;
    for (const k of ['a', 'b', 'c', 'd', 'e']) f(k);
    expect(calls).toContain('a');
  });

  it('cycles through a working set smaller than half the capacity without computing again', () => {
    let n = 0;
    const f = boundedMemo(20, (k) => (n++, k));
    for (let round = 0; round < 5; round++) for (let i = 0; i < 10; i++) f(`k${i}`);
    expect(n).toBe(10);
  });

  it('keeps null and undefined results too', () => {
    let n = 0;
    const f = boundedMemo(2, () => (n++, null));
    f('x');
    f('x');
    expect(n).toBe(1);
    let m = 0;
    const g = boundedMemo(4, () => void m++);
    g('x');
    g('y');
    g('z'); // x and y are the older generation now
    g('x');
    g('x');
    expect(m).toBe(3);
  });

  it('refuses a capacity below two', () => {
    expect(() => boundedMemo(1, (k) => k)).toThrow(RangeError);
    expect(() => boundedMemo(2.5, (k) => k)).toThrow(RangeError);
  });
});
