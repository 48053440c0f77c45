// Reports (supervisors and admins): agent performance (sortable), CSV
// downloads, and messages per channel per day drawn as an SVG line chart.
import { t } from '../strings.js';
import * as api from '../api.js';
import { h, clear, field, svg } from '../dom.js';
import { formatDuration, isoDay } from '../format.js';

const COLUMNS = [
  { key: 'agent', label: 'reports.col.agent', value: (r) => r.agent.name.toLowerCase(), show: (r) => r.agent.name },
  { key: 'rooms_assigned', label: 'reports.col.assigned' },
  { key: 'rooms_resolved', label: 'reports.col.resolved' },
  { key: 'messages_sent', label: 'reports.col.sent' },
  { key: 'first_response_avg_seconds', label: 'reports.col.firstAvg', duration: true },
  { key: 'first_response_median_seconds', label: 'reports.col.firstMedian', duration: true },
  { key: 'resolution_avg_seconds', label: 'reports.col.resolution', duration: true },
  { key: 'open_rooms', label: 'reports.col.open' },
  { key: 'online_seconds', label: 'reports.col.online', duration: true },
];
const PALETTE = ['#1d4ed8', '#b42318', '#0f7a3d', '#7a3fd1', '#a15c00', '#0e7490', '#be185d', '#4b5565'];

