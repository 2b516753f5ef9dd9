/** The waiting-contacts chart: inline SVG drawn from the samples the page keeps (one per stats push). */
import { svg } from '../shared/dom';

export interface Sample {
  at: number;
  waiting: number;
}

export const WINDOW_MS = 30 * 60 * 1000;
const W = 600;
const H = 160;
const PAD = { left: 34, right: 10, top: 12, bottom: 22 };

/** Keeps the samples inside the window (in place) and returns them. */
export function trim(samples: Sample[], now: number): Sample[] {
  while (samples.length > 0 && samples[0]!.at < now - WINDOW_MS) samples.shift();
  return samples;
}

export function renderChart(samples: Sample[], now: number): SVGSVGElement {
  const peak = samples.reduce((m, s) => Math.max(m, s.waiting), 0);
  const rough = Math.max(2, Math.ceil(peak * 1.2));
  const top = rough % 2 === 0 ? rough : rough + 1;
  const x = (at: number) => PAD.left + ((at - (now - WINDOW_MS)) / WINDOW_MS) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const last = samples[samples.length - 1];
  // A step line: the count holds until the next sample.
  let d = '';
  samples.forEach((s, i) => {
    d += i === 0 ? `M${x(s.at).toFixed(1)},${y(s.waiting).toFixed(1)}` : `H${x(s.at).toFixed(1)}V${y(s.waiting).toFixed(1)}`;
  });
  if (last) d += `H${x(now).toFixed(1)}`;
  const area = last ? `${d}V${y(0).toFixed(1)}H${x(samples[0]!.at).toFixed(1)}Z` : '';
  const summary = last ? `Waiting contacts over the last 30 minutes: ${last.waiting} now, at most ${peak}.` : 'Waiting contacts over the last 30 minutes: no data yet.';
  const gridValues = [0, top / 2, top];
  return svg(
    'svg',
    { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary },
    svg('title', null, summary),
    gridValues.map((v) => [
      svg('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }),
      svg('text', { class: 'axis', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(v)),
    ]),
    svg('text', { class: 'axis', x: PAD.left, y: H - 6 }, '30 min ago'),
    svg('text', { class: 'axis', x: W - PAD.right, y: H - 6, 'text-anchor': 'end' }, 'now'),
    area ? svg('path', { class: 'area', d: area }) : null,
    d ? svg('path', { class: 'line', d }) : null,
  );
}
