/**
 * Load generator (its own process): signed Twilio SMS webhooks at a fixed rate (open loop),
 * or as fast as `concurrency` allows (closed loop, rate 0). Prints one JSON line of results.
 * Usage: tsx bench/load/webhooks.ts <url> <rate/s> <seconds> <concurrency> <authToken> <publicBase> <runId>
 *
 * Twilio signs and sends from its own machines, so this process should cost the machine as
 * little as it can: every request of a fixed-rate run is signed and serialized before the clock
 * starts, and requests go as ready-made bytes over kept-alive sockets (one request at a time per
 * socket, as Twilio's own connections do), with responses read only as far as their status line
 * and length. node:http's client cost about half a core at 700 requests/s on a 2-core machine.
 */
import net from 'node:net';
import twilio from 'twilio';

const [url, rateArg, secondsArg, concArg, authToken, publicBase, runId] = process.argv.slice(2) as [string, string, string, string, string, string, string];
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const concurrency = Number(concArg);
const target = new URL(url);
const path = target.pathname;
const port = Number(target.port || 80);

let seq = 0;
/** Requests serialized ahead (the whole fixed-rate run); beyond them, built on demand. */
let prepared: Buffer[] = [];

function request(): Buffer {
  if (seq < prepared.length) return prepared[seq++]!;
  return serialize(seq++);
}

function serialize(n: number): Buffer {
  const params: Record<string, string> = {
    MessageSid: `SM${runId}${n.toString(16).padStart(32 - runId.length, '0')}`,
    From: `+1415555${(1000 + (n % 9000)).toString().padStart(4, '0')}`,
    To: '+15005550006',
    Body: `load message ${n}`,
  };
  const signature = authToken ? twilio.getExpectedTwilioSignature(authToken, publicBase + path, params) : '';
  const body = new URLSearchParams(params).toString();
  return Buffer.from(
    `POST ${path} HTTP/1.1\r\nhost: ${target.host}\r\ncontent-type: application/x-www-form-urlencoded\r\n` +
      `x-twilio-signature: ${signature}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: keep-alive\r\n\r\n${body}`,
  );
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** A kept-alive connection carrying one request at a time; resolves each with its status (0 when the connection failed). */
class Connection {
  private readonly socket: net.Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private pending: ((status: number) => void) | null = null;
  closed = false;

  constructor() {
    this.socket = net.connect({ host: target.hostname, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = () => {
      this.closed = true;
      const p = this.pending;
      this.pending = null;
      p?.(0);
    };
    this.socket.on('error', fail);
    this.socket.on('close', fail);
  }

  send(bytes: Buffer): Promise<number> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(0);
      this.pending = resolve;
      this.socket.write(bytes);
    });
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const end = this.buffered.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.buffered.subarray(0, end).toString('latin1');
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.buffered.length < end + 4 + length) return;
    const status = Number(head.slice(9, 12));
    this.buffered = this.buffered.subarray(end + 4 + length);
    const p = this.pending;
    this.pending = null;
    p?.(status);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

async function main(): Promise<void> {
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let inflight = 0;
  let dropped = 0;
  const idle: Connection[] = [];
  const all: Connection[] = [];
  const send = async () => {
    inflight++;
    const bytes = request();
    let conn = idle.pop();
    while (conn?.closed) conn = idle.pop();
    if (!conn) {
      conn = new Connection();
      all.push(conn);
    }
    const t0 = performance.now();
    const status = await conn.send(bytes);
    latencies.push(performance.now() - t0);
    if (status >= 200 && status < 300) ok++;
    else failed++;
    if (!conn.closed) idle.push(conn);
    inflight--;
  };
  if (rate > 0) {
    prepared = Array.from({ length: Math.ceil(rate * seconds) + rate }, (_, n) => serialize(n));
    // Open loop: a tick every 10 ms sends what is due by the clock (a late tick catches up, so a
    // busy machine delaying timers does not lower the offered rate); beyond `concurrency` in
    // flight, requests are dropped (counted).
    const started = Date.now();
    const end = started + seconds * 1000;
    let issued = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = Date.now();
        // The last tick sends what remains, so a step offers exactly rate × seconds (it used to
        // stop up to one tick short: 4,996/s "achieved" at 5,000/s with every webhook stored).
        const due = now >= end ? Math.round(rate * seconds) : Math.floor((rate * (now - started)) / 1000);
        if (now >= end) {
          clearInterval(timer);
          resolve();
        }
        while (issued < due) {
          issued++;
          if (inflight >= concurrency) dropped++;
          else void send();
        }
      }, 10);
    });
  } else {
    const end = Date.now() + seconds * 1000;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) await send();
    }));
  }
  while (inflight > 0) await new Promise((r) => setTimeout(r, 5));
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  process.stdout.write(`${JSON.stringify({ sent: seq, ok, failed, dropped, seconds, achieved: ok / seconds, p50: q(0.5), p99: q(0.99), connections: all.length })}\n`);
  for (const c of all) c.destroy();
}

void main();
