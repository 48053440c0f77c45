// Team (supervisors and admins): agents (add with or without an invitation,
// edit role, divisions, channels, capacity; deactivate), divisions (add,
// rename, set default) and the team's saved replies (saved-replies.js).
// Channels are under Settings › Channels (channels.js).
import { t } from '../strings.js';
import * as api from '../api.js';
import { h, append, clear, field, checkbox, openDialog } from '../dom.js';
import { channelIcon, kindLabel } from '../icons.js';
import { formatDateTime } from '../format.js';
import { mountSavedRepliesEditor } from './saved-replies.js';

export function mount(ctx) {
  const { main, user, toast } = ctx;
  const admin = user.role === 'admin';
  const data = { agents: [], divisions: [], channels: [], config: null };
  let disposed = false;

  const agentsSection = h('section', { class: 'card', 'aria-labelledby': 'agents-h' });
  const divisionsSection = h('section', { class: 'card', 'aria-labelledby': 'divisions-h' });
  // Channels have a page of their own under Settings; this says where.
  const channelsSection = h('section', { class: 'card', 'aria-labelledby': 'channels-h' },
    h('h2', { id: 'channels-h' }, t('team.channels')),
    h('p', null, t('team.channelsMoved'), ' ', h('a', { href: '#/settings/channels', id: 'to-channels' }, t('channels.open'))));
  const addSection = h('section', { class: 'card', 'aria-labelledby': 'add-h' });
  const savedSection = h('section', { class: 'card', id: 'saved-replies', 'aria-labelledby': 'saved-replies-h' });
  main.append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', null, t('team.title')),
      h('button', { type: 'button', class: 'btn btn-small', id: 'to-saved-replies', onclick: () => { savedSection.scrollIntoView({ block: 'start' }); const f = savedSection.querySelector('input, button'); if (f) f.focus({ preventScroll: true }); } }, t('saved.title'))),
    addSection, agentsSection, divisionsSection, savedSection, channelsSection));
  // Its own load, so that reloading the agents does not drop unsaved edits.
  mountSavedRepliesEditor(savedSection, { toast });

  function fail(e) { if (e.status !== 401) toast(t('common.error', { message: e.message }), 'error'); }

  async function load() {
    try {
      const [a, d, c] = await Promise.all([api.get('/api/v1/agents'), api.get('/api/v1/divisions'), api.get('/api/v1/channels')]);
      if (disposed) return;
      data.agents = a.agents; data.divisions = d.divisions; data.channels = c.channels; data.config = c.config;
      renderAgents(); renderDivisions();
      if (!addSection.firstChild) renderAdd();
    } catch (e) { fail(e); }
  }

  const divName = (id) => (data.divisions.find((d) => d.id === id) || {}).name || id;
  const defaultDivision = () => data.divisions.find((d) => d.is_default);

  // Division and channel pickers shared by "add" and "edit".
  function pickers(agent) {
    const divBoxes = data.divisions.map((d) => checkbox(d.name, agent ? agent.divisions.includes(d.id) : false, { value: d.id, name: 'divisions' }));
    const allChannels = checkbox(t('team.allChannels'), !agent || agent.channels === null, { name: 'all-channels' });
    const chBoxes = data.channels.map((c) => checkbox(c.id, agent && agent.channels ? agent.channels.includes(c.id) : false, { value: c.id, name: 'channels' }));
    const syncChannels = () => { for (const b of chBoxes) b.input.disabled = allChannels.input.checked; };
    allChannels.input.addEventListener('change', syncChannels);
    syncChannels();
    return {
      rows: [
        h('fieldset', null, h('legend', null, t('team.divisionsField')), divBoxes.map((b) => b.row)),
        h('fieldset', null, h('legend', null, t('team.channelsField')), allChannels.row, chBoxes.map((b) => b.row)),
      ],
      divisions: () => divBoxes.filter((b) => b.input.checked).map((b) => b.input.value),
      channels: () => (allChannels.input.checked ? null : chBoxes.filter((b) => b.input.checked).map((b) => b.input.value)),
    };
  }

  function capacityValue(input) {
    const v = input.value.trim();
    return v ? Number(v) : null;
  }

  function renderAdd() {
    const name = field(t('team.name'), h('input', { type: 'text', id: 'agent-name', required: true, maxlength: 100 }));
    const email = field(t('team.email'), h('input', { type: 'email', id: 'agent-email', required: true }));
    const role = field(t('team.role'), h('select', { id: 'agent-role' },
      h('option', { value: 'agent' }, t('role.agent')),
      admin ? h('option', { value: 'supervisor' }, t('role.supervisor')) : null));
    const capacity = field(t('team.capacity'), h('input', { type: 'number', id: 'agent-capacity', min: 1, max: 10000, placeholder: t('team.capacityDefault') }));
    const invite = h('input', { type: 'radio', name: 'access', value: 'invite', checked: true, id: 'access-invite' });
    const setPw = h('input', { type: 'radio', name: 'access', value: 'password', id: 'access-password' });
    const password = field(t('team.password'), h('input', { type: 'password', id: 'agent-password', autocomplete: 'new-password', minlength: 8 }));
    password.row.hidden = true;
    invite.addEventListener('change', () => { password.row.hidden = true; });
    setPw.addEventListener('change', () => { password.row.hidden = false; });
    const pick = pickers(null);
    const result = h('div', { id: 'add-result', 'aria-live': 'polite' });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const form = h('form', { id: 'add-agent-form', novalidate: true },
      h('div', { class: 'form-grid' }, name.row, email.row, role.row, capacity.row),
      h('fieldset', null, h('legend', null, t('team.access')),
        h('label', { class: 'check' }, invite, h('span', null, t('team.invite'))),
        h('label', { class: 'check' }, setPw, h('span', null, t('team.setPassword'))),
        password.row),
      h('details', null, h('summary', null, `${t('team.divisionsField')} · ${t('team.channelsField')}`), pick.rows),
      error,
      h('div', { class: 'row-end' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'add-agent-submit' }, t('team.create'))),
      result);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.textContent = '';
      clear(result);
      const body = {
        name: name.input.value.trim(), email: email.input.value.trim(), role: role.input.value,
        divisions: pick.divisions(), channels: pick.channels(), max_open_rooms: capacityValue(capacity.input),
      };
      if (setPw.checked) body.password = password.input.value;
      try {
        const r = await api.post('/api/v1/agents', body);
        toast(t('team.created', { name: r.agent.name }));
        showInvitation(result, r.agent, r.invitation);
        form.reset();
        password.row.hidden = true;
        load();
      } catch (err) {
        if (err.status !== 401) error.textContent = t('common.error', { message: err.message });
      }
    });
    clear(addSection).append(h('h2', { id: 'add-h' }, t('team.addAgent')), form);
  }

  function showInvitation(box, agent, inv) {
    clear(box);
    if (!inv) return;
    if (inv.sent === true) { box.append(h('p', { class: 'invite-box' }, t('team.inviteSent', { email: agent.email }))); return; }
    if (inv.url_withheld) {
      // Links go to admins only (a supervisor must not hold someone's way in).
      box.append(h('p', { class: 'invite-box', id: 'invitation-withheld' },
        inv.sent === false ? t('team.inviteFailed', { error: inv.error || '' }) + ' ' : '', t('team.inviteWithheld', { name: agent.name })));
      return;
    }
    const link = h('code', { id: 'invitation-url' }, inv.url || '');
    const copy = h('button', {
      type: 'button', class: 'btn btn-small',
      onclick: async () => { try { await navigator.clipboard.writeText(inv.url); copy.textContent = t('common.copied'); } catch (e) { /* select it instead */ } },
    }, t('common.copy'));
    box.append(h('div', { class: 'invite-box' },
      h('p', null, inv.sent === false ? t('team.inviteFailed', { error: inv.error || '' }) : t('team.inviteLink', { name: agent.name, time: formatDateTime(inv.expires_at) })),
      h('p', null, link, ' ', copy)));
  }

  function renderAgents() {
    const rows = data.agents.map((a) => {
      let state = a.active ? t('team.active') : t('team.deactivated');
      if (a.invitation_pending) state = t('team.pending');
      const self = a.id === user.id;
      const manageable = admin || a.role === 'agent' || self;
      return h('tr', { 'data-agent-id': a.id },
        h('td', null, h('strong', null, a.name), h('br'), h('span', { class: 'muted' }, a.email)),
        h('td', null, t(`role.${a.role}`)),
        h('td', null, state, a.active ? ` · ${a.online ? t('shell.online') : t('shell.offline')}` : ''),
        // No division of their own: routing counts them in the default one, and so does this column.
        h('td', { class: 'agent-divisions' }, a.divisions.length ? a.divisions.map((d) => h('span', { class: 'tag' }, divName(d)))
          : (defaultDivision() ? h('span', { class: 'tag tag-implicit', title: t('team.defaultDivisionHint') }, t('team.inDefault', { name: defaultDivision().name })) : t('common.none'))),
        h('td', null, a.channels === null ? t('team.allChannels') : (a.channels.length ? a.channels.map((c) => h('span', { class: 'tag' }, c)) : t('common.none'))),
        h('td', { class: 'num' }, `${a.open_rooms} / ${a.max_open_rooms ?? t('team.capacityDefault')}`),
        h('td', null, manageable ? h('div', { class: 'actions-cell' },
          h('button', { type: 'button', class: 'btn btn-small edit-agent', onclick: () => edit(a) }, t('common.edit')),
          a.invitation_pending && a.active ? h('button', { type: 'button', class: 'btn btn-small', onclick: () => reinvite(a) }, t('team.newInvite')) : null,
          !self && a.active ? h('button', { type: 'button', class: 'btn btn-small btn-danger deactivate-agent', onclick: () => deactivate(a) }, t('team.deactivate')) : null,
          !a.active ? h('button', { type: 'button', class: 'btn btn-small reactivate-agent', onclick: () => reactivate(a) }, t('team.reactivate')) : null) : null));
    });
    clear(agentsSection).append(h('h2', { id: 'agents-h' }, t('team.agents')),
      h('div', { class: 'table-wrap' }, h('table', { id: 'agents-table' },
        h('thead', null, h('tr', null, [t('team.name'), t('team.role'), t('team.status'), t('team.divisionsField'), t('team.channelsField'), t('team.openRooms'), t('team.actions')]
          .map((c, i) => h('th', { scope: 'col', class: i === 5 ? 'num' : null }, c)))),
        h('tbody', null, rows))));
  }

  async function edit(a) {
    const body = await openDialog(t('team.editAgent', { name: a.name }), (close) => {
      const name = field(t('team.name'), h('input', { type: 'text', id: 'edit-agent-name', value: a.name, maxlength: 100 }));
      const role = admin && a.id !== user.id ? field(t('team.role'), h('select', { id: 'edit-agent-role' },
        ['agent', 'supervisor', 'admin'].map((r) => h('option', { value: r, selected: a.role === r }, t(`role.${r}`))))) : null;
      const capacity = field(t('team.capacity'), h('input', { type: 'number', id: 'edit-agent-capacity', min: 1, max: 10000, value: a.max_open_rooms == null ? '' : String(a.max_open_rooms), placeholder: t('team.capacityDefault') }));
      const pick = pickers(a);
      const form = h('form', { method: 'dialog', id: 'edit-agent-form' }, name.row, role && role.row, capacity.row, pick.rows,
        h('div', { class: 'row-end' },
          h('button', { type: 'button', class: 'btn', onclick: () => close(null) }, t('common.cancel')),
          h('button', { type: 'submit', class: 'btn btn-primary', id: 'edit-agent-save' }, t('common.save'))));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const b = { name: name.input.value.trim(), max_open_rooms: capacityValue(capacity.input), divisions: pick.divisions(), channels: pick.channels() };
        if (role && role.input.value !== a.role) b.role = role.input.value;
        close(b);
      });
      return form;
    });
    if (!body) return;
    try { await api.patch(`/api/v1/agents/${encodeURIComponent(a.id)}`, body); toast(t('team.updated')); load(); } catch (e) { fail(e); }
  }

  async function deactivate(a) {
    const ok = await openDialog(t('team.deactivate'), (close) => h('div', null,
      h('p', null, t('team.confirmDeactivate', { name: a.name })),
      h('div', { class: 'row-end' },
        h('button', { type: 'button', class: 'btn', onclick: () => close(false) }, t('common.cancel')),
        h('button', { type: 'button', class: 'btn btn-danger', id: 'confirm-deactivate', onclick: () => close(true) }, t('team.deactivate')))));
    if (!ok) return;
    try { await api.post(`/api/v1/agents/${encodeURIComponent(a.id)}/deactivate`); load(); } catch (e) { fail(e); }
  }

  async function reactivate(a) {
    try { await api.post(`/api/v1/agents/${encodeURIComponent(a.id)}/reactivate`); load(); } catch (e) { fail(e); }
  }

  async function reinvite(a) {
    try {
      const r = await api.post(`/api/v1/agents/${encodeURIComponent(a.id)}/invitation`);
      const box = addSection.querySelector('#add-result');
      if (box) { showInvitation(box, r.agent, r.invitation); box.scrollIntoView({ block: 'nearest' }); }
    } catch (e) { fail(e); }
  }

  function renderDivisions() {
    const input = h('input', { type: 'text', id: 'division-name', maxlength: 100, required: true });
    const form = h('form', { class: 'filters', id: 'add-division-form' }, field(t('team.divisionName'), input).row,
      h('button', { type: 'submit', class: 'btn', id: 'add-division-submit' }, t('team.addDivision')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!input.value.trim()) return;
      try { await api.post('/api/v1/divisions', { name: input.value.trim() }); load(); } catch (err) { fail(err); }
    });
    const rows = data.divisions.map((d) => h('tr', { 'data-division-id': d.id },
      h('td', null, d.name), h('td', null, d.is_default ? t('team.default') : ''),
      h('td', null, h('div', { class: 'actions-cell' },
        h('button', { type: 'button', class: 'btn btn-small rename-division', onclick: () => rename(d) }, t('team.rename')),
        admin && !d.is_default ? h('button', { type: 'button', class: 'btn btn-small make-default', onclick: () => makeDefault(d) }, t('team.makeDefault')) : null,
        !d.is_default ? h('button', { type: 'button', class: 'btn btn-small btn-danger delete-division', onclick: () => removeDivision(d) }, t('common.delete')) : null))));
    clear(divisionsSection).append(h('h2', { id: 'divisions-h' }, t('team.divisions')),
      h('table', { id: 'divisions-table' }, h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('team.name')), h('th', { scope: 'col' }, t('team.default')), h('th', { scope: 'col' }, t('team.actions')))),
        h('tbody', null, rows)), h('div', { class: 'stack' }), form);
  }

  async function rename(d) {
    const name = await openDialog(t('team.rename'), (close) => {
      const f = field(t('team.newName', { name: d.name }), h('input', { type: 'text', id: 'division-new-name', value: d.name, maxlength: 100 }));
      const form = h('form', { method: 'dialog' }, f.row, h('div', { class: 'row-end' },
        h('button', { type: 'button', class: 'btn', onclick: () => close(null) }, t('common.cancel')),
        h('button', { type: 'submit', class: 'btn btn-primary', id: 'division-rename-save' }, t('common.save'))));
      form.addEventListener('submit', (e) => { e.preventDefault(); close(f.input.value.trim() || null); });
      return form;
    });
    if (!name) return;
    try {
      const r = await api.patch(`/api/v1/divisions/${encodeURIComponent(d.id)}`, { name });
      if (r && r.warnings && r.warnings.length) toast(r.warnings.join(' '), 'error');
      load();
    } catch (e) { fail(e); }
  }

  async function makeDefault(d) {
    try { await api.post(`/api/v1/divisions/${encodeURIComponent(d.id)}/default`); load(); } catch (e) { fail(e); }
  }

  async function removeDivision(d) {
    try { await api.del(`/api/v1/divisions/${encodeURIComponent(d.id)}`); load(); } catch (e) { fail(e); }
  }

  load();
  return { unmount() { disposed = true; } };
}
