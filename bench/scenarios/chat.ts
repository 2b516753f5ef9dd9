/**
 * Chat: C concurrent chats, all accepted by A agents (chat capacity C/A each), then a steady
 * exchange: every chat writes once per interval and its agent answers after a short think time.
 * Measured in one generator process (one clock): customer message → the agent's socket, and
 * agent reply → the customer's socket, p50/p99.
 *
 * Baselines, same run, same sockets, same traffic: a bare socket.io relay
 * (bench/baselines/socket-relay.ts), and the same relay storing each message in Postgres before
 * passing it on (what "durable before acknowledged" costs at the least).
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../test/support/process';
import { longTasks, monoMicros, summarizeProfile } from '../lib/cpuprofile';
import { createAgents } from '../lib/http';
import { startBenchService } from '../lib/service';
import { describeGc, gcBetween, serviceFigures } from '../lib/service-metrics';
import { cpuLine, postgresBackendsOf, redisServer, watchCpu, type CpuUse } from '../lib/procfs';
import { fmt, ms, type ScenarioResult } from '../lib/results';
import { ratio, type Summary } from '../lib/stats';
import { startWorker } from '../lib/worker';
import { startRelay } from '../lib/relay';
import { serverPid } from '../lib/procfs';

export interface ChatOptions {
  chats: number;
  agents: number;
  seconds: number;
  intervalMs: number;
  /** Directory for the service's --cpu-prof profile, or null. */
  profileDir?: string | null;
}

interface RunResult {
  sent: number;
  customerToAgent: Summary;
  agentToCustomer: Summary;
  customerAck?: Summary;
  replyAck?: Summary;
  errors: number;
  unanswered: number;
  slow?: Array<{ atMicros: number; ms: number; dir: string }>;
}

const WARMUP_SECONDS = 5;
const pair = (s: Summary) => `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`;

