// A small SVG line chart: days along the bottom, one line per series, a value
// axis with round ticks, a legend, and the figures as a table beside it for
// screen readers and copying. No library: the console loads nothing from
// elsewhere, and this is all the reports need.
import { t } from '../strings.js';
import { h, svg } from '../dom.js';

export const PALETTE = ['#1d4ed8', '#b42318', '#0f7a3d', '#7a3fd1', '#a15c00', '#0e7490', '#be185d', '#4b5565'];

/** A round step for about `count` ticks up to `max` (1, 2 or 5 times a power of ten). */
function niceStep(max, count) {
  const raw = Math.max(max, 1) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = [1, 2, 5, 10].find((m) => m * power >= raw) || 10;
  return unit * power;
}

/**
 * dates: ['2026-12-01', …]; series: [{ name, values: [number|null, …] }];
 * format(v): a value's label (durations, counts); label: what the chart shows.
 */
export function lineChart({ id, dates, series, format = (v) => String(v), label, dayLabel = (d) => d.slice(5) }) {
  const box = h('figure', { class: 'chart-box', id });
  if (!dates.length) { box.append(h('p', { class: 'muted' }, t('reports.noData'))); return box; }
  const all = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const step = niceStep(Math.max(0, ...all), 4);
  const max = Math.max(step, Math.ceil(Math.max(0, ...all) / step) * step);
  const W = 760; const H = 260; const L = 64; const R = 24; const T = 12; const B = 34;
  const x = (i) => L + (dates.length === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (dates.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const parts = [];
  for (let v = 0; v <= max + 1e-9; v += step) {
    parts.push(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#d5dbe5' }),
      svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
  }
  // Day labels: at most about ten; the first and last anchored inside the chart so neither is cut.
  const every = Math.ceil(dates.length / 10);
  dates.forEach((d, i) => {
    if (i % every !== 0 && i !== dates.length - 1) return;
    if (i !== dates.length - 1 && dates.length - 1 - i < every / 2) return;
    const anchor = dates.length > 1 && i === 0 ? 'start' : dates.length > 1 && i === dates.length - 1 ? 'end' : 'middle';
    parts.push(svg('text', { x: x(i), y: H - B + 18, 'text-anchor': anchor, class: 'day-label' }, dayLabel(d)));
  });
  series.forEach((s, si) => {
    const color = s.color || PALETTE[si % PALETTE.length];
    // A gap where a day has no value (no samples): the line is drawn in pieces.
    let run = [];
    const flush = () => {
      if (run.length > 1) parts.push(svg('polyline', { points: run.join(' '), fill: 'none', stroke: color, 'stroke-width': 2.5, 'stroke-linejoin': 'round' }));
      run = [];
    };
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { flush(); return; }
      run.push(`${x(i)},${y(v)}`);
      parts.push(svg('circle', { cx: x(i), cy: y(v), r: 3, fill: color }, svg('title', null, `${s.name} ${dates[i]}: ${format(v)}`)));
    });
    flush();
  });
  box.append(
    svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': label }, parts),
    h('figcaption', { class: 'legend' }, series.map((s, si) => {
      const sw = h('span', { class: 'legend-swatch', 'aria-hidden': 'true' });
      sw.style.background = s.color || PALETTE[si % PALETTE.length];
      return h('span', null, sw, s.name);
    })),
    dataTable(dates, series, format));
  return box;
}

/** The chart's figures as a table (in a disclosure), for screen readers and copying. */
function dataTable(dates, series, format) {
  const cell = (v) => (v === null || v === undefined ? '—' : format(v));
  const head = h('tr', null, h('th', { scope: 'col' }, t('reports.date')), series.map((s) => h('th', { scope: 'col', class: 'num' }, s.name)));
  const body = dates.map((d, i) => h('tr', null, h('th', { scope: 'row' }, d), series.map((s) => h('td', { class: 'num' }, cell(s.values[i])))));
  return h('details', null, h('summary', null, t('reports.dataTable')),
    h('div', { class: 'table-wrap' }, h('table', null, h('thead', null, head), h('tbody', null, body))));
}
