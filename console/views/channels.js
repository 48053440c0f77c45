// Settings › Channels (supervisors and admins): every channel from adapters.d
// with its health at a glance (last message received, deliveries waiting and
// failed, the last delivery error, the delivery circuit) and who serves it.
// Re-read every 15 seconds while open.
import { t } from '../strings.js';
import * as api from '../api.js';
import { h, append, clear, checkbox, openDialog } from '../dom.js';
import { channelIcon, kindLabel } from '../icons.js';
import { formatDateTime, since } from '../format.js';
import { settingsTabs } from './settings.js';

const REFRESH_MS = 15_000;

/** What a channel's row says about its health, worst first. */
export function channelHealth(c) {
  const s = c.status || {};
  if (!c.enabled) return 'disabled';
  if (s.circuit === 'open') return 'circuit';
  if (s.failed_deliveries_24h > 0) return 'failing';
  if (!s.last_webhook_at) return 'quiet';
  return 'ok';
}

export function mount(ctx) {
  const { main, user, toast } = ctx;
  const admin = user.role === 'admin';
  let agents = [];
  let channels = [];
  let config = null;
  let disposed = false;
  let timer = null;

  const section = h('section', { class: 'card', 'aria-labelledby': 'channels-h' });
  main.append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', null, t('settings.title'))),
    settingsTabs(user, 'channels'),
    section));

  function fail(e) { if (e.status !== 401) toast(t('common.error', { message: e.message }), 'error'); }

  async function load() {
    clearTimeout(timer);
    try {
      const [c, a] = await Promise.all([api.get('/api/v1/channels'), api.get('/api/v1/agents').catch(() => ({ agents: [] }))]);
      if (disposed) return;
      channels = c.channels; config = c.config; agents = a.agents;
      render();
    } catch (e) { fail(e); }
    if (!disposed) timer = setTimeout(load, REFRESH_MS);
  }

  function render() {
    const rows = channels.map((c) => {
      const s = c.status;
      const health = channelHealth(c);
      return h('tr', { 'data-channel-id': c.id, 'data-health': health },
        h('th', { scope: 'row' }, h('span', { class: 'check' }, channelIcon(c.kind), h('strong', null, c.id))),
        h('td', null, kindLabel(c.kind), c.bot ? ` · ${t('team.bot')}` : '', c.division ? ` · ${c.division}` : ''),
        h('td', null, h('span', { class: `health health-${health}` }, t(`channels.health.${health}`))),
        h('td', { class: 'nowrap' }, s.last_webhook_at
          ? h('time', { datetime: s.last_webhook_at, title: formatDateTime(s.last_webhook_at) }, t('channels.ago', { time: since(s.last_webhook_at) }))
          : t('channels.never')),
        h('td', { class: 'num', 'data-field': 'pending' }, String(s.pending_deliveries)),
        h('td', { class: 'num', 'data-field': 'failed' }, String(s.failed_deliveries_24h)),
        h('td', null, s.last_delivery_error
          ? h('span', { class: 'delivery-failed' }, `${s.last_delivery_error} (${formatDateTime(s.last_delivery_error_at)})`) : '—'),
        h('td', { 'data-field': 'circuit' }, t(`channels.circuit.${s.circuit}`)),
        h('td', { class: 'nowrap' }, h('span', { title: c.agents.map((a) => a.name).join(', ') }, t('channels.agentCount', { n: c.agents.length })), ' ',
          h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('team.agentsFor', { channel: c.id }), onclick: () => editAgents(c) }, t('team.editAgents'))));
    });
    append(clear(section), [h('h2', { id: 'channels-h' }, t('team.channels')),
      config ? h('p', { class: 'muted' }, t('team.configLoaded', { time: formatDateTime(config.loaded_at) })) : null,
      config && config.reload_error ? h('p', { class: 'form-error' }, t('team.reloadError', { error: config.reload_error })) : null,
      channels.length
        ? h('div', { class: 'table-wrap' }, h('table', { id: 'channels-table', class: 'data' },
          h('thead', null, h('tr', null, [t('team.channels'), t('team.kind'), t('channels.health'), t('team.lastWebhook'), t('channels.pending'),
            t('channels.failed'), t('team.lastError'), t('channels.circuit'), t('team.assignedAgents')].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', null, rows)))
        : h('p', { class: 'muted' }, t('channels.none'))]);
    section.dataset.loaded = 'true';
  }

  async function editAgents(c) {
    const serving = new Set(c.agents.map((a) => a.id));
    const candidates = agents.filter((a) => a.active && (admin || a.role === 'agent' || a.id === user.id));
    const ids = await openDialog(t('team.agentsFor', { channel: c.id }), (close) => {
      const boxes = candidates.map((a) => checkbox(`${a.name} (${a.email})`, serving.has(a.id), { value: a.id }));
      const form = h('form', { method: 'dialog' }, h('fieldset', null, h('legend', null, t('team.assignedAgents')), boxes.map((b) => b.row)),
        h('div', { class: 'row-end' },
          h('button', { type: 'button', class: 'btn', onclick: () => close(null) }, t('common.cancel')),
          h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.save'))));
      form.addEventListener('submit', (e) => { e.preventDefault(); close(boxes.filter((b) => b.input.checked).map((b) => b.input.value)); });
      return form;
    });
    if (!ids) return;
    try { await api.put(`/api/v1/channels/${encodeURIComponent(c.id)}/agents`, { agent_ids: ids }); load(); } catch (e) { fail(e); }
  }

  load();
  return { unmount() { disposed = true; clearTimeout(timer); } };
}
