/** Reading processes from /proc (Linux): descendants, resident memory, CPU time and time waiting for a CPU. */
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
 * Seconds a process's main thread (for node, the event loop) has spent runnable but waiting for
 * a CPU so far: the second field of /proc/<pid>/task/<pid>/schedstat, nanoseconds on a run
 * queue. Null when it cannot be read (the process is gone, or the kernel keeps no schedstat).
 */
export function waitSecondsOf(pid: number): number | null {
  try {
    const wait = Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(/\s+/)[1]);
    return Number.isFinite(wait) ? wait / 1e9 : null;
  } catch {
    return null;
  }
}

/**
 * A group of processes watched together (the Postgres backends of one database, say): the CPU
 * seconds, and the seconds runnable but waiting for a CPU, of each member so far, by pid.
 */
export interface ProcessGroup {
  members(): Map<number, { cpu: number; wait: number }>;
}

/** Every live process whose command line contains `needle`, as one group. */
export function processesMatching(needle: string): ProcessGroup {
  return {
    members() {
      const out = new Map<number, { cpu: number; wait: number }>();
      for (const d of readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        const p = readProc(Number(d));
        if (!p?.cmdline.includes(needle)) continue;
        const cpu = cpuSecondsOf(p.pid);
        if (cpu !== null) out.set(p.pid, { cpu, wait: waitSecondsOf(p.pid) ?? NaN });
      }
      return out;
    },
  };
}

/** The Postgres backends of one database (`postgres: <user> <database> <client> <state>`), as one group. */
export const postgresBackends = (databaseName: string): ProcessGroup => processesMatching(` postgres ${databaseName} `);

/** The same, for the database a connection string names. */
export const postgresBackendsOf = (databaseUrl: string): ProcessGroup => postgresBackends(new URL(databaseUrl).pathname.slice(1));

/** The machine's Redis server (the service's event stream, socket.io adapter and jobs; the baselines use none). */
export const redisServer = (): ProcessGroup => processesMatching('redis-server');

type Watched = number | ProcessGroup | null | undefined;

/**
 * A watched process's or group's CPU and waiting seconds so far (a group: per member); waiting
 * NaN where the kernel keeps no schedstat, so that no waiting is reported for it.
 */
function sample(w: Watched): Map<number, { cpu: number; wait: number }> | null {
  if (w == null) return null;
  if (typeof w !== 'number') return w.members();
  const cpu = cpuSecondsOf(w);
  return cpu === null ? null : new Map([[w, { cpu, wait: waitSecondsOf(w) ?? NaN }]]);
}

/**
 * What the members used between two samples: those that started meanwhile count from zero;
 * those that exited meanwhile are lost (their last seconds cannot be read).
 */
function usedBetween(a: Map<number, { cpu: number; wait: number }>, b: Map<number, { cpu: number; wait: number }>): { cpu: number; wait: number } {
  let cpu = 0;
  let wait = 0;
  for (const [pid, end] of b) {
    const start = a.get(pid) ?? { cpu: 0, wait: 0 };
    cpu += end.cpu - start.cpu;
    wait += end.wait - start.wait;
  }
  return { cpu, wait };
}

/** Busy and total clock ticks of the whole machine (first) and of each CPU (then), from /proc/stat. */
function cpuTicks(): Array<{ busy: number; total: number }> {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d* /.test(l)) // "cpu  user nice system idle iowait irq softirq steal …", then "cpu0 …"
    .map((line) => {
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      const idle = (f[3] ?? 0) + (f[4] ?? 0);
      const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
      return { busy: total - idle, total };
    });
}

export interface CpuUse {
  seconds: number;
  /** Cores' worth of CPU the whole machine used (of os.cpus().length). */
  machineCores: number;
  /** How busy each CPU was, 0–1. */
  perCpuBusy: number[];
  /** Cores' worth used by the named processes. */
  byProcess: Record<string, number>;
  /**
   * Cores' worth of time the named processes were runnable but waiting for a CPU: a process's
   * main thread (the event loop, for node), every process of a group. 0.10 is 100 ms a second.
   */
  waitingByProcess: Record<string, number>;
  /** What everything else on the machine used meanwhile (other people's work): the noise. */
  othersCores: number;
}

/** CPU used over a window by the machine and by some processes of ours; `stop()` gives the averages. */
export function watchCpu(pids: Record<string, Watched>): { stop(): CpuUse } {
  const t0 = performance.now();
  const m0 = cpuTicks();
  const p0 = Object.fromEntries(Object.entries(pids).map(([k, w]) => [k, sample(w)]));
  return {
    stop() {
      const seconds = (performance.now() - t0) / 1000;
      const m1 = cpuTicks();
      const round = (n: number) => Math.round(n * 100) / 100;
      const byProcess: Record<string, number> = {};
      const waitingByProcess: Record<string, number> = {};
      for (const [k, w] of Object.entries(pids)) {
        const a = p0[k];
        const b = sample(w);
        if (!a || !b) continue;
        const used = usedBetween(a, b);
        // Three decimals: a floor's process uses 0.04 cores, and a probe's share of it is what is read off.
        byProcess[k] = Math.round((used.cpu / seconds) * 1000) / 1000;
        if (!Number.isNaN(used.wait)) waitingByProcess[k] = Math.round((used.wait / seconds) * 1000) / 1000;
      }
      const machineCores = round((m1[0]!.busy - m0[0]!.busy) / 100 / seconds); // USER_HZ = 100
      const perCpuBusy = m1.slice(1).map((c, i) => round((c.busy - m0[i + 1]!.busy) / Math.max(1, c.total - m0[i + 1]!.total)));
      const ours = Object.values(byProcess).reduce((a, b) => a + b, 0);
      return { seconds: round(seconds), machineCores, perCpuBusy, byProcess, waitingByProcess, othersCores: round(Math.max(0, machineCores - ours)) };
    },
  };
}

/** "service 0.24 (waiting 0.10), generator 0.04, others on the machine 0.33; CPUs busy 0.37 / 0.20", for a scenario's line. */
export function cpuLine(use: CpuUse): string {
  const procs = Object.entries(use.byProcess).map(([k, v]) => {
    const wait = use.waitingByProcess[k];
    return `${k} ${v.toFixed(2)}${wait === undefined ? '' : ` (waiting for a CPU ${wait.toFixed(2)})`}`;
  });
  return `CPU cores: ${[...procs, `others on the machine ${use.othersCores.toFixed(2)}`].join(', ')}; CPUs busy ${use.perCpuBusy.map((b) => b.toFixed(2)).join(' / ')}`;
}
