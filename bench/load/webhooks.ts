/**
 * Load generator (its own process): signed Twilio SMS webhooks at a fixed rate (open loop),
 * or as fast as `concurrency` allows (closed loop, rate 0). Prints one JSON line of results.
 * Usage: tsx bench/load/webhooks.ts <url> <rate/s> <seconds> <concurrency> <authToken> <publicBase> <runId>
 */
import http from 'node:http';
import twilio from 'twilio';

const [url, rateArg, secondsArg, concArg, authToken, publicBase, runId] = process.argv.slice(2) as [string, string, string, string, string, string, string];
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const concurrency = Number(concArg);
const target = new URL(url);
const path = target.pathname;
/** Plain node:http with kept-alive connections, one per request in flight: much less CPU per request than fetch. */
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

/** POST `body`; resolves with the status once the response has been read. */
function post(body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: target.hostname, port: target.port, path, method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

let seq = 0;
function request(): { body: string; headers: Record<string, string> } {
  const n = seq++;
  const params: Record<string, string> = {
    MessageSid: `SM${runId}${n.toString(16).padStart(32 - runId.length, '0')}`,
    From: `+1415555${(1000 + (n % 9000)).toString().padStart(4, '0')}`,
    To: '+15005550006',
    Body: `load message ${n}`,
  };
  const signature = authToken ? twilio.getExpectedTwilioSignature(authToken, publicBase + path, params) : '';
  return { body: new URLSearchParams(params).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature } };
}

async function main(): Promise<void> {
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let inflight = 0;
  let dropped = 0;
  const end = Date.now() + seconds * 1000;
  const send = async () => {
    inflight++;
    const { body, headers } = request();
    const t0 = performance.now();
    try {
      const status = await post(body, headers);
      if (status < 300) ok++;
      else failed++;
    } catch {
      failed++;
    }
    latencies.push(performance.now() - t0);
    inflight--;
  };
  if (rate > 0) {
    // Open loop: a tick every 10 ms sends what is due by the clock (a late tick catches up, so a
    // busy machine delaying timers does not lower the offered rate); beyond `concurrency` in
    // flight, requests are dropped (counted).
    const started = Date.now();
    let issued = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = Date.now();
        if (now >= end) {
          clearInterval(timer);
          resolve();
          return;
        }
        const due = Math.floor((rate * (now - started)) / 1000);
        while (issued < due) {
          issued++;
          if (inflight >= concurrency) dropped++;
          else void send();
        }
      }, 10);
    });
  } else {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) await send();
    }));
  }
  while (inflight > 0) await new Promise((r) => setTimeout(r, 5));
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  process.stdout.write(`${JSON.stringify({ sent: seq, ok, failed, dropped, seconds, achieved: ok / seconds, p50: q(0.5), p99: q(0.99) })}\n`);
  agent.destroy();
}

void main();
