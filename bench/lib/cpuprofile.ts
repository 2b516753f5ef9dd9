/**
 * Reading a V8 .cpuprofile (node --cpu-prof): self and total time per function, optionally only
 * for samples inside time windows. Sample times are CLOCK_MONOTONIC microseconds, the same clock
 * as `process.hrtime` in any process on the machine, so a runner can mark windows with
 * `monoMicros()` and cut a service's profile down to them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../test/support/process';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export const monoMicros = (): number => Number(process.hrtime.bigint() / 1000n);

export interface FunctionTime {
  fn: string;
  where: string;
  selfMs: number;
  selfShare: number;
  totalMs: number;
  totalShare: number;
}

export interface ProfileSummary {
  sampledMs: number;
  /** Share of sampled time the process was idle (waiting on I/O). */
  idleShare: number;
  /** Highest self time first. */
  top: FunctionTime[];
  /** Highest total (inclusive) time first. */
  topTotal: FunctionTime[];
  byFile: Array<{ file: string; selfMs: number; selfShare: number }>;
}

function where(cf: CallFrame): string {
  if (!cf.url) return '';
  const file = cf.url.replace(/^file:\/\//, '');
  const rel = file.startsWith(ROOT) ? path.relative(ROOT, file) : file;
  // Line numbers are the generated code's: tsx compiles each TypeScript module into very few lines, so they mean nothing there.
  return rel.endsWith('.ts') ? rel : `${rel.replace(/^.*node_modules\//, 'node_modules/')}:${cf.lineNumber + 1}`;
}

export function summarizeProfile(file: string, opts: { top?: number; windows?: Array<[number, number]> } = {}): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}\t${where(n.callFrame)}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const fileSelf = new Map<string, number>();
  let t = p.startTime;
  let sampled = 0;
  let idle = 0;
  const inWindow = (ts: number) => !opts.windows || opts.windows.some(([a, b]) => ts >= a && ts <= b);
  for (let k = 0; k < p.samples.length; k++) {
    t += p.timeDeltas[k] ?? 0;
    // A sample's weight is the time until the next one.
    const dt = (p.timeDeltas[k + 1] ?? 0) / 1000;
    if (!inWindow(t)) continue;
    const node = byId.get(p.samples[k]!)!;
    sampled += dt;
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    const k0 = key(node);
    self.set(k0, (self.get(k0) ?? 0) + dt);
    const f = node.callFrame.url ? where(node.callFrame).replace(/:\d+$/, '') : node.callFrame.functionName;
    fileSelf.set(f, (fileSelf.get(f) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const kk = key(byId.get(id)!);
      if (seen.has(kk)) continue;
      seen.add(kk);
      total.set(kk, (total.get(kk) ?? 0) + dt);
    }
  }
  const busy = sampled - idle || 1;
  const round = (n: number) => Math.round(n * 10) / 10;
  const view = ([k, tot]: [string, number]): FunctionTime => {
    const [fn, at] = k.split('\t') as [string, string];
    const ms = self.get(k) ?? 0;
    return { fn, where: at, selfMs: round(ms), selfShare: round((ms / busy) * 100), totalMs: round(tot), totalShare: round((tot / busy) * 100) };
  };
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, opts.top ?? 25)
    .map(([k]) => view([k, total.get(k) ?? 0]));
  const topTotal = [...total.entries()].sort((a, b) => b[1] - a[1]).slice(0, opts.top ?? 25).map(view);
  const byFile = [...fileSelf.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, opts.top ?? 25)
    .map(([f, ms]) => ({ file: f, selfMs: round(ms), selfShare: round((ms / busy) * 100) }));
  return { sampledMs: round(sampled), idleShare: round((idle / (sampled || 1)) * 100), top, topTotal, byFile };
}

/** Total (inclusive) share of busy time of the functions with these names (the largest entry of each name). */
export function inclusiveOf(file: string, names: string[], windows?: Array<[number, number]>): Record<string, number> {
  const s = summarizeProfile(file, { top: 1000000, windows });
  const out: Record<string, number> = {};
  for (const n of names) out[n] = s.topTotal.find((f) => f.fn === n)?.totalShare ?? 0;
  return out;
}

export interface LongTask {
  /** Monotonic µs when the stretch started. */
  at: number;
  ms: number;
  /** The functions with the most self time in the stretch, and the outermost JS functions it ran under. */
  top: string[];
  under: string[];
}

/**
 * Stretches where the main thread never went idle for at least `minMs`: what blocked the event
 * loop (every socket push and ack in the process waited that long).
 */
export function longTasks(file: string, minMs: number, windows?: Array<[number, number]>, limit = 10): LongTask[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame)}`.trim();
  /** The outermost frame below (root) that is not a node internal: what the task was for. */
  const outer = (id: number): string => {
    let best: ProfileNode | null = null;
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const n = byId.get(x)!;
      if (n.callFrame.url && !n.callFrame.url.startsWith('node:')) best = n;
    }
    return best ? name(best) : name(byId.get(id)!);
  };
  const tasks: LongTask[] = [];
  let t = p.startTime;
  let start: number | null = null;
  let self = new Map<string, number>();
  let outers = new Map<string, number>();
  const close = (end: number) => {
    if (start !== null && (end - start) / 1000 >= minMs) {
      const rank = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ${Math.round(v)}ms`);
      tasks.push({ at: start, ms: Math.round((end - start) / 100) / 10, top: rank(self), under: rank(outers) });
    }
    start = null;
    self = new Map();
    outers = new Map();
  };
  const inWindow = (ts: number) => !windows || windows.some(([a, b]) => ts >= a && ts <= b);
  for (let k = 0; k < p.samples.length; k++) {
    t += p.timeDeltas[k] ?? 0;
    const node = byId.get(p.samples[k]!)!;
    const fn = node.callFrame.functionName;
    if (!inWindow(t) || fn === '(idle)') {
      close(t);
      continue;
    }
    if (start === null) start = t;
    const dt = (p.timeDeltas[k + 1] ?? 0) / 1000;
    self.set(name(node), (self.get(name(node)) ?? 0) + dt);
    const o = outer(node.id);
    outers.set(o, (outers.get(o) ?? 0) + dt);
  }
  close(t);
  return tasks.sort((a, b) => b.ms - a.ms).slice(0, limit);
}
