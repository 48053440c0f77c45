// Reports. Supervisors and admins: agent performance (sortable, CSV), then
// day-by-day charts of conversations, response times and messages per
// channel. Agents: their own figures and days. Dates and days are the
// browser's time zone (sent to the API as `tz`, and the window as date-times).
import { t } from '../strings.js';
import * as api from '../api.js';
import { h, clear, field } from '../dom.js';
import { formatDuration } from '../format.js';
import { lineChart } from './chart.js';

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

/** The browser's time zone (an IANA name), which the reports' days follow. */
export const TIME_ZONE = (() => {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch (e) { return 'UTC'; }
})();

/** `yyyy-mm-dd` of a Date in the browser's time zone. */
export function localDay(date) {
  const p = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}`;
}

/** Local midnight of a `yyyy-mm-dd` day, `plus` days later. */
function midnight(day, plus = 0) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y, m - 1, d + plus);
}

const durationLabel = (v) => (v === 0 ? '0' : formatDuration(v));

export function mount(ctx) {
  const { main, toast, user } = ctx;
  const own = user.role === 'agent';
  let disposed = false;
  const today = new Date();
  const from = field(t('reports.from'), h('input', { type: 'date', id: 'report-from', value: localDay(new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6)) }));
  const to = field(t('reports.to'), h('input', { type: 'date', id: 'report-to', value: localDay(today) }));
  const division = field(t('reports.division'), h('select', { id: 'report-division' }, h('option', { value: '' }, t('reports.allDivisions'))));
  const channel = field(t('reports.channel'), h('select', { id: 'report-channel' }, h('option', { value: '' }, t('reports.allChannels'))));
  const form = h('form', { class: 'filters card', id: 'report-filters' }, from.row, to.row, own ? null : division.row, own ? null : channel.row,
    h('button', { type: 'submit', class: 'btn btn-primary' }, t('reports.apply')),
    h('p', { class: 'muted zone', id: 'report-zone' }, t('reports.timeZone', { tz: TIME_ZONE })));
  const agentsBox = h('div', { class: 'table-wrap', id: 'agents-report-wrap' });
  const summaryBox = h('dl', { class: 'figures', id: 'my-figures' });
  const conversationsBox = h('div', { id: 'conversations-chart' });
  const timesBox = h('div', { id: 'times-chart' });
  const chartBox = h('div', { id: 'volume-chart' });
  const sort = { key: 'agent', dir: 1 };
  let rows = [];

  const csvButton = (which) => h('button', { type: 'button', class: 'btn btn-small', id: `csv-${which}`, onclick: () => downloadCsv(which) }, t('reports.csv'));
  const card = (id, title, body, extra) => h('section', { class: 'card', 'aria-labelledby': id },
    h('div', { class: 'page-head' }, h('h2', { id }, title), extra), body);
  main.append(h('div', { class: 'page reports' },
    h('div', { class: 'page-head' }, h('h1', null, own ? t('reports.mine') : t('reports.title'))),
    form,
    own ? card('rep-mine-h', t('reports.mineSummary'), summaryBox) : card('rep-agents-h', t('reports.agents'), agentsBox, csvButton('agents')),
    card('rep-conv-h', own ? t('reports.myConversations') : t('reports.conversations'), conversationsBox),
    card('rep-times-h', t('reports.times'), timesBox),
    card('rep-volume-h', own ? t('reports.mySent') : t('reports.volume'), chartBox, own ? null : csvButton('channels'))));

  // The window as date-times (local midnights), so every report covers the local days chosen.
  function query(which) {
    const q = { from: midnight(from.input.value).toISOString(), to: midnight(to.input.value, 1).toISOString(), tz: TIME_ZONE };
    if (!own && channel.input.value) q.channel = channel.input.value;
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
      ? h('table', { id: 'agents-report', class: 'report-table' }, h('thead', null, head), h('tbody', null, body))
      : h('p', { class: 'muted' }, t('reports.noData')));
  }

  function renderSummary(r) {
    const items = COLUMNS.filter((c) => c.key !== 'agent').map((c) => [t(c.label), c.duration ? formatDuration(r[c.key]) : String(r[c.key])]);
    clear(summaryBox).append(...items.map(([k, v]) => h('div', { class: 'figure' }, h('dt', null, k), h('dd', null, v))));
  }

  function renderDaily(days) {
    const dates = days.map((d) => d.date);
    clear(conversationsBox).append(lineChart({
      id: 'conversations', dates, label: t('reports.chartConversations'),
      series: own
        ? [{ name: t('reports.assignedSeries'), values: days.map((d) => d.rooms_assigned) }, { name: t('reports.resolvedSeries'), values: days.map((d) => d.rooms_resolved) }]
        : [{ name: t('reports.opened'), values: days.map((d) => d.rooms_opened) }, { name: t('reports.resolvedSeries'), values: days.map((d) => d.rooms_resolved) }],
    }));
    clear(timesBox).append(lineChart({
      id: 'times', dates, label: t('reports.chartTimes'), format: durationLabel,
      series: [
        { name: t('reports.col.firstAvg'), values: days.map((d) => d.first_response_avg_seconds) },
        { name: t('reports.col.resolution'), values: days.map((d) => d.resolution_avg_seconds) },
      ],
    }));
    timesBox.dataset.loaded = 'true';
  }

  // Messages per channel per day: each channel's own daily series, in the page's days.
  async function renderVolume(channelIds) {
    const q = { from: from.input.value, to: to.input.value, tz: TIME_ZONE };
    const series = await Promise.all(channelIds.map((id) => api.get('/api/v1/reports/daily', { ...q, channel: id }).then((r) => ({ id, days: r.days }))));
    if (disposed) return;
    const dates = series.length ? series[0].days.map((d) => d.date) : [];
    clear(chartBox).append(lineChart({
      id: 'volume', dates, label: t('reports.chartLabel'),
      series: series.map((s) => ({ name: s.id, values: s.days.map((d) => d.inbound + d.outbound) })),
    }));
  }

  let channelIds = [];
  async function load() {
    try {
      if (own) {
        const r = await api.get('/api/v1/reports/me', { from: from.input.value, to: to.input.value, tz: TIME_ZONE });
        if (disposed) return;
        renderSummary(r.agent);
        renderDaily(r.days);
        clear(chartBox).append(lineChart({ id: 'volume', dates: r.days.map((d) => d.date), label: t('reports.chartMine'), series: [{ name: t('reports.sentSeries'), values: r.days.map((d) => d.outbound) }] }));
      } else {
        const daily = { from: from.input.value, to: to.input.value, tz: TIME_ZONE };
        if (channel.input.value) daily.channel = channel.input.value;
        const [a, d] = await Promise.all([api.get('/api/v1/reports/agents', query('agents')), api.get('/api/v1/reports/daily', daily)]);
        if (disposed) return;
        rows = a.agents;
        renderAgents();
        renderDaily(d.days);
        await renderVolume(channel.input.value ? [channel.input.value] : channelIds);
      }
      chartBox.dataset.loaded = 'true';
    } catch (e) { fail(e); }
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });

  if (own) load();
  else {
    Promise.all([api.get('/api/v1/divisions'), api.get('/api/v1/channels')]).then(([d, c]) => {
      if (disposed) return;
      for (const dv of d.divisions) division.input.append(h('option', { value: dv.id }, dv.name));
      for (const ch of c.channels) channel.input.append(h('option', { value: ch.id }, ch.id));
      channelIds = c.channels.map((ch) => ch.id);
      load();
    }).catch(fail);
  }
  return { unmount() { disposed = true; } };
}
