/**
 * Footprint: resident memory of each service process holding A agent consoles (available, with
 * the chats they were offered accepted) and V chat widgets, O of which have written (an open
 * chat with an agent); the rest are visitors with the widget open. Read from /proc/<pid>/status
 * (VmRSS) of the serving node process itself, not npm's or tsx's wrapper.
 *
 * Baselines, same run: the same service process idle (started, nothing connected), and a bare
 * socket.io server (bench/baselines/socket-relay.ts) holding the same number of sockets.
 */
import { freePort } from '../../test/support/process';
import { createAgents } from '../lib/http';
import { startBenchService } from '../lib/service';
import { heapOf, type Heap } from '../lib/service-metrics';
import { memoryOf, processTree, serverPid } from '../lib/procfs';
import { fmt, type Row, type ScenarioResult } from '../lib/results';
import { ratio, sleep, until } from '../lib/stats';
import { spawnTsx, startWorker, type WorkerHandle } from '../lib/worker';

export interface FootprintOptions {
  agents: number;
  visitors: number;
  openChats: number;
  processes: number;
}

const PER_AGENT_HOLDER = 1000;
const PER_VISITOR_HOLDER = 2500;

/** RSS sampled a few times over a few seconds (sockets settle, timers run): last and highest. */
async function settle(pids: Array<number | null>, seconds = 5): Promise<Array<{ pid: number | null; rssMiB: number | null; maxRssMiB: number | null; peakMiB: number | null }>> {
  const max = pids.map(() => 0);
  let last = pids.map((pid) => (pid ? memoryOf(pid) : null));
  for (let k = 0; k < seconds; k++) {
    await sleep(1000);
    last = pids.map((pid) => (pid ? memoryOf(pid) : null));
    last.forEach((m, i) => (max[i] = Math.max(max[i]!, m?.rssMiB ?? 0)));
  }
  return pids.map((pid, i) => ({ pid, rssMiB: last[i]?.rssMiB ?? null, maxRssMiB: max[i] || null, peakMiB: last[i]?.peakMiB ?? null }));
}