export function mount(ctx) {
  const { main, toast } = ctx;
  let disposed = false;
  const today = new Date();
  const weekAgo = new Date(today.getTime() - 6 * 86400e3);
  const from = field(t('reports.from'), h('input', { type: 'date', id: 'report-from', value: isoDay(weekAgo) }));
  const to = field(t('reports.to'), h('input', { type: 'date', id: 'report-to', value: isoDay(today) }));
  const division = field(t('reports.division'), h('select', { id: 'report-division' }, h('option', { value: '' }, t('reports.allDivisions'))));
  const channel = field(t('reports.channel'), h('select', { id: 'report-channel' }, h('option', { value: '' }, t('reports.allChannels'))));
  const form = h('form', { class: 'filters card', id: 'report-filters' }, from.row, to.row, division.row, channel.row,
    h('button', { type: 'submit', class: 'btn btn-primary' }, t('reports.apply')));
  const agentsBox = h('div', { class: 'table-wrap' });
  const chartBox = h('div', { id: 'volume-chart' });
  const sort = { key: 'agent', dir: 1 };
  let rows = [];

  const csvButton = (which) => h('button', { type: 'button', class: 'btn btn-small', id: `csv-${which}`, onclick: () => downloadCsv(which) }, t('reports.csv'));
  main.append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', null, t('reports.title'))),
    form,
    h('section', { class: 'card', 'aria-labelledby': 'rep-agents-h' },
      h('div', { class: 'page-head' }, h('h2', { id: 'rep-agents-h' }, t('reports.agents')), csvButton('agents')), agentsBox),
    h('section', { class: 'card', 'aria-labelledby': 'rep-volume-h' },
      h('div', { class: 'page-head' }, h('h2', { id: 'rep-volume-h' }, t('reports.volume')), csvButton('channels')), chartBox)));

  function query(which) {
    const q = { from: from.input.value, to: to.input.value };
    if (channel.input.value) q.channel = channel.input.value;
    if (which === 'agents' && division.input.value) q.division = division.input.value;
    return q;
  }

  function fail(e) { if (e.status !== 401) toast(t('common.error', { message: e.message }), 'error'); }

  async function downloadCsv(which) {
    try {
      const { url } = await api.blobUrl(`/api/v1/reports/${which}`, { ...query(which), format: 'csv' });
      const a = h('a', { href: url, download: `omnichat-${which}-${from.input.value}-${to.input.value}.csv` });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) { fail(e); }
  }

  function renderAgents() {
    const col = COLUMNS.find((c) => c.key === sort.key);
    const val = col.value || ((r) => r[col.key] ?? -1);
    const sorted = [...rows].sort((a, b) => (val(a) < val(b) ? -1 : val(a) > val(b) ? 1 : 0) * sort.dir);
    const head = h('tr', null, COLUMNS.map((c, i) => h('th', {
      scope: 'col', class: i ? 'num' : null,
      'aria-sort': c.key === sort.key ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none',
    }, h('button', {
      type: 'button', class: 'sort-btn', 'data-sort': c.key,
      onclick: () => { if (sort.key === c.key) sort.dir = -sort.dir; else { sort.key = c.key; sort.dir = c.key === 'agent' ? 1 : -1; } renderAgents(); agentsBox.querySelector(`[data-sort="${c.key}"]`).focus(); },
    }, t(c.label), c.key === sort.key ? (sort.dir > 0 ? ' ▲' : ' ▼') : ''))));
    const body = sorted.map((r) => h('tr', null, COLUMNS.map((c, i) => h('td', { class: i ? 'num' : null },
      c.show ? c.show(r) : c.duration ? formatDuration(r[c.key]) : String(r[c.key])))));
    clear(agentsBox).append(rows.length
      ? h('table', { id: 'agents-report' }, h('thead', null, head), h('tbody', null, body))
      : h('p', { class: 'muted' }, t('reports.noData')));
  }

  function renderChart(days) {
    clear(chartBox);
    if (!days.length) { chartBox.append(h('p', { class: 'muted' }, t('reports.noData'))); return; }
    const dates = [...new Set(days.map((d) => d.date))].sort();
    const channels = [...new Set(days.map((d) => d.channel))].sort();
    const value = new Map(days.map((d) => [`${d.date}|${d.channel}`, d.inbound + d.outbound]));
    const max = Math.max(1, ...value.values());
    const W = 760; const H = 280; const L = 44; const R = 12; const T = 12; const B = 36;
    const x = (i) => L + (dates.length === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (dates.length - 1));
    const y = (v) => T + (H - T - B) * (1 - v / max);
    const parts = [];
    const ticks = 4;
    for (let i = 0; i <= ticks; i += 1) {
      const v = Math.round((max * i) / ticks);
      parts.push(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#d5dbe5' }),
        svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
    }
    const step = Math.ceil(dates.length / 10);
    dates.forEach((d, i) => { if (i % step === 0) parts.push(svg('text', { x: x(i), y: H - B + 18, 'text-anchor': 'middle' }, d.slice(5))); });
    channels.forEach((c, ci) => {
      const color = PALETTE[ci % PALETTE.length];
      const pts = dates.map((d, i) => `${x(i)},${y(value.get(`${d}|${c}`) || 0)}`);
      parts.push(svg('polyline', { points: pts.join(' '), fill: 'none', stroke: color, 'stroke-width': 2.5, 'stroke-linejoin': 'round' }));
      dates.forEach((d, i) => parts.push(svg('circle', { cx: x(i), cy: y(value.get(`${d}|${c}`) || 0), r: 3, fill: color },
        svg('title', null, `${c} ${d}: ${value.get(`${d}|${c}`) || 0}`))));
    });
    chartBox.append(
      svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': t('reports.chartLabel') }, parts),
      h('div', { class: 'legend' }, channels.map((c, ci) => {
        const sw = h('span', { class: 'legend-swatch', 'aria-hidden': 'true' });
        sw.style.background = PALETTE[ci % PALETTE.length];
        return h('span', null, sw, c);
      })),
      h('details', null, h('summary', null, t('reports.dataTable')),
        h('div', { class: 'table-wrap' }, h('table', null,
          h('thead', null, h('tr', null, [t('reports.date'), t('reports.channel'), t('reports.inbound'), t('reports.outbound'), t('reports.opened')].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', null, days.map((d) => h('tr', null, h('td', null, d.date), h('td', null, d.channel),
            h('td', { class: 'num' }, String(d.inbound)), h('td', { class: 'num' }, String(d.outbound)), h('td', { class: 'num' }, String(d.rooms_opened)))))))));
  }

  async function load() {
    try {
      const [a, c] = await Promise.all([api.get('/api/v1/reports/agents', query('agents')), api.get('/api/v1/reports/channels', query('channels'))]);
      if (disposed) return;
      rows = a.agents;
      renderAgents();
      renderChart(c.days);
      chartBox.dataset.loaded = 'true';
    } catch (e) { fail(e); }
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });

  Promise.all([api.get('/api/v1/divisions'), api.get('/api/v1/channels')]).then(([d, c]) => {
    if (disposed) return;
    for (const dv of d.divisions) division.input.append(h('option', { value: dv.id }, dv.name));
    for (const ch of c.channels) channel.input.append(h('option', { value: ch.id }, ch.id));
  }).catch(fail);
  load();
  return { unmount() { disposed = true; } };
}
