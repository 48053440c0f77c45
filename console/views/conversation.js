// One conversation: the whole history (bot part included) with notes between
// the messages, attachments previewed through the media route, the delivery
// status of each reply with a retry button, and the reply / note box.
import { t } from '../strings.js';
import * as api from '../api.js';
import { h, clear, field, openDialog, nextId } from '../dom.js';
import { channelIcon, kindLabel, pinIcon } from '../icons.js';
import { formatDateTime, formatShort } from '../format.js';
import { savedRepliesComposer } from './saved-replies.js';
import { mountCustomerPanel } from './customer-panel.js';

const MEDIA_TYPES = ['image', 'audio', 'video', 'file', 'sticker'];

export function mountConversation(pane, ctx) {
  const { roomId, user, live, toast, channels } = ctx;
  const staff = user.role !== 'agent';
  const rid = encodeURIComponent(roomId);
  const messages = new Map();
  const nodes = new Map();
  const blobs = [];
  let room = null;
  let lastCursor = null;
  let disposed = false;
  let mode = 'reply';

  const header = h('header', { class: 'conv-head' });
  const timeline = h('ol', { class: 'timeline', id: 'timeline', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': t('conv.history') });
  const scroller = h('div', { class: 'timeline-scroll' }, timeline);
  const composer = h('div', { class: 'composer' });
  // The customer panel sits beside the conversation; open unless closed in this browser, on screens wide enough.
  const aside = h('aside', { class: 'customer-panel', id: 'customer-panel', 'aria-labelledby': 'customer-panel-title', tabindex: '-1' });
  const wrap = h('div', { class: 'conv-wrap' }, h('div', { class: 'conv', 'data-room-id': roomId }, header, scroller, composer), aside);
  clear(pane).append(wrap);
  const panel = mountCustomerPanel(aside, { roomId, user, toast, channels, fail: (e) => fail(e), onClose: () => showPanel(false) });
  let panelOpen = false;
  function storedPanel() { try { return localStorage.getItem('omnichat.panel'); } catch (e) { return null; } }
  function showPanel(open, focus = false, remember = true) {
    panelOpen = open;
    aside.hidden = !open;
    wrap.classList.toggle('with-panel', open);
    if (remember) try { localStorage.setItem('omnichat.panel', open ? 'open' : 'closed'); } catch (e) { /* private mode */ }
    const button = header.querySelector('#customer-room');
    if (button) button.setAttribute('aria-expanded', String(open));
    if (open && room) panel.refresh(room).then(() => { if (focus) aside.focus(); }).catch((e) => fail(e));
  }
  aside.hidden = true;

  // Header and actions
  function customerName() {
    const c = (room && (room.customer || room.contact)) || {};
    return (room && room.title) || c.name || c.username || t('inbox.customer', { id: c.external_id || roomId });
  }

  function renderHeader() {
    const kind = (room.customer && room.customer.channel_kind) || room.channel;
    const canAct = staff || (room.assignee && room.assignee.id === user.id);
    const open = room.status !== 'resolved';
    clear(header).append(
      h('button', { type: 'button', class: 'btn btn-ghost back', onclick: ctx.onBack, 'aria-label': t('conv.back') }, '←'),
      channelIcon(kind, kindLabel(kind)),
      h('div', { class: 'conv-title' },
        h('h2', { id: 'conv-name' }, customerName()),
        h('p', { class: 'conv-sub' },
          h('span', { class: `status status-${room.status}`, id: 'conv-status' }, t(`status.${room.status}`)),
          ' ',
          room.assignee ? t('inbox.assignedTo', { name: room.assignee.name }) : t('inbox.unassigned'),
          room.customer && room.customer.username ? ` · @${room.customer.username}` : '')),
      h('div', { class: 'conv-actions' },
        staff && open && !(room.assignee && room.assignee.id === user.id)
          ? h('button', { type: 'button', class: 'btn', id: 'take-room', onclick: take }, t('conv.take')) : null,
        h('button', { type: 'button', class: 'btn', id: 'customer-room', 'aria-controls': 'customer-panel', 'aria-expanded': String(panelOpen), onclick: customer }, t('conv.customer')),
        canAct && (room.status === 'assigned' || room.status === 'waiting')
          ? h('button', { type: 'button', class: 'btn', id: 'transfer-room', onclick: transfer }, t('conv.transfer')) : null,
        canAct && open
          ? h('button', { type: 'button', class: 'btn btn-primary', id: 'resolve-room', onclick: resolve }, t('conv.resolve')) : null));
  }

  async function take() {
    try {
      const r = await api.post(`/api/v1/rooms/${rid}/assign`, { agent_id: user.id, force: true });
      room = { ...room, ...r.room };
      renderHeader();
      toast(t('conv.taken'));
    } catch (e) { fail(e); }
  }

  async function resolve() {
    try {
      const r = await api.post(`/api/v1/rooms/${rid}/resolve`);
      room = { ...room, ...r.room };
      renderHeader();
      toast(t('conv.resolved'));
    } catch (e) { fail(e); }
  }

  async function transfer() {
    const [divisions, agents] = await Promise.all([
      api.get('/api/v1/divisions').then((r) => r.divisions).catch(() => []),
      staff
        ? api.get('/api/v1/agents', { active: true }).then((r) => r.agents.filter((a) => a.role !== 'admin' || a.id === user.id)).catch(() => [])
        : Promise.resolve(((channels.find((c) => c.id === room.channel) || {}).agents) || []),
    ]);
    const choice = await openDialog(t('conv.transferTitle'), (close) => {
      const name = nextId('to');
      const agentRadio = h('input', { type: 'radio', name, value: 'agent', checked: true, id: 'transfer-to-agent' });
      const divRadio = h('input', { type: 'radio', name, value: 'division', id: 'transfer-to-division' });
      const agentSel = h('select', { id: 'transfer-agent', 'aria-label': t('conv.transferAgent'), onchange: () => { agentRadio.checked = true; } },
        agents.filter((a) => a.id !== user.id && !(room.assignee && a.id === room.assignee.id)).map((a) => h('option', { value: a.id }, a.name + (a.online === false ? ` (${t('shell.offline')})` : ''))));
      const divSel = h('select', { id: 'transfer-division', 'aria-label': t('conv.transferDivision'), onchange: () => { divRadio.checked = true; } }, divisions.map((d) => h('option', { value: d.id }, d.name)));
      const form = h('form', { method: 'dialog', class: 'stack' },
        h('fieldset', null, h('legend', null, t('conv.transferTo')),
          h('label', { class: 'check' }, agentRadio, h('span', null, t('conv.transferAgent'))), agentSel,
          h('label', { class: 'check' }, divRadio, h('span', null, t('conv.transferDivision'))), divSel),
        h('div', { class: 'row-end' },
          h('button', { type: 'button', class: 'btn', onclick: () => close(null) }, t('common.cancel')),
          h('button', { type: 'submit', class: 'btn btn-primary', id: 'transfer-submit' }, t('conv.transfer'))));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        if (agentRadio.checked && agentSel.value) close({ agent_id: agentSel.value });
        else if (divRadio.checked && divSel.value) close({ division_id: divSel.value });
      });
      return form;
    });
    if (!choice) return;
    try {
      const r = await api.post(`/api/v1/rooms/${rid}/transfer`, choice);
      room = { ...room, ...r.room };
      renderHeader();
      toast(t('conv.transferDone'));
    } catch (e) { fail(e); }
  }

  // The customer: the panel beside the conversation (opened, or brought into view).
  function customer() {
    if (panelOpen) aside.focus();
    else showPanel(true, true);
  }

  function fail(e) {
    if (e.status !== 401) toast(t('common.error', { message: e.message }), 'error');
  }

  // Messages
  function deliveryText(m) {
    const d = m.delivery || {};
    if (d.status === 'failed') return d.error ? t('delivery.failedWith', { error: d.error }) : t('delivery.failed');
    return t(`delivery.${d.status || 'pending'}`);
  }

  function mediaBlock(m) {
    const box = h('div', { class: 'media' });
    if (m.direction === 'inbound' && (m.media_id || MEDIA_TYPES.includes(m.type))) {
      if (m.type === 'image' || m.type === 'sticker') {
        const img = h('img', { alt: m.text || t('conv.viewImage'), class: 'media-img', loading: 'lazy' });
        box.append(img);
        api.blobUrl(`/api/v1/messages/${encodeURIComponent(m.id)}/media`).then(({ url }) => {
          if (disposed) { URL.revokeObjectURL(url); return; }
          blobs.push(url);
          const stick = nearBottom();
          img.addEventListener('load', () => { if (stick) toBottom(); }, { once: true });
          img.src = url;
        }).catch(() => { img.replaceWith(h('p', { class: 'muted' }, t('conv.mediaFailed'))); });
      } else {
        const name = m.file_name || t(`type.${m.type}`);
        box.append(h('button', {
          type: 'button', class: 'btn btn-small',
          onclick: async () => {
            try {
              const { url } = await api.blobUrl(`/api/v1/messages/${encodeURIComponent(m.id)}/media`);
              blobs.push(url);
              const a = h('a', { href: url, download: m.file_name || `${m.type}-${m.id}` });
              document.body.append(a); a.click(); a.remove();
            } catch (e) { toast(t('conv.mediaFailed'), 'error'); }
          },
        }, t('conv.download', { name })));
      }
    } else if (m.url) {
      // A link from the customer or a network: only http(s) becomes a link, anything else stays text.
      box.append(/^https?:\/\//i.test(m.url)
        ? h('a', { href: m.url, target: '_blank', rel: 'noopener noreferrer' }, m.file_name || m.url)
        : h('p', { class: 'muted' }, m.file_name || m.url));
    }
    return box;
  }

  function messageBody(m) {
    const parts = [];
    if (m.type === 'location' && m.location) {
      const { latitude, longitude, title, address } = m.location;
      parts.push(h('a', {
        href: `https://www.openstreetmap.org/?mlat=${encodeURIComponent(latitude)}&mlon=${encodeURIComponent(longitude)}#map=16/${encodeURIComponent(latitude)}/${encodeURIComponent(longitude)}`,
        target: '_blank', rel: 'noopener noreferrer', class: 'location',
      }, pinIcon(), ` ${title || address || `${latitude}, ${longitude}`}`, h('span', { class: 'visually-hidden' }, ` (${t('conv.openMap')})`)));
    } else if (m.type === 'postback') {
      parts.push(h('p', { class: 'tapped' }, t('conv.tapped', { label: m.text || m.payload || '' })));
    } else if (m.type === 'contact' && m.contact) {
      parts.push(h('p', null, `${t('type.contact')}: ${m.contact.name || ''} ${m.contact.phone_number}`));
    } else if (MEDIA_TYPES.includes(m.type)) {
      parts.push(mediaBlock(m));
      if (m.text) parts.push(h('p', { class: 'text' }, m.text));
    } else if (m.type === 'unsupported') {
      parts.push(h('p', { class: 'muted' }, t('type.unsupported')));
    } else {
      parts.push(h('p', { class: 'text' }, m.text || ''));
    }
    if (m.quick_replies && m.quick_replies.length) {
      parts.push(h('div', { class: 'offered' }, h('span', { class: 'muted' }, t('conv.offered')), ' ',
        m.quick_replies.map((q) => h('span', { class: 'qr' }, q.title))));
    }
    return parts;
  }

  function renderMessage(m) {
    const outbound = m.direction === 'outbound';
    const byBot = outbound && m.sender_type === 'bot';
    const meta = h('p', { class: 'msg-meta' },
      h('time', { datetime: m.created_at, title: formatDateTime(m.created_at) }, formatShort(m.created_at)));
    // Each reply says who sent it: the agent, or the bot.
    if (byBot) meta.prepend(`${t('conv.bot')}${m.sender_name ? ` (${m.sender_name})` : ''} · `);
    else if (m.sender_name) meta.prepend(h('span', { class: 'sender' }, m.sender_name), ' · ');  // an agent, or a group's member
    if (m.edited) {
      // The customer changed an earlier message: say so, and show what it said before on hover.
      const earlier = m.network_message_id
        ? [...messages.values()].find((o) => o.id !== m.id && o.direction === m.direction && o.network_message_id === m.network_message_id)
        : null;
      meta.append(' · ', h('span', {
        class: 'edited', title: earlier && earlier.text ? t('conv.editedFrom', { text: earlier.text }) : t('conv.editedTitle'),
      }, t('conv.edited')));
    }
    if (outbound) {
      const d = m.delivery || {};
      meta.append(' · ', h('span', { class: `delivery delivery-${d.status}`, 'data-status': d.status }, deliveryText(m)));
      if (d.status === 'failed') {
        meta.append(' ', h('button', {
          type: 'button', class: 'btn btn-small retry', onclick: async () => {
            const since = deliverySeq;
            try { const r = await api.post(`/api/v1/messages/${encodeURIComponent(m.id)}/retry`); upsertMessage(r.message, since); } catch (e) { fail(e); }
          },
        }, t('delivery.retry')));
      }
    }
    const li = h('li', {
      class: `msg ${outbound ? 'msg-out' : 'msg-in'}${byBot ? ' msg-bot' : ''}${m.edited ? ' msg-edited' : ''}`,
      'data-message-id': m.id, 'data-seq': m.id, 'data-sort': m.created_at,
    }, h('div', { class: 'bubble' }, messageBody(m), meta));
    return li;
  }

  function renderNote(n) {
    return h('li', { class: 'msg msg-note', 'data-note-id': n.id, 'data-sort': n.created_at },
      h('div', { class: 'bubble' },
        h('p', { class: 'note-label' }, t('conv.noteBy', { name: (n.author && n.author.name) || '?' })),
        h('p', { class: 'text' }, n.text),
        h('p', { class: 'msg-meta' }, h('time', { datetime: n.created_at }, formatShort(n.created_at)))));
  }

  // Service lines: what happened to the room (GET …/history), centred between
  // the messages; a new session starts with a divider.
  function actorLabel(e) {
    if (e.actor_name) return e.actor_name;
    if (e.actor === 'routing') return t('event.routing');
    if (e.actor === 'customer') return t('event.customer');
    if (e.actor === 'bot') return t('conv.bot');
    if (String(e.actor).startsWith('key:')) return t('event.integration');
    return String(e.actor);
  }

  function renderEvent(e) {
    if (e.kind === 'opened' || e.kind === 'reopened') {
      return h('li', { class: 'msg-event session-divider', 'data-sort': e.at, 'data-kind': e.kind },
        h('span', null, t('event.newSession', { date: formatDateTime(e.at) })));
    }
    const name = e.assignee ? (e.assignee.name || `#${e.assignee.id}`) : '';
    const by = actorLabel(e);
    const text = {
      assigned: t('event.assigned', { name }),
      transferred: t('event.transferred', { name, by }),
      queued: t('event.queued'),
      bot: t('event.bot'),
      handover: t('event.handover'),
      resolved: t('event.resolved', { by }),
      blocked: t('event.blocked', { name: e.name || t('event.someone') }),
      unblocked: t('event.unblocked', { name: e.name || t('event.someone') }),
      joined: t('event.joined', { name: e.name || t('event.someone') }),
      left: t('event.left', { name: e.name || t('event.someone') }),
    }[e.kind] || e.kind;
    return h('li', { class: 'msg-event', 'data-sort': e.at, 'data-kind': e.kind },
      h('span', null, text, ' · ', h('time', { datetime: e.at, title: formatDateTime(e.at) }, formatShort(e.at))));
  }

  // The first session's divider opens the timeline; a later one follows the
  // resolve that ended the session before (network times may run behind ours).
  function placeEvents(events) {
    for (const old of timeline.querySelectorAll('.msg-event')) old.remove();
    let lastResolved = null;
    for (const e of events) {
      const li = renderEvent(e);
      if (e.kind === 'opened') timeline.prepend(li);
      else if (e.kind === 'reopened' && lastResolved) lastResolved.after(li);
      else place(li);
      if (e.kind === 'resolved') lastResolved = li;
    }
  }

  let historyTimer = null;
  function refetchHistory() {
    clearTimeout(historyTimer);
    historyTimer = setTimeout(async () => {
      try {
        const r = await api.get(`/api/v1/rooms/${rid}/history`);
        if (!disposed) { const stick = nearBottom(); placeEvents(r.events); if (stick) toBottom(); }
      } catch (e) { /* the room is gone or no longer ours */ }
    }, 120);
  }

  function nearBottom() { return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120; }
  function toBottom() { scroller.scrollTop = scroller.scrollHeight; }

  // Messages in the order the daemon stored them (the API's order): a
  // network's whole-second time must not put a customer's answer above the
  // reply it answered. Notes go where their time puts them between messages.
  // (Messages keep arriving in order, so this is nearly always an append.)
  function place(li) {
    const empty = timeline.querySelector('.empty');
    if (empty) empty.remove();
    const key = li.dataset.sort;
    const seq = li.dataset.seq !== undefined ? Number(li.dataset.seq) : null;
    const later = (el) => (seq !== null && el.dataset.seq !== undefined ? Number(el.dataset.seq) > seq : el.dataset.sort > key);
    let after = timeline.lastElementChild;
    while (after && later(after)) after = after.previousElementSibling;
    if (after) after.after(li); else timeline.prepend(li);
  }

  // Delivery events can overtake the HTTP answer that created or retried a reply
  // (the network answers before our request returns). Each event is kept with a
  // sequence number; an answer to a request started before that event gets the
  // event's (newer) delivery state laid over it.
  let deliverySeq = 0;
  const deliveryEvents = new Map();

  function upsertMessage(m, since) {
    const ev = deliveryEvents.get(m.id);
    if (since !== undefined && ev && ev.seq > since) m = { ...m, delivery: { ...(m.delivery || {}), ...ev.delivery } };
    const old = nodes.get(m.id);
    // Re-reading the last page brings the same messages again: leave those alone
    // (no re-render, no new media download).
    if (old && JSON.stringify(messages.get(m.id)) === JSON.stringify(m)) return false;
    messages.set(m.id, m);
    const li = renderMessage(m);
    if (old) old.replaceWith(li); else place(li);
    nodes.set(m.id, li);
    return !old;
  }

  async function loadMessages(cursor) {
    let next = cursor;
    let added = 0;
    let lastInbound = false;
    for (let i = 0; i < 50; i += 1) {
      const since = deliverySeq;
      const r = await api.get(`/api/v1/rooms/${rid}/messages`, { limit: 200, cursor: next });
      if (disposed) return { added, lastInbound };
      for (const m of r.messages) { if (upsertMessage(m, since)) { added += 1; lastInbound = m.direction === 'inbound'; } }
      if (!r.next_cursor) { lastCursor = next || null; break; }
      next = r.next_cursor;
    }
    return { added, lastInbound };
  }

  async function markRead() {
    try { await api.post(`/api/v1/rooms/${rid}/read`); ctx.onRead(roomId); } catch (e) { /* not important */ }
  }

  let refetchTimer = null;
  function refetchSoon() {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(async () => {
      const stick = nearBottom();
      try {
        const { added, lastInbound } = await loadMessages(lastCursor);
        if (added && stick) toBottom();
        if (lastInbound) markRead();
      } catch (e) { fail(e); }
    }, 60);
  }

  let roomTimer = null;
  function refetchRoom() {
    clearTimeout(roomTimer);
    roomTimer = setTimeout(async () => {
      try {
        const r = await api.get(`/api/v1/rooms/${rid}`);
        if (!disposed) { room = r.room; renderHeader(); renderComposer(); if (panelOpen) panel.refresh(room, { force: false }).catch(() => {}); }
      } catch (e) { /* gone */ }
    }, 80);
  }

  const unsubscribe = live.subscribe((e) => {
    if (!e.data || e.data.room_id !== roomId) return;
    if (e.type === 'message.created') refetchSoon();
    else if (e.type === 'message.delivery') {
      const delivery = { status: e.data.status, attempts: e.data.attempts, error: e.data.error ?? null };
      deliverySeq += 1;
      deliveryEvents.set(e.data.message_id, { seq: deliverySeq, delivery });
      const m = messages.get(e.data.message_id);
      if (m) upsertMessage({ ...m, delivery });
    } else if (e.type.startsWith('room.')) { refetchRoom(); refetchHistory(); }
  });

  // Composer
  const textarea = h('textarea', { id: 'reply-text', rows: 3, class: 'reply-text' });
  const qrInput = h('input', { type: 'text', id: 'reply-buttons' });
  const urlInput = h('input', { type: 'url', id: 'reply-url', placeholder: 'https://' });
  const kindSel = h('select', { id: 'reply-kind' }, h('option', { value: 'image' }, t('conv.attachImage')), h('option', { value: 'file' }, t('conv.attachFile')));
  const nameInput = h('input', { type: 'text', id: 'reply-file-name' });
  const sendBtn = h('button', { type: 'submit', class: 'btn btn-primary', id: 'reply-send' }, t('conv.send'));
  const modeReply = h('button', { type: 'button', class: 'seg', 'aria-pressed': 'true', id: 'mode-reply', onclick: () => setMode('reply') }, t('conv.reply'));
  const modeNote = h('button', { type: 'button', class: 'seg', 'aria-pressed': 'false', id: 'mode-note', onclick: () => setMode('note') }, t('conv.note'));
  const label = h('label', { for: 'reply-text', class: 'visually-hidden' });
  // Saved replies put a text in the box; "Buttons for the customer" (below) are
  // sent with the reply for the customer to tap. Two different things.
  const saved = savedRepliesComposer(textarea, { onError: (e) => fail(e) });
  const extras = h('details', { class: 'extras', id: 'reply-extras' },
    h('summary', null, `${t('conv.customerButtons')} · ${t('conv.attach')}`),
    field(t('conv.customerButtons'), qrInput, t('conv.customerButtonsHint')).row,
    h('div', { class: 'grid-3' },
      field(t('conv.attachUrl'), urlInput).row,
      field(t('conv.attachKind'), kindSel).row,
      field(t('conv.attachName'), nameInput).row));
  const form = h('form', { class: 'composer-form', id: 'reply-form' },
    h('div', { class: 'composer-tools' }, h('div', { class: 'segmented', role: 'group' }, modeReply, modeNote), saved.button),
    saved.popup, saved.suggestions, saved.live,
    label, textarea, extras, h('div', { class: 'row-end' }, sendBtn));

  function setMode(m, focus = true) {
    mode = m;
    modeReply.setAttribute('aria-pressed', String(m === 'reply'));
    modeNote.setAttribute('aria-pressed', String(m === 'note'));
    form.classList.toggle('note-mode', m === 'note');
    label.textContent = m === 'note' ? t('conv.noteLabel') : t('conv.replyLabel');
    textarea.placeholder = m === 'note' ? t('conv.notePlaceholder') : t('conv.replyPlaceholder');
    sendBtn.textContent = m === 'note' ? t('conv.addNote') : t('conv.send');
    extras.hidden = m === 'note';
    if (focus) textarea.focus();
  }

  function renderComposer() {
    const canReply = staff || (room.assignee && room.assignee.id === user.id);
    if (!canReply) { clear(composer).append(h('p', { class: 'muted' }, t('conv.notYours'))); return; }
    if (!composer.contains(form)) clear(composer).append(form);
  }

  textarea.addEventListener('keydown', (e) => {
    if (saved.onKeydown(e)) return;
    // Escape leaves the box, so the inbox's keyboard shortcuts work again.
    if (e.key === 'Escape') { e.preventDefault(); textarea.blur(); return; }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = textarea.value.trim();
    const url = urlInput.value.trim();
    if (!text && !(mode === 'reply' && url)) return;
    sendBtn.disabled = true;
    try {
      if (mode === 'note') {
        const r = await api.post(`/api/v1/rooms/${rid}/notes`, { text });
        place(renderNote(r.note));
      } else {
        const body = url ? { type: kindSel.value, url } : { type: 'text' };
        if (text) body.text = text;
        if (url && nameInput.value.trim()) body.file_name = nameInput.value.trim();
        const qrs = qrInput.value.split(',').map((s) => s.trim()).filter(Boolean);
        if (qrs.length) body.quick_replies = qrs;
        const since = deliverySeq;
        const r = await api.post(`/api/v1/rooms/${rid}/messages`, body);
        upsertMessage(r.message, since);
        urlInput.value = ''; nameInput.value = ''; qrInput.value = '';
        extras.open = false;
      }
      textarea.value = '';
      saved.reset();
      toBottom();
    } catch (err) { fail(err); } finally { sendBtn.disabled = false; textarea.focus(); }
  });

  // Load everything
  header.append(h('p', { class: 'muted' }, t('common.loading')));
  (async () => {
    try {
      const [r, notes, history] = await Promise.all([
        api.get(`/api/v1/rooms/${rid}`),
        api.get(`/api/v1/rooms/${rid}/notes`, { limit: 200 }).catch(() => ({ notes: [] })),
        api.get(`/api/v1/rooms/${rid}/history`).catch(() => ({ events: [] })),
      ]);
      if (disposed) return;
      room = r.room;
      renderHeader();
      renderComposer();
      showPanel(storedPanel() !== 'closed' && window.matchMedia('(min-width: 1100px)').matches, false, false);
      // Opened from the keyboard (j / k), the focus stays with the shortcuts.
      setMode('reply', ctx.focusComposer !== false);
      await loadMessages(null);
      if (disposed) return;
      for (const n of notes.notes) place(renderNote(n));
      placeEvents(history.events);
      if (!timeline.children.length) timeline.append(h('li', { class: 'muted empty' }, t('conv.empty')));
      toBottom();
      timeline.dataset.loaded = 'true';
      if (room.unread_count) markRead();
      else ctx.onRead(roomId);
    } catch (e) {
      if (e.status !== 401) clear(header).append(h('p', { class: 'form-error' }, t('common.error', { message: e.message })));
    }
  })();

  return {
    unmount() {
      disposed = true;
      unsubscribe();
      clearTimeout(refetchTimer);
      clearTimeout(roomTimer);
      clearTimeout(historyTimer);
      for (const u of blobs) URL.revokeObjectURL(u);
      saved.close();
      panel.dispose();
    },
  };
}