export async function chatScenario(opts: ChatOptions, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<ScenarioResult> {
  const driver = startWorker('bench/load/chat-driver.ts');
  const data: Record<string, unknown> = { options: opts, warmupSeconds: WARMUP_SECONDS, messagesPerSecondEachWay: opts.chats / (opts.intervalMs / 1000) };
  try {
    const svc = await startBenchService({
      env: { OFFER_TIMEOUT_SECONDS: '60', AGENT_GRACE_SECONDS: '120' },
      ...(opts.profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] } : {}),
    });
    let ours: RunResult;
    let window: [number, number] = [0, 0];
    try {
      const queue = await svc.admin.post<{ id: string }>('/api/queues', { name: 'chat' });
      await svc.admin.post('/api/entry-points', { channel: 'chat', address: '*', queueId: queue.id });
      const perAgent = Math.ceil(opts.chats / opts.agents);
      const agents = await createAgents(svc.admin, { count: opts.agents, prefix: 'chat-agent', queueIds: [queue.id], capacity: { voice: 0, chat: perAgent, sms: 0, email: 0 } });
      await driver.call('connectAgents', { url: svc.base, agents });
      const opened = await driver.call<{ open: number; seconds: number }>('openChats', { url: svc.base, count: opts.chats, widget: '*' });
      log(`  ${opened.open} chats open and accepted by ${opts.agents} agents (${fmt(opened.seconds)} s)`);
      const cpu = watchCpu({ service: svc.procs[0]!.pid, postgres: postgresBackendsOf(svc.env.DATABASE_URL!), redis: redisServer(), generator: driver.pid });
      const w0 = monoMicros() + WARMUP_SECONDS * 1e6;
      // The service's collections over the run (warm-up included: /metrics is read before and after).
      const { gc: gcBefore } = await serviceFigures(svc.base);
      ours = await driver.call<RunResult>('run', { seconds: opts.seconds, warmupSeconds: WARMUP_SECONDS, intervalMs: opts.intervalMs });
      window = [w0, monoMicros()];
      const cpuUse = cpu.stop();
      const after = await serviceFigures(svc.base);
      const gc = gcBetween(gcBefore, after.gc);
      const heap = after.heap;
      data.cpu = cpuUse;
      data.serviceMemory = svc.memory();
      data.serviceGc = { seconds: opts.seconds + WARMUP_SECONDS, byKind: gc, heapAfter: heap };
      log(
        `  ours: customer→agent p50 ${ms(ours.customerToAgent.p50)} p99 ${ms(ours.customerToAgent.p99)}; agent→customer p50 ${ms(ours.agentToCustomer.p50)} p99 ${ms(ours.agentToCustomer.p99)} ` +
          `(${ours.customerToAgent.n + ours.agentToCustomer.n} samples, ${ours.errors} errors, ${ours.unanswered} unanswered; ${cpuLine(cpuUse)})`,
      );
      log(`  service GC over the ${opts.seconds + WARMUP_SECONDS} s run: ${describeGc(gc)}; heap then ${fmt(heap.heapUsedMiB)} MiB used of ${fmt(heap.heapTotalMiB)}`);
      await driver.call('close');
    } finally {
      await svc.stop();
    }
    const slow = ours.slow ?? [];
    delete ours.slow;
    data.slowestDeliveries = [...slow].sort((a, b) => b.ms - a.ms).slice(0, 30).map((s) => ({ ...s, atSecondsIntoRun: Math.round((s.atMicros - window[0]) / 1e5) / 10 }));
    data.slowDeliveriesOver30ms = slow.length;
    if (opts.profileDir && svc.procs[0]!.pid) {
      const pid = svc.procs[0]!.pid;
      const file = readdirSync(opts.profileDir)
        .filter((f) => f.includes(`.${pid}.`) && f.endsWith('.cpuprofile'))
        .sort((a, b) => statSync(path.join(opts.profileDir!, b)).size - statSync(path.join(opts.profileDir!, a)).size)[0];
      if (file) {
        const full = path.join(opts.profileDir, file);
        const s = summarizeProfile(full, { top: 15, windows: [window] });
        const tasks = longTasks(full, 20, [window]);
        data.profile = { file: path.relative(ROOT, full), idleShare: s.idleShare, top: s.top, topTotal: s.topTotal, longTasks: tasks };
        log(`  profile: idle ${s.idleShare}%; top self: ${s.top.slice(0, 6).map((f) => `${f.fn} ${f.selfShare}%`).join(', ')}`);
        for (const t of tasks.slice(0, 5)) log(`    event loop busy ${t.ms} ms at +${fmt((t.at - window[0]) / 1e6)} s: ${t.under.join('; ')}`);
      }
    }

    const server = await startRelay();
    let relay: RunResult;
    let durable: RunResult;
    let relayCpu: CpuUse | null = null;
    let durableCpu: CpuUse | null = null;
    try {
      await driver.call('relayConnect', { url: server.url, chats: opts.chats, agents: opts.agents });
      const relayPid = serverPid(server.child.pid!, 'socket-relay.ts');
      let cpu = watchCpu({ service: relayPid, generator: driver.pid });
      relay = await driver.call<RunResult>('relayRun', { seconds: opts.seconds, warmupSeconds: WARMUP_SECONDS, intervalMs: opts.intervalMs, durable: false });
      relayCpu = cpu.stop();
      cpu = watchCpu({ service: relayPid, generator: driver.pid });
      durable = await driver.call<RunResult>('relayRun', { seconds: opts.seconds, warmupSeconds: WARMUP_SECONDS, intervalMs: opts.intervalMs, durable: true });
      durableCpu = cpu.stop();
      log(`  bare relay: customer→agent p99 ${ms(relay.customerToAgent.p99)}, agent→customer p99 ${ms(relay.agentToCustomer.p99)} (others on the machine ${fmt(relayCpu.othersCores, 2)} cores); relay + INSERT: ${ms(durable.customerToAgent.p99)}, ${ms(durable.agentToCustomer.p99)} (others ${fmt(durableCpu.othersCores, 2)} cores)`);
      await driver.call('relayClose');
    } finally {
      await server.stop();
    }
    Object.assign(data, { ours, baselineRelay: { ...relay, cpu: relayCpu }, baselineRelayWithInsert: { ...durable, cpu: durableCpu } });
    const rows = (['customerToAgent', 'agentToCustomer'] as const).flatMap((k) => {
      const what = k === 'customerToAgent' ? 'customer message → agent socket' : 'agent reply → customer socket';
      const target = { target: 'p99 ≤ 20 ms', met: ours[k].p99 <= 20 };
      return [
        { scenario: 'chat', measure: `${what}, ${opts.chats} chats; baseline: relay + INSERT`, ours: pair(ours[k]), baseline: pair(durable[k]), ratio: ratio(ours[k].p99, durable[k].p99), ...target },
        { scenario: 'chat', measure: `${what}, ${opts.chats} chats; baseline: bare socket.io relay`, ours: pair(ours[k]), baseline: pair(relay[k]), ratio: ratio(ours[k].p99, relay[k].p99) },
      ];
    });
    return { rows, data };
  } finally {
    await driver.stop();
  }
}
