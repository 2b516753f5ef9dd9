/** What a scenario hands back, the printed table, and bench/results/<timestamp>.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT } from '../../test/support/process';

export interface Row {
  scenario: string;
  /** What is measured, in words. */
  measure: string;
  ours: string;
  baseline: string;
  /** ours / baseline (for latencies and memory: how many times the raw figure; for rates: the share of it). */
  ratio: number | null;
  /** The target, if any, and whether this run met it. */
  target?: string;
  met?: boolean | null;
}

export interface ScenarioResult {
  rows: Row[];
  /** Everything measured, for the JSON file. */
  data: Record<string, unknown>;
}

export function machine(): Record<string, unknown> {
  const load = os.loadavg();
  let commit = 'unknown';
  let dirty = false;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'migrations'], { cwd: ROOT }).toString().trim() !== '';
  } catch {
    /* not a checkout */
  }
  return {
    host: os.hostname(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAverageAtStart: load.map((l) => Math.round(l * 100) / 100),
    commit,
    uncommittedChangesInSrc: dirty,
  };
}

export const fmt = (n: unknown, digits = 1): string => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
export const ms = (n: unknown): string => `${fmt(n, n !== null && typeof n === 'number' && n < 10 ? 2 : 1)} ms`;

export function table(rows: Row[]): string {
  const lines = ['| scenario | measure | ours | baseline | ratio | target |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    const target = r.target ? `${r.target}${r.met === true ? ' ✔' : r.met === false ? ' ✘' : ''}` : '';
    lines.push(`| ${r.scenario} | ${r.measure} | ${r.ours} | ${r.baseline} | ${r.ratio === null ? 'n/a' : r.ratio.toFixed(2)} | ${target} |`);
  }
  return lines.join('\n');
}

export function writeResults(results: Record<string, unknown>): string {
  const dir = path.join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${String(results.at).replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return path.relative(ROOT, file);
}
