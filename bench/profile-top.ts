/**
 * Where a process's CPU went: top functions by self time (and by total time) from a V8
 * .cpuprofile, e.g. the service's profile from `BENCH_PROFILE=1 npm run bench`.
 *
 * Usage: tsx bench/profile-top.ts <file.cpuprofile> [top=25] [fromMicros toMicros]
 * The optional window is in CLOCK_MONOTONIC microseconds (the routing scenario records each
 * cell's measurement windows in its results JSON as `windows`).
 */
import { summarizeProfile } from './lib/cpuprofile';

const [file, topArg, from, to] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/profile-top.ts <file.cpuprofile> [top] [fromMicros toMicros]\n');
  process.exit(2);
}
const s = summarizeProfile(file, { top: Number(topArg ?? 25), windows: from && to ? [[Number(from), Number(to)]] : undefined });
const out = (l: string) => process.stdout.write(`${l}\n`);
out(`${(s.sampledMs / 1000).toFixed(1)} s sampled, ${s.idleShare}% idle; shares below are of the busy time`);
out('\nself time:');
out('  self%  total%  function  (file:line)');
for (const f of s.top) out(`  ${f.selfShare.toFixed(1).padStart(5)}  ${f.totalShare.toFixed(1).padStart(6)}  ${f.fn}  (${f.where})`);
out('\ntotal (inclusive) time:');
for (const f of s.topTotal) out(`  ${f.selfShare.toFixed(1).padStart(5)}  ${f.totalShare.toFixed(1).padStart(6)}  ${f.fn}  (${f.where})`);
out('\nself time by file:');
for (const f of s.byFile) out(`  ${f.selfShare.toFixed(1).padStart(5)}  ${f.file}`);
