/**
 * A pure function's results kept for the most recently used inputs, at most `capacity` of them
 * (least recently used first out). For functions that are costly and called again and again with
 * the same few inputs, such as parsing the phone numbers every webhook carries.
 */
export function boundedMemo<R>(capacity: number, compute: (key: string) => R): (key: string) => R {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a whole number of at least 1');
  const kept = new Map<string, R>();
  return (key) => {
    if (kept.has(key)) {
      const value = kept.get(key) as R;
      // Map keeps insertion order: moving a hit to the end makes the first entry the least recently used.
      kept.delete(key);
      kept.set(key, value);
      return value;
    }
    const value = compute(key);
    kept.set(key, value);
    if (kept.size > capacity) kept.delete(kept.keys().next().value as string);
    return value;
  };
}
