/**
 * Load generator (its own process): `count` signed inbound SMS, each from a different sender, so
 * each opens its own conversation and waits in the entry point's queue. Closed loop with
 * `concurrency` requests in flight. Prints one JSON line.
 * Usage: tsx bench/load/sms-fill.ts <serviceUrl> <publicBase> <authToken> <to> <tag> <firstSender> <count> <concurrency>
 */
import { messageSid, postSms, senderNumber } from '../lib/sms';
import { mapLimit } from '../lib/stats';

async function main(): Promise<void> {
  const [url, publicBase, authToken, to, tag, firstArg, countArg, concArg] = process.argv.slice(2) as [string, string, string, string, string, string, string, string];
  const first = Number(firstArg);
  const count = Number(countArg);
  const started = performance.now();
  const statuses: Record<string, number> = {};
  await mapLimit(Array.from({ length: count }, (_, k) => first + k), Number(concArg), async (n) => {
    let status = 0;
    for (let attempt = 0; attempt < 3 && (status === 0 || status >= 500); attempt++) {
      // A provider retries a 5xx with the same MessageSid; so do we (stored once either way).
      status = await postSms(url, { sid: messageSid(tag, n), from: senderNumber(n), to, body: `waiting customer ${n}` }, authToken, publicBase).catch(() => 0);
    }
    statuses[status] = (statuses[status] ?? 0) + 1;
  });
  const seconds = (performance.now() - started) / 1000;
  const ok = Object.entries(statuses).filter(([s]) => Number(s) >= 200 && Number(s) < 300).reduce((a, [, n]) => a + n, 0);
  process.stdout.write(`${JSON.stringify({ ok, failed: count - ok, statuses, seconds, perSecond: count / seconds })}\n`);
}

void main();
