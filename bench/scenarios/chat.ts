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
import { Pool } from 'pg';
import { freePort } from '../../test/support/process';
import { createAgents } from '../lib/http';
import { startBenchService } from '../lib/service';
import { cpuSecondsOf } from '../lib/procfs';
import { fmt, ms, type ScenarioResult } from '../lib/results';
import { ratio, type Summary } from '../lib/stats';
import { spawnTsx, startWorker } from '../lib/worker';

export interface ChatOptions {
  chats: number;
  agents: number;
  seconds: number;
  intervalMs: number;
}

interface RunResult {
  sent: number;
  customerToAgent: Summary;
  agentToCustomer: Summary;
  customerAck?: Summary;
  replyAck?: Summary;
  errors: number;
  unanswered: number;
}

const WARMUP_SECONDS = 5;
const pair = (s: Summary) => `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`;

export async function chatScenario(opts: ChatOptions, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<ScenarioResult> {
  const driver = startWorker('bench/load/chat-driver.ts');
  const data: Record<string, unknown> = { options: opts, warmupSeconds: WARMUP_SECONDS, messagesPerSecondEachWay: opts.chats / (opts.intervalMs / 1000) };
  try {
    const svc = await startBenchService({ env: { OFFER_TIMEOUT_SECONDS: '60', AGENT_GRACE_SECONDS: '120' } });
    let ours: RunResult;
    try {
      const queue = await svc.admin.post<{ id: string }>('/api/queues', { name: 'chat' });
      await svc.admin.post('/api/entry-points', { channel: 'chat', address: '*', queueId: queue.id });
      const perAgent = Math.ceil(opts.chats / opts.agents);
      const agents = await createAgents(svc.admin, { count: opts.agents, prefix: 'chat-agent', queueIds: [queue.id], capacity: { voice: 0, chat: perAgent, sms: 0, email: 0 } });
      await driver.call('connectAgents', { url: svc.base, agents });
      const opened = await driver.call<{ open: number; seconds: number }>('openChats', { url: svc.base, count: opts.chats, widget: '*' });
      log(`  ${opened.open} chats open and accepted by ${opts.agents} agents (${fmt(opened.seconds)} s)`);
      const pid = svc.procs[0]!.pid;
      const cpu0 = pid ? cpuSecondsOf(pid) : null;
      const t0 = Date.now();
      ours = await driver.call<RunResult>('run', { seconds: opts.seconds, warmupSeconds: WARMUP_SECONDS, intervalMs: opts.intervalMs });
      const cpu1 = pid ? cpuSecondsOf(pid) : null;
      data.serviceCpuShareOfOneCore = cpu0 !== null && cpu1 !== null ? Math.round(((cpu1 - cpu0) / ((Date.now() - t0) / 1000)) * 100) / 100 : null;
      data.serviceMemory = svc.memory();
      log(
        `  ours: customer→agent p50 ${ms(ours.customerToAgent.p50)} p99 ${ms(ours.customerToAgent.p99)}; agent→customer p50 ${ms(ours.agentToCustomer.p50)} p99 ${ms(ours.agentToCustomer.p99)} ` +
          `(${ours.customerToAgent.n + ours.agentToCustomer.n} samples, ${ours.errors} errors, ${ours.unanswered} unanswered; service CPU ${fmt(data.serviceCpuShareOfOneCore, 2)} of a core)`,
      );
      await driver.call('close');
    } finally {
      await svc.stop();
    }

    const adminUrl = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
    const dbName = `sb_bench_relay_${process.pid}_${Date.now().toString(36)}`;
    const admin = new Pool({ connectionString: `${adminUrl}/postgres`, max: 1 });
    await admin.query(`CREATE DATABASE "${dbName}"`);
    const port = await freePort();
    const server = await spawnTsx(['bench/baselines/socket-relay.ts', String(port), `${adminUrl}/${dbName}`]);
    let relay: RunResult;
    let durable: RunResult;
    try {
      await driver.call('relayConnect', { url: `http://127.0.0.1:${port}`, chats: opts.chats, agents: opts.agents });
      relay = await driver.call<RunResult>('relayRun', { seconds: opts.seconds, warmupSeconds: WARMUP_SECONDS, intervalMs: opts.intervalMs, durable: false });
      durable = await driver.call<RunResult>('relayRun', { seconds: opts.seconds, warmupSeconds: WARMUP_SECONDS, intervalMs: opts.intervalMs, durable: true });
      log(`  bare relay: customer→agent p99 ${ms(relay.customerToAgent.p99)}, agent→customer p99 ${ms(relay.agentToCustomer.p99)}; relay + INSERT: ${ms(durable.customerToAgent.p99)}, ${ms(durable.agentToCustomer.p99)}`);
      await driver.call('relayClose');
    } finally {
      await server.stop();
      await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
      await admin.end();
    }
    Object.assign(data, { ours, baselineRelay: relay, baselineRelayWithInsert: durable });
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
