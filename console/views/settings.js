// Settings (admins): custom agent allocation (the switch at the top right saves
// at once), its webhook, fallback and deadline; the mark-as-resolved webhook,
// default capacity and offline behaviour.
import { t } from '../strings.js';
import * as api from '../api.js';
import { h, field, checkbox, switchButton } from '../dom.js';

/** The Settings page's tabs: General (admins) and Channels (supervisors and admins). */
export function settingsTabs(user, current) {
  const tabs = [];
  if (user.role === 'admin') tabs.push(['general', '#/settings', t('settings.general')]);
  tabs.push(['channels', '#/settings/channels', t('team.channels')]);
  return h('nav', { class: 'subtabs', 'aria-label': t('settings.title') },
    tabs.map(([id, href, label]) => h('a', { href, id: `settings-tab-${id}`, class: 'subtab', 'aria-current': id === current ? 'page' : null }, label)));
}

export function mount(ctx) {
  const { main, toast, user } = ctx;
  const page = h('div', { class: 'page' }, h('p', { class: 'muted' }, t('common.loading')));
  main.append(page);
  let disposed = false;

  api.get('/api/v1/settings').then((s) => { if (!disposed) render(s); }).catch((e) => {
    if (e.status !== 401) page.replaceChildren(h('p', { class: 'form-error' }, t('common.error', { message: e.message })));
  });

  function render(s) {
    const ca = s.custom_allocation;
    const toggle = switchButton({
      id: 'custom-allocation-switch', className: 'big-switch', label: t('settings.customAllocation'),
      checked: ca.enabled, stateText: (on) => (on ? t('common.on') : t('common.off')),
      'aria-describedby': 'custom-allocation-help',
    });
    const sw = toggle.el;
    const url = field(t('settings.webhookUrl'), h('input', { type: 'url', id: 'allocation-url', value: ca.webhook_url || '', placeholder: 'https://' }));
    const fallback = field(t('settings.fallback'), h('select', { id: 'allocation-fallback' },
      h('option', { value: 'automatic', selected: ca.fallback === 'automatic' }, t('settings.fallbackAutomatic')),
      h('option', { value: 'wait', selected: ca.fallback === 'wait' }, t('settings.fallbackWait'))));
    const deadline = field(t('settings.deadline'), h('input', { type: 'number', id: 'allocation-deadline', min: 1, max: 86400, value: String(ca.deadline_seconds) }));
    const secret = field(t('settings.secret'), h('input', { type: 'password', id: 'allocation-secret', autocomplete: 'new-password' }),
      ca.secret_set ? t('settings.secretSet') : t('settings.secretUnset'));
    const resolvedUrl = field(t('settings.resolvedWebhook'), h('input', { type: 'url', id: 'resolved-url', value: s.mark_as_resolved_webhook_url || '', placeholder: 'https://' }));
    const capacity = field(t('settings.defaultCapacity'), h('input', { type: 'number', id: 'default-capacity', min: 1, max: 10000, value: s.default_max_open_rooms == null ? '' : String(s.default_max_open_rooms) }), t('settings.defaultCapacityHelp'));
    const offline = checkbox(t('settings.offlineReturns'), s.offline_returns_rooms, { id: 'offline-returns' });
    const previous = checkbox(t('settings.preferPrevious'), s.prefer_previous_agent, { id: 'prefer-previous' });
    const status = h('p', { class: 'muted', role: 'status', id: 'settings-status' });
    const error = h('p', { class: 'form-error', role: 'alert', id: 'settings-error' });

    sw.addEventListener('click', async () => {
      const want = !toggle.get();
      error.textContent = '';
      if (want && !url.input.value.trim()) { error.textContent = t('settings.needsUrl'); url.input.focus(); return; }
      sw.disabled = true;
      try {
        const body = { custom_allocation: { enabled: want } };
        if (want) body.custom_allocation.webhook_url = url.input.value.trim();
        const r = await api.patch('/api/v1/settings', body);
        toggle.set(r.custom_allocation.enabled);
        status.textContent = r.custom_allocation.enabled ? t('settings.enabled') : t('settings.disabled');
        toast(status.textContent);
      } catch (e) {
        if (e.status !== 401) error.textContent = t('common.error', { message: e.message });
      } finally { sw.disabled = false; }
    });

    const form = h('form', { id: 'settings-form', novalidate: true },
      h('section', { class: 'card' },
        h('h2', null, t('settings.customAllocation')),
        h('p', { class: 'muted', id: 'custom-allocation-help' }, t('settings.customAllocationHelp')),
        h('div', { class: 'form-grid' }, url.row, fallback.row, deadline.row, secret.row)),
      h('section', { class: 'card' },
        h('h2', null, t('settings.routing')),
        h('div', { class: 'form-grid' }, resolvedUrl.row, capacity.row),
        offline.row, previous.row),
      error,
      h('div', { class: 'row-end' }, status, h('button', { type: 'submit', class: 'btn btn-primary', id: 'settings-save' }, t('common.save'))));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.textContent = '';
      const cap = capacity.input.value.trim();
      const body = {
        custom_allocation: {
          webhook_url: url.input.value.trim() || null,
          fallback: fallback.input.value,
          deadline_seconds: Number(deadline.input.value) || 30,
        },
        mark_as_resolved_webhook_url: resolvedUrl.input.value.trim() || null,
        default_max_open_rooms: cap ? Number(cap) : null,
        offline_returns_rooms: offline.input.checked,
        prefer_previous_agent: previous.input.checked,
      };
      if (secret.input.value) body.custom_allocation.secret = secret.input.value;
      try {
        const r = await api.patch('/api/v1/settings', body);
        secret.input.value = '';
        toggle.set(r.custom_allocation.enabled);
        status.textContent = t('settings.saved');
        toast(t('settings.saved'));
      } catch (err) {
        if (err.status !== 401) error.textContent = t('common.error', { message: err.message });
      }
    });
    page.replaceChildren(h('div', { class: 'page-head' }, h('h1', null, t('settings.title')), sw), settingsTabs(user, 'general'), form);
  }

  return { unmount() { disposed = true; } };
}
