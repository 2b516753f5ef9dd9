/**
 * How quick this machine is at what the service spends its time on, measured at the start of a
 * run: a round trip to another process (a Postgres `SELECT 1`, and a few bytes echoed by a Node
 * process over loopback TCP), and a fixed piece of JavaScript. The shared VMs here come in a quick
 * and a slow kind, and a figure is only comparable to one taken on the same kind; these say which
 * kind a run had, so that sessions no longer judge it by how long creating agents took.
 * Round trips are what the slow kind makes slow: each one wakes a process that was waiting. The
 * Postgres round trip is also taken 10 ms apart, as the routing probes come: after a pause the
 * same round trip takes longer and costs the client more CPU.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { Client } from 'pg';
import { PG_BASE } from '../../test/support/env';
import { summarize, type Summary } from './stats';

export interface MachineSpeed {
  /** `SELECT 1` on one connection, one at a time, microseconds. */
  postgresRoundTripMicros: Summary;
  /**
   * The same round trip 10 ms apart, as the routing probes come (each after a pause in which
   * the machine may go idle), microseconds; and the client's own CPU per round trip both ways.
   * On the slower VMs here, work that comes after a pause costs several times the CPU it costs
   * back to back: the same round trip, the same JavaScript.
   */
  postgresSpaced: { roundTripMicros: Summary; clientCpuMicros: number; backToBackClientCpuMicros: number };
  /** 16 bytes to a Node echo process and back over loopback TCP, one at a time, microseconds. */
  loopbackRoundTripMicros: Summary;
  /** Milliseconds for a fixed piece of JavaScript (JSON of a message-shaped object, 20,000 times), best of 5. */
  javascriptMs: number;
}

const ROUNDS = 2000;
const WARMUP = 200;

/** A spare moment between round trips, so that the peer goes back to waiting as it does between requests. */
const pause = (): Promise<void> => new Promise((r) => setImmediate(r));

async function timed(rounds: number, once: () => Promise<unknown>): Promise<Summary> {
  for (let i = 0; i < WARMUP; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    await pause();
    const t0 = performance.now();
    await once();
    samples.push((performance.now() - t0) * 1000);
  }
  return summarize(samples);
}

/** Microseconds of this process's CPU (user and system) per round, over `run`. */
async function cpuPerRound<T>(rounds: number, run: () => Promise<T>): Promise<{ result: T; micros: number }> {
  const before = process.cpuUsage();
  const result = await run();
  const used = process.cpuUsage(before);
  return { result, micros: Math.round((used.user + used.system) / rounds) };
}

const SPACED_ROUNDS = 300;
const SPACING_MS = 10;

async function postgresRoundTrips(): Promise<Pick<MachineSpeed, 'postgresRoundTripMicros' | 'postgresSpaced'>> {
  const client = new Client({ connectionString: `${PG_BASE}/postgres` });
  await client.connect();
  const once = () => client.query({ name: 'speed', text: 'SELECT 1' });
  try {
    const backToBack = await cpuPerRound(ROUNDS + WARMUP, () => timed(ROUNDS, once));
    const spaced = await cpuPerRound(SPACED_ROUNDS, async () => {
      const samples: number[] = [];
      for (let i = 0; i < SPACED_ROUNDS; i++) {
        await new Promise((r) => setTimeout(r, SPACING_MS));
        const t0 = performance.now();
        await once();
        samples.push((performance.now() - t0) * 1000);
      }
      return summarize(samples);
    });
    return {
      postgresRoundTripMicros: backToBack.result,
      postgresSpaced: { roundTripMicros: spaced.result, clientCpuMicros: spaced.micros, backToBackClientCpuMicros: backToBack.micros },
    };
  } finally {
    await client.end();
  }
}

const ECHO = `const s = require('net').createServer((c) => c.on('data', (d) => c.write(d))).listen(0, '127.0.0.1', () => process.stdout.write(s.address().port + '\\n'));`;

async function loopbackRoundTrip(): Promise<Summary> {
  const peer = spawn(process.execPath, ['-e', ECHO], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      peer.once('error', reject);
      peer.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    });
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const ping = Buffer.alloc(16, 1);
    const echoed = (): Promise<void> =>
      new Promise((resolve) => {
        let got = 0;
        const onData = (d: Buffer) => {
          got += d.length;
          if (got < ping.length) return;
          socket.off('data', onData);
          resolve();
        };
        socket.on('data', onData);
        socket.write(ping);
      });
    try {
      return await timed(ROUNDS, echoed);
    } finally {
      socket.destroy();
    }
  } finally {
    peer.kill();
  }
}

function javascriptMs(): number {
  const message = { id: 'evt', type: 'message.received', payload: { from: '+14155550100', to: '+15005550006', body: 'hello there, a text of some length', media: [] as string[] }, at: new Date(0).toISOString(), seq: 1 };
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    let n = 0;
    for (let i = 0; i < 20000; i++) {
      message.seq = i;
      n += (JSON.parse(JSON.stringify(message)) as { seq: number }).seq;
    }
    if (n < 0) throw new Error('unreachable');
    best = Math.min(best, performance.now() - t0);
  }
  return Math.round(best * 100) / 100;
}

export async function measureMachineSpeed(): Promise<MachineSpeed> {
  return {
    ...(await postgresRoundTrips()),
    loopbackRoundTripMicros: await loopbackRoundTrip(),
    javascriptMs: javascriptMs(),
  };
}

export function describeSpeed(s: MachineSpeed): string {
  const rt = (x: Summary) => `p50 ${Math.round(x.p50)} µs, p99 ${Math.round(x.p99)} µs`;
  const spaced = s.postgresSpaced;
  return (
    `machine speed: Postgres round trip ${rt(s.postgresRoundTripMicros)}, ${SPACING_MS} ms apart ${rt(spaced.roundTripMicros)} ` +
    `(client CPU per round trip ${spaced.backToBackClientCpuMicros} µs back to back, ${spaced.clientCpuMicros} µs ${SPACING_MS} ms apart); loopback round trip to a process ${rt(s.loopbackRoundTripMicros)}; JavaScript unit ${s.javascriptMs} ms`
  );
}
