/** Reading processes from /proc (Linux): descendants, resident memory, CPU time. */
import { readdirSync, readFileSync } from 'node:fs';

interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string;
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: fields after the last ')'.
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    return { pid, ppid: Number(after[1]), cmdline };
  } catch {
    return null;
  }
}

/** Every live descendant of `root` (children, grandchildren, …), root first. */
export function processTree(root: number): ProcInfo[] {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map((d) => readProc(Number(d))).filter((p): p is ProcInfo => p !== null);
  const byParent = new Map<number, ProcInfo[]>();
  for (const p of all) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const out: ProcInfo[] = [];
  const self = all.find((p) => p.pid === root);
  if (self) out.push(self);
  const walk = (pid: number) => {
    for (const c of byParent.get(pid) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(root);
  return out;
}

/**
 * The node process that actually runs `script` under `root`: `npm start` is npm → sh → node
 * (after npm → sh → tsx for the build), and only the last one serves.
 */
export function serverPid(root: number, script = 'dist/server/server.js'): number | null {
  const tree = processTree(root).filter((p) => p.cmdline.includes(script));
  const leaf = tree.find((p) => !tree.some((c) => c.ppid === p.pid));
  return leaf?.pid ?? null;
}

/** VmRSS and VmHWM (peak) of a process in MiB, or null when it is gone. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: Math.round((kb('VmRSS') / 1024) * 10) / 10, peakMiB: Math.round((kb('VmHWM') / 1024) * 10) / 10 };
  } catch {
    return null;
  }
}

/** User+system CPU seconds a process has used so far. */
export function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return null;
  }
}

/**
 * CPU seconds used so far by every live process whose command line contains `needle` (the
 * Postgres backends of one database, say: their titles name it). Processes that exited are lost.
 */
export function cpuSecondsOfMatching(needle: string): { cpuSeconds(): number } {
  return {
    cpuSeconds() {
      let sum = 0;
      for (const d of readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        const p = readProc(Number(d));
        if (p?.cmdline.includes(needle)) sum += cpuSecondsOf(p.pid) ?? 0;
      }
      return sum;
    },
  };
}

type Watched = number | { cpuSeconds(): number | null } | null | undefined;
const secondsOf = (w: Watched): number | null => (w == null ? null : typeof w === 'number' ? cpuSecondsOf(w) : w.cpuSeconds());

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!; // "cpu  user nice system idle iowait irq softirq steal …"
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface CpuUse {
  seconds: number;
  /** Cores' worth of CPU the whole machine used (of os.cpus().length). */
  machineCores: number;
  /** Cores' worth used by the named processes. */
  byProcess: Record<string, number>;
  /** What everything else on the machine used meanwhile (other people's work): the noise. */
  othersCores: number;
}

/** CPU used over a window by the machine and by some processes of ours; `stop()` gives the averages. */
export function watchCpu(pids: Record<string, Watched>): { stop(): CpuUse } {
  const t0 = performance.now();
  const m0 = machineTicks();
  const p0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, secondsOf(pid)]));
  return {
    stop() {
      const seconds = (performance.now() - t0) / 1000;
      const m1 = machineTicks();
      const round = (n: number) => Math.round(n * 100) / 100;
      const byProcess: Record<string, number> = {};
      for (const [k, pid] of Object.entries(pids)) {
        const a = p0[k];
        const b = secondsOf(pid);
        if (a !== null && a !== undefined && b !== null) byProcess[k] = round((b - a) / seconds);
      }
      const machineCores = round((m1.busy - m0.busy) / 100 / seconds); // USER_HZ = 100
      const ours = Object.values(byProcess).reduce((a, b) => a + b, 0);
      return { seconds: round(seconds), machineCores, byProcess, othersCores: round(Math.max(0, machineCores - ours)) };
    },
  };
}
