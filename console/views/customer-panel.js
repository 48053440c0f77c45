// The customer panel beside a conversation: who the customer is (picture or
// initials, channel, network id), the properties and extras they came with
// (properties editable by whoever may answer the room), the room's tags and
// notes, their earlier sessions here, their conversations on other channels
// when contacts were merged (merge and unmerge by supervisors), and the
// room's routing history.
import { t } from '../strings.js';
import * as api from '../api.js';
import { h, clear, openDialog } from '../dom.js';
import { channelIcon, kindLabel } from '../icons.js';
import { formatDateTime, formatShort, initials } from '../format.js';

export function mountCustomerPanel(aside, ctx) {
  const { roomId, user, toast, fail, channels } = ctx;
  const staff = user.role !== 'agent';
  const rid = encodeURIComponent(roomId);
  let room = null;
  let details = null; // GET /api/v1/contacts/{id}, when allowed
  let disposed = false;
  const blobs = [];

  function channelName(id) {
    const c = (channels || []).find((x) => x.id === id);
    return (c && (c.name || c.id)) || id;
  }
  function channelKind(id) {
    const c = (channels || []).find((x) => x.id === id);
    return (c && c.kind) || id;
  }

  function section(title, id, ...body) {
    return h('section', { class: 'panel-section', id }, h('h3', null, title), ...body);
  }

  function avatar(c) {
    const seed = Number(c.id) || 0;
    const mark = h('span', { class: `avatar avatar-lg avatar-c${Math.abs(seed) % 8}`, 'aria-hidden': 'true', id: 'customer-initials' }, initials(c.name || c.username || c.external_id));
    if (!c.avatar_url) return mark;
    // The profile picture, through the daemon (the console loads images from its own origin only).
    const img = h('img', { class: 'customer-avatar', id: 'customer-avatar', alt: t('conv.customerAvatar'), width: 56, height: 56, hidden: true });
    api.request('GET', `/api/v1/rooms/${rid}/customer_avatar`, { params: { proxy: 'true' }, raw: true })
      .then((res) => res.blob())
      .then((blob) => {
        if (disposed) return;
        const url = URL.createObjectURL(blob);
        blobs.push(url);
        img.src = url; img.hidden = false; mark.hidden = true;
      })
      .catch(() => img.remove());
    return h('span', { class: 'avatar-stack' }, mark, img);
  }

  function who() {
    const c = (details && details.contact) || room.customer || room.contact || {};
    const kind = (room.customer && room.customer.channel_kind) || channelKind(room.channel);
    return h('div', { class: 'panel-who' },
      avatar({ ...c, avatar_url: c.avatar_url || (room.customer && room.customer.avatar_url) }),
      h('div', null,
        h('p', { class: 'panel-name', id: 'customer-name' }, c.name || c.username || t('inbox.customer', { id: c.external_id || roomId })),
        h('p', { class: 'panel-channel' }, channelIcon(kind, kindLabel(kind)), ' ', channelName(room.channel)),
        room.title ? h('p', { class: 'panel-channel', id: 'customer-group' }, t('panel.group', { name: room.title })) : null,
        h('dl', { class: 'customer-facts' },
          h('dt', null, t('conv.customerId')), h('dd', { id: 'customer-network-id' }, c.external_id || '—'),
          c.username ? [h('dt', null, t('panel.username')), h('dd', null, `@${c.username}`)] : null,
          c.email ? [h('dt', null, t('conv.customerEmail')), h('dd', null, c.email)] : null)));
  }

  function propertiesSection(properties) {
    const canEdit = staff || (room.assignee && room.assignee.id === user.id);
    const rows = h('ul', { class: 'stack', id: 'customer-properties' });
    function row(key = '', value = '') {
      const k = h('input', { type: 'text', class: 'property-key', value: key, maxlength: 64, 'aria-label': t('conv.propertyKey'), readonly: !canEdit });
      const v = h('input', { type: 'text', class: 'property-value', value, maxlength: 1000, 'aria-label': t('conv.propertyValue'), readonly: !canEdit });
      const li = h('li', { class: 'row' }, k, v,
        canEdit ? h('button', { type: 'button', class: 'btn btn-ghost', 'aria-label': t('conv.propertyRemove', { name: key || '…' }), onclick: () => li.remove() }, '×') : null);
      rows.append(li);
      return k;
    }
    for (const p of properties) row(p.key, p.value);
    const form = h('form', { class: 'stack' },
      properties.length || canEdit ? rows : h('p', { class: 'muted' }, t('conv.propertiesNone')),
      canEdit ? h('div', { class: 'row' },
        h('button', { type: 'button', class: 'btn btn-small', id: 'property-add', onclick: () => row().focus() }, t('conv.propertyAdd')),
        h('button', { type: 'submit', class: 'btn btn-small btn-primary', id: 'properties-save' }, t('common.save'))) : null);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const list = [...rows.querySelectorAll('li')].map((li) => ({
        key: li.querySelector('.property-key').value.trim(), value: li.querySelector('.property-value').value,
      })).filter((p) => p.key);
      try {
        await api.put(`/api/v1/rooms/${rid}/customer_properties`, { properties: list });
        toast(t('conv.propertiesSaved'));
      } catch (err) { fail(err); }
    });
    return section(t('conv.properties'), 'panel-properties', form);
  }

  function extrasSection() {
    const extras = (details && details.contact && details.contact.extras) || {};
    const keys = Object.keys(extras);
    if (!keys.length) return null;
    return section(t('panel.extras'), 'panel-extras',
      h('dl', { class: 'customer-facts' }, keys.map((k) => [h('dt', null, k), h('dd', null, typeof extras[k] === 'string' ? extras[k] : JSON.stringify(extras[k]))])));
  }

  function tagsSection() {
    const canEdit = staff || (room.assignee && room.assignee.id === user.id);
    const tags = room.tags || [];
    const list = h('p', { class: 'tags', id: 'panel-tags' }, tags.length ? tags.map((tag) => h('span', { class: 'tag' }, tag)) : h('span', { class: 'muted' }, t('panel.noTags')));
    if (!canEdit) return section(t('panel.tags'), 'panel-tags-section', list);
    const input = h('input', { type: 'text', id: 'panel-tags-input', value: tags.join(', '), 'aria-label': t('panel.tagsEdit') });
    const form = h('form', { class: 'row' }, input, h('button', { type: 'submit', class: 'btn btn-small', id: 'panel-tags-save' }, t('common.save')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const next = input.value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
      try {
        const r = await api.put(`/api/v1/rooms/${rid}/tags`, { tags: next });
        room = { ...room, tags: r.room.tags };
        clear(list).append(...(room.tags.length ? room.tags.map((tag) => h('span', { class: 'tag' }, tag)) : [h('span', { class: 'muted' }, t('panel.noTags'))]));
        toast(t('panel.tagsSaved'));
      } catch (err) { fail(err); }
    });
    return section(t('panel.tags'), 'panel-tags-section', list, form);
  }

  function notesSection(notes) {
    if (!notes.length) return section(t('panel.notes'), 'panel-notes', h('p', { class: 'muted' }, t('panel.noNotes')));
    return section(t('panel.notes'), 'panel-notes',
      h('ul', { class: 'panel-list' }, notes.slice(-3).map((n) => h('li', null,
        h('span', { class: 'muted' }, `${(n.author && n.author.name) || '?'} · ${formatShort(n.created_at)}: `), n.text))));
  }

  function sessionsSection() {
    const sessions = (room.sessions || []).filter((s) => s.ended_at);
    return section(t('panel.sessions'), 'panel-sessions',
      sessions.length
        ? h('ul', { class: 'panel-list' }, sessions.map((s) => h('li', null,
          t('panel.session', { n: s.number, date: formatDateTime(s.started_at) }),
          s.agents && s.agents.length ? h('span', { class: 'muted' }, ` · ${t('panel.sessionAgents', { n: s.agents.length })}`) : null)))
        : h('p', { class: 'muted' }, t('panel.noSessions')));
  }

  function otherRoom(r) {
    const kind = channelKind(r.channel);
    return h('li', { 'data-room-id': r.id },
      h('a', { href: `#/inbox/${encodeURIComponent(r.id)}` }, channelIcon(kind, kindLabel(kind)), ' ', channelName(r.channel), ' · ',
        (r.contact && (r.contact.name || r.contact.external_id)) || `#${r.id}`),
      h('span', { class: 'muted' }, ` · ${t(`status.${r.status}`)} · ${formatShort(r.last_message_at || r.created_at)}`));
  }

  function elsewhereSection() {
    const canMerge = staff;
    const linked = (details && details.linked) || [];
    const others = ((details && details.rooms) || []).filter((r) => String(r.id) !== String(roomId));
    const body = [];
    if (linked.length) {
      body.push(h('ul', { class: 'panel-list', id: 'panel-linked' }, linked.map((c) => h('li', { 'data-contact-id': c.id },
        channelIcon(channelKind(c.channel), kindLabel(channelKind(c.channel))), ' ', c.name || c.username || c.external_id,
        h('span', { class: 'muted' }, ` · ${channelName(c.channel)}`),
        canMerge ? [' ', h('button', { type: 'button', class: 'btn btn-small btn-ghost unmerge', onclick: () => unmerge(c) }, t('panel.unmerge'))] : null))));
    }
    body.push(others.length
      ? h('ul', { class: 'panel-list', id: 'panel-other-rooms' }, others.map(otherRoom))
      : h('p', { class: 'muted' }, t('panel.noOtherRooms')));
    if (canMerge && details) body.push(h('button', { type: 'button', class: 'btn btn-small', id: 'panel-merge', onclick: merge }, t('panel.merge')));
    return section(t('panel.elsewhere'), 'panel-elsewhere', ...body);
  }

  function historySection(events) {
    const label = (e) => t(`panel.kind.${e.kind}`) === `panel.kind.${e.kind}` ? e.kind : t(`panel.kind.${e.kind}`);
    return section(t('panel.history'), 'panel-history',
      h('ol', { class: 'panel-list' }, events.slice(-8).map((e) => h('li', null,
        label(e), e.assignee && e.assignee.name ? ` → ${e.assignee.name}` : '', e.name ? ` (${e.name})` : '',
        h('span', { class: 'muted' }, ` · ${formatShort(e.at)}`)))));
  }

  // Merging: find the same person's other conversation, and say they are one.
  async function merge() {
    const mine = details.contact.id;
    const chosen = await openDialog(t('panel.mergeTitle'), (close) => {
      const input = h('input', { type: 'search', id: 'merge-search', 'aria-label': t('panel.mergeSearch'), placeholder: t('panel.mergeSearch') });
      const results = h('ul', { class: 'panel-list', id: 'merge-results' });
      let timer = null;
      input.addEventListener('input', () => {
        clearTimeout(timer);
        timer = setTimeout(async () => {
          const q = input.value.trim();
          if (q.length < 2) { clear(results); return; }
          try {
            const r = await api.get('/api/v1/rooms', { q, limit: 20 });
            const seen = new Set([String(mine), ...((details.linked || []).map((c) => String(c.id)))]);
            const found = r.rooms.filter((x) => x.contact && !seen.has(String(x.contact.id)) && seen.add(String(x.contact.id)));
            clear(results).append(...(found.length ? found.map((x) => h('li', null,
              h('button', { type: 'button', class: 'btn btn-small merge-candidate', 'data-contact-id': x.contact.id, onclick: () => close(x.contact) },
                `${x.contact.name || x.contact.external_id} · ${channelName(x.channel)}`))) : [h('li', { class: 'muted' }, t('panel.mergeNone'))]));
          } catch (e) { fail(e); }
        }, 200);
      });
      setTimeout(() => input.focus(), 0);
      return h('div', { class: 'stack' }, h('p', { class: 'muted' }, t('panel.mergeHint')), input, results,
        h('div', { class: 'row-end' }, h('button', { type: 'button', class: 'btn', onclick: () => close(null) }, t('common.cancel'))));
    });
    if (!chosen) return;
    try {
      await api.post(`/api/v1/contacts/${encodeURIComponent(mine)}/merge`, { contact_id: chosen.id });
      toast(t('panel.merged', { name: chosen.name || chosen.external_id }));
      await refresh(room);
    } catch (e) { fail(e); }
  }

  async function unmerge(c) {
    try {
      await api.post(`/api/v1/contacts/${encodeURIComponent(c.id)}/unmerge`);
      toast(t('panel.unmerged', { name: c.name || c.external_id }));
      await refresh(room);
    } catch (e) { fail(e); }
  }

  let generation = 0;
  async function refresh(next, { force = true } = {}) {
    // A live update does not throw away what the user is typing in the panel.
    if (!force && aside.contains(document.activeElement) && document.activeElement.matches('input, textarea, select')) return;
    const mine = ++generation;
    room = next;
    const contactId = (room.customer && room.customer.id) || (room.contact && room.contact.id);
    const [d, props, notes, history] = await Promise.all([
      contactId ? api.get(`/api/v1/contacts/${encodeURIComponent(contactId)}`).catch(() => null) : Promise.resolve(null),
      api.get(`/api/v1/rooms/${rid}/customer_properties`).then((r) => r.properties).catch(() => []),
      api.get(`/api/v1/rooms/${rid}/notes`, { limit: 200 }).then((r) => r.notes).catch(() => []),
      api.get(`/api/v1/rooms/${rid}/history`).then((r) => r.events).catch(() => []),
    ]);
    if (disposed || mine !== generation) return;
    details = d;
    clear(aside).append(
      h('div', { class: 'panel-head' },
        h('h2', { id: 'customer-panel-title' }, t('conv.customer')),
        h('button', { type: 'button', class: 'btn btn-ghost', id: 'customer-panel-close', 'aria-label': t('panel.close'), onclick: ctx.onClose }, '×')),
      ...[who(), propertiesSection(props), extrasSection(), tagsSection(), notesSection(notes), sessionsSection(), elsewhereSection(), historySection(history)]
        .filter(Boolean));
    aside.dataset.loaded = 'true';
  }

  return {
    refresh,
    dispose() { disposed = true; for (const u of blobs) URL.revokeObjectURL(u); },
  };
}