export async function footprintScenario(opts: FootprintOptions, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<ScenarioResult> {
  const holders: WorkerHandle[] = [];
  const data: Record<string, unknown> = { options: opts };
  try {
    const svc = await startBenchService({ processes: opts.processes, env: { OFFER_TIMEOUT_SECONDS: '600', AGENT_GRACE_SECONDS: '300' } });
    const pids = svc.procs.map((p) => p.pid);
    const urls = svc.procs.map((p) => p.base);
    try {
      const queue = await svc.admin.post<{ id: string }>('/api/queues', { name: 'footprint' });
      await svc.admin.post('/api/entry-points', { channel: 'chat', address: '*', queueId: queue.id });
      data.idle = await settle(pids, 3);
      data.wrappers = svc.procs.map((p) => processTree(p.process.child.pid!).map((q) => ({ pid: q.pid, cmd: q.cmdline.slice(0, 80), rssMiB: memoryOf(q.pid)?.rssMiB ?? null })));
      log(`  idle: ${(data.idle as Array<{ rssMiB: number }>).map((m) => `${fmt(m.rssMiB)} MiB`).join(', ')}`);

      const t = Date.now();
      const agents = await createAgents(svc.admin, { count: opts.agents, prefix: 'fp-agent', queueIds: [queue.id] });
      log(`  ${opts.agents} agents created (${fmt((Date.now() - t) / 1000)} s)`);
      for (let k = 0; k < opts.agents; k += PER_AGENT_HOLDER) {
        const h = startWorker('bench/load/socket-holder.ts', `agent-holder-${k}`);
        holders.push(h);
        await h.call('agents', { urls, agents: agents.slice(k, k + PER_AGENT_HOLDER) });
      }
      data.withAgents = await settle(pids, 3);
      log(`  ${opts.agents} agent sockets: ${(data.withAgents as Array<{ rssMiB: number }>).map((m) => `${fmt(m.rssMiB)} MiB`).join(', ')}`);
      const visitorHolders = Math.max(1, Math.ceil(opts.visitors / PER_VISITOR_HOLDER));
      for (let k = 0; k < visitorHolders; k++) {
        const h = startWorker('bench/load/socket-holder.ts', `visitor-holder-${k}`);
        holders.push(h);
        const count = Math.min(PER_VISITOR_HOLDER, opts.visitors - k * PER_VISITOR_HOLDER);
        const open = Math.min(count, Math.max(0, opts.openChats - k * PER_VISITOR_HOLDER));
        await h.call('visitors', { urls, count, open, widget: '*', tag: `v${k}` });
      }
      const counts = async () => {
        const all = await Promise.all(holders.map((h) => h.call<{ open: number; accepted: number; dropped: number }>('counts')));
        return all.reduce((a, b) => ({ open: a.open + b.open, accepted: a.accepted + b.accepted, dropped: a.dropped + b.dropped }), { open: 0, accepted: 0, dropped: 0 });
      };
      await until(async () => ((await counts()).accepted >= opts.openChats ? true : undefined), 120000, `${opts.openChats} chats accepted`, 500);
      data.loaded = await settle(pids, 10);
      data.counts = await counts();
      data.heap = await Promise.all(urls.map(heapOf));
      log(`  ${opts.agents} agents + ${opts.visitors} visitors (${opts.openChats} in an open chat): ${(data.loaded as Array<{ rssMiB: number; maxRssMiB: number }>).map((m) => `${fmt(m.rssMiB)} MiB (max ${fmt(m.maxRssMiB)})`).join(', ')}; ${JSON.stringify(data.counts)}`);
      log(`  of which (V8, from /metrics): ${(data.heap as Heap[]).map((h) => `heap ${fmt(h.heapUsedMiB)} used of ${fmt(h.heapTotalMiB)} MiB, external ${fmt(h.externalMiB)} MiB`).join('; ')}`);
      for (const h of holders.splice(0)) {
        await h.call('close').catch(() => undefined);
        await h.stop();
      }
    } finally {
      await svc.stop();
    }

    // Baseline: a bare socket.io server idle, then holding the same number of sockets.
    const port = await freePort();
    const server = await spawnTsx(['bench/baselines/socket-relay.ts', String(port)]);
    try {
      const pid = serverPid(server.child.pid!, 'socket-relay.ts');
      const [idle] = await settle([pid], 3);
      const total = opts.agents + opts.visitors;
      for (let k = 0; k < total; k += PER_VISITOR_HOLDER) {
        const h = startWorker('bench/load/socket-holder.ts', `plain-holder-${k}`);
        holders.push(h);
        await h.call('plain', { url: `http://127.0.0.1:${port}`, count: Math.min(PER_VISITOR_HOLDER, total - k), tag: `s${k}-` });
      }
      const [loaded] = await settle([pid], 10);
      data.baselineBareSocketIo = { idle, loaded, sockets: total };
      log(`  bare socket.io: idle ${fmt(idle?.rssMiB)} MiB, ${total} sockets ${fmt(loaded?.rssMiB)} MiB`);
    } finally {
      for (const h of holders.splice(0)) await h.stop();
      await server.stop();
    }

    const loaded = data.loaded as Array<{ rssMiB: number | null; maxRssMiB: number | null }>;
    const idle = data.idle as Array<{ rssMiB: number | null }>;
    const bare = (data.baselineBareSocketIo as { loaded: { rssMiB: number | null }; idle: { rssMiB: number | null } });
    const rows: Row[] = [];
    loaded.forEach((m, i) => {
      const who = opts.processes > 1 ? `process ${i + 1} of ${opts.processes}` : 'one process';
      const share = opts.processes > 1 ? ' (its share)' : '';
      rows.push({
        scenario: 'footprint',
        measure: `RSS, ${who}: ${opts.agents} agent + ${opts.visitors} chat sockets${share}, ${opts.openChats} chats open; baseline: bare socket.io holding ${opts.processes > 1 ? 'all of them' : 'as many sockets'} (max over 10 s: ${fmt(m.maxRssMiB)} MiB)`,
        ours: `${fmt(m.rssMiB)} MiB`,
        baseline: `${fmt(bare.loaded.rssMiB)} MiB`,
        ratio: ratio(m.rssMiB, bare.loaded.rssMiB),
        target: '≤ 300 MB',
        met: m.maxRssMiB === null ? null : m.maxRssMiB * 1.048576 <= 300,
      });
      rows.push({
        scenario: 'footprint',
        measure: `RSS, ${who}: loaded vs. the same process idle; bare socket.io idle ${fmt(bare.idle.rssMiB)} MiB`,
        ours: `${fmt(m.rssMiB)} MiB`,
        baseline: `${fmt(idle[i]?.rssMiB)} MiB`,
        ratio: ratio(m.rssMiB, idle[i]?.rssMiB),
      });
    });
    return { rows, data };
  } finally {
    for (const h of holders) await h.stop();
  }
}
