// The inbox: the list of conversations (tabs by status, channel chips, search)
// beside the open conversation. Kept current by the event stream: an event for
// a room re-reads that one room; nothing is polled.
import { t } from '../strings.js';
import * as api from '../api.js';
import { h, clear, openDialog } from '../dom.js';
import { channelIcon, kindLabel } from '../icons.js';
import { formatShort, since, initials } from '../format.js';

const PAGE = 50;
const OPEN = ['bot', 'waiting', 'assigned'];

export function mount(ctx) {
  const { main, user, live, navigate, toast } = ctx;
  const staff = user.role !== 'agent';
  // Agents see only their own rooms (the API's rule), so their "waiting" is the
  // customers waiting on them: their rooms with unread messages.
  const tabs = staff ? ['waiting', 'mine', 'all', 'resolved'] : ['unanswered', 'mine', 'resolved'];
  // The first screen is the user's work: their open rooms, or (staff with
  // none) the queue. A tab named in the address wins.
  const askedTab = ctx.route.query.get('tab') && tabs.includes(ctx.route.query.get('tab')) ? ctx.route.query.get('tab') : null;
  let firstLoad = !askedTab && staff;
  const state = {
    tab: askedTab || 'mine',
    channels: new Set(),
    q: '',
    rooms: new Map(),
    order: [],
    cursor: null,
    loading: false,
    generation: 0,
    selected: null,
    channelList: [],
    channelKinds: new Map(),
  };
  const items = new Map();
  let conversation = null;
  let disposed = false;

  // Layout
  const tabCounts = new Map(tabs.map((tab) => [tab, h('span', { class: 'tab-count', 'data-count-for': tab })]));
  const tabButtons = tabs.map((tab) => h('button', {
    type: 'button', role: 'tab', class: 'tab', id: `tab-${tab}`, 'data-tab': tab,
    'aria-selected': String(tab === state.tab), 'aria-controls': 'room-list',
    tabindex: tab === state.tab ? '0' : '-1',
    onclick: () => selectTab(tab),
  }, t(`inbox.tab.${tab}`), tabCounts.get(tab)));
  const tabList = h('div', { role: 'tablist', class: 'tabs', 'aria-label': t('inbox.tabs') }, tabButtons);
  tabList.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(state.tab);
    let j = null;
    if (e.key === 'ArrowRight') j = (i + 1) % tabs.length;
    if (e.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    if (j !== null) { e.preventDefault(); selectTab(tabs[j]); tabButtons[j].focus(); }
  });
  const chips = h('div', { class: 'chips', role: 'group', 'aria-label': t('inbox.channels') });
  const search = h('input', { type: 'search', id: 'inbox-search', class: 'search', placeholder: t('inbox.searchPlaceholder'), 'aria-label': t('inbox.search'), maxlength: 200 });
  let searchTimer = null;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.q = search.value.trim(); reload(); }, 250);
  });
  const count = h('p', { class: 'list-count', id: 'room-count', 'aria-live': 'polite' });
  const list = h('ul', { class: 'room-list', id: 'room-list', role: 'tabpanel', 'aria-labelledby': `tab-${state.tab}`, 'aria-busy': 'true' });
  const sentinel = h('li', { class: 'list-sentinel', 'aria-hidden': 'true' });
  const moreButton = h('button', { type: 'button', class: 'btn btn-ghost btn-block', id: 'load-more', hidden: true, onclick: () => loadMore() }, t('inbox.loadMore'));
  const listPane = h('section', { class: 'list-pane', 'aria-label': t('inbox.list') },
    h('div', { class: 'list-head' }, h('h1', { class: 'visually-hidden' }, t('inbox.title')), tabList, search, chips, count),
    h('div', { class: 'list-scroll', id: 'list-scroll' }, list, moreButton));
  const convPane = h('section', { class: 'conv-pane', id: 'conv-pane', 'aria-label': t('conv.history') },
    h('p', { class: 'empty-pane' }, t('inbox.select')));
  const announcer = h('p', { class: 'visually-hidden', 'aria-live': 'polite', id: 'inbox-announcer' });
  const root = h('div', { class: 'inbox' }, listPane, convPane, announcer);
  main.append(root);

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { root: listPane.querySelector('.list-scroll'), rootMargin: '200px' });

  function markTab(tab) {
    state.tab = tab;
    for (const b of tabButtons) {
      const on = b.dataset.tab === tab;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
    }
    list.setAttribute('aria-labelledby', `tab-${tab}`);
  }

  function selectTab(tab) {
    if (tab === state.tab) return;
    markTab(tab);
    reload();
  }

  function renderChips() {
    clear(chips);
    for (const ch of state.channelList) {
      const on = state.channels.has(ch.id);
      chips.append(h('button', {
        type: 'button', class: 'chip', 'aria-pressed': String(on), 'data-channel': ch.id,
        onclick: () => {
          if (state.channels.has(ch.id)) state.channels.delete(ch.id); else state.channels.add(ch.id);
          renderChips();
          reload();
        },
      }, channelIcon(ch.kind), h('span', null, ch.id === ch.kind ? kindLabel(ch.kind) : ch.id)));
    }
  }

  function params(cursor) {
    const p = { limit: PAGE, cursor };
    if (state.tab === 'waiting') p.status = 'waiting';
    if (state.tab === 'mine') { p.status = 'assigned'; p.assignee = 'me'; }
    if (state.tab === 'unanswered') { p.status = 'assigned'; p.assignee = 'me'; p.unread = 'true'; }
    if (state.tab === 'all') p.status = OPEN;
    if (state.tab === 'resolved') p.status = 'resolved';
    if (state.channels.size) p.channel = [...state.channels];
    if (state.q) p.q = state.q;
    return p;
  }

  function matches(room) {
    if (state.tab === 'waiting' && room.status !== 'waiting') return false;
    if (state.tab === 'mine' && !(room.status === 'assigned' && room.assignee && room.assignee.id === user.id)) return false;
    if (state.tab === 'unanswered' && !(room.status === 'assigned' && room.assignee && room.assignee.id === user.id
      && (room.unread_count > 0 || room.id === state.selected))) return false;
    if (state.tab === 'all' && !OPEN.includes(room.status)) return false;
    if (state.tab === 'resolved' && room.status !== 'resolved') return false;
    if (state.channels.size && !state.channels.has(room.channel)) return false;
    if (state.q) {
      const q = state.q.toLowerCase();
      const hay = [room.contact && room.contact.name, room.contact && room.contact.username, room.last_message && room.last_message.text].filter(Boolean).join(' ').toLowerCase();
      if (!hay.includes(q)) return false;
    }
    return true;
  }

  function activity(room) { return room.last_message_at || room.created_at || ''; }

  // A group's room is titled with the group's name, else with the customer's.
  function customerName(room) {
    const c = room.contact || {};
    return room.title || c.name || c.username || t('inbox.customer', { id: c.external_id || room.id });
  }

  // The customer's initials in a colour of their own, the channel as a badge.
  function avatar(room, kind) {
    const seed = Number((room.contact && room.contact.id) || room.id) || 0;
    const badge = channelIcon(kind, kindLabel(kind));
    badge.classList.add('avatar-badge');
    return h('span', { class: 'avatar-wrap' },
      h('span', { class: `avatar avatar-c${Math.abs(seed) % 8}`, 'aria-hidden': 'true' }, initials(customerName(room))), badge);
  }

  function renderItem(room) {
    const kind = state.channelKinds.get(room.channel) || room.channel;
    const last = room.last_message;
    let preview = t('inbox.noMessage');
    if (last) {
      const body = last.text || (last.type !== 'text' ? t(`type.${last.type}`) : '');
      preview = (last.direction === 'outbound' ? t('inbox.you') : '') + body;
    }
    const unread = room.id === state.selected ? 0 : room.unread_count || 0;
    const waiting = room.status === 'waiting' && room.waiting_since;
    const a = h('a', {
      href: `#/inbox/${encodeURIComponent(room.id)}`, class: 'room', 'data-room-id': room.id,
      'aria-current': room.id === state.selected ? 'true' : null,
    },
    avatar(room, kind),
    h('span', { class: 'room-body' },
      h('span', { class: 'room-top' },
        h('span', { class: 'room-name' }, customerName(room)),
        h('time', { class: 'room-time', datetime: activity(room) }, formatShort(activity(room)))),
      h('span', { class: 'room-preview' }, preview),
      h('span', { class: 'room-meta' },
        h('span', { class: `status status-${room.status}` }, t(`status.${room.status}`)),
        waiting ? h('span', { class: 'room-wait', 'data-since': room.waiting_since }, t('inbox.waitingFor', { duration: since(room.waiting_since) })) : null,
        staff && room.assignee ? h('span', { class: 'room-assignee' }, room.assignee.name) : null,
        unread ? h('span', { class: 'badge', 'aria-label': t('inbox.unread', { count: unread }) }, String(unread)) : null)));
    let li = items.get(room.id);
    if (!li) { li = h('li', { class: 'room-item' }); items.set(room.id, li); }
    clear(li).append(a);
    return li;
  }

  function renderCount() {
    const n = state.order.length;
    count.textContent = state.cursor ? t('inbox.countMore', { count: n }) : t(n === 1 ? 'inbox.countOne' : 'inbox.count', { count: n });
  }

  function renderAll() {
    const frag = document.createDocumentFragment();
    for (const id of state.order) frag.append(renderItem(state.rooms.get(id)));
    clear(list).append(frag);
    if (!state.order.length) list.append(h('li', { class: 'empty' }, t('inbox.empty')));
    list.append(sentinel);
    moreButton.hidden = !state.cursor;
    renderCount();
  }

  async function reload() {
    const gen = ++state.generation;
    state.loading = true;
    list.setAttribute('aria-busy', 'true');
    try {
      const r = await api.get('/api/v1/rooms', params());
      if (gen !== state.generation || disposed) return;
      state.rooms.clear();
      items.clear();
      state.order = [];
      for (const room of r.rooms) { state.rooms.set(room.id, room); state.order.push(room.id); }
      state.cursor = r.next_cursor;
      renderAll();
    } catch (e) {
      if (e.status !== 401) toast(t('common.error', { message: e.message }), 'error');
    } finally {
      if (gen === state.generation) { state.loading = false; list.setAttribute('aria-busy', 'false'); }
    }
  }

  async function loadMore() {
    if (state.loading || !state.cursor) return;
    const gen = state.generation;
    state.loading = true;
    try {
      const r = await api.get('/api/v1/rooms', params(state.cursor));
      if (gen !== state.generation || disposed) return;
      const frag = document.createDocumentFragment();
      for (const room of r.rooms) {
        if (state.rooms.has(room.id)) continue;
        state.rooms.set(room.id, room);
        state.order.push(room.id);
        frag.append(renderItem(room));
      }
      sentinel.before(frag);
      state.cursor = r.next_cursor;
      moreButton.hidden = !state.cursor;
      renderCount();
    } catch (e) {
      if (e.status !== 401) toast(t('common.error', { message: e.message }), 'error');
    } finally {
      if (gen === state.generation) state.loading = false;
    }
  }

  // Place a room (new or changed) at its position by activity, or take it out.
  function upsert(room) {
    const had = state.rooms.has(room.id);
    if (!matches(room)) {
      if (had) {
        state.rooms.delete(room.id);
        state.order = state.order.filter((id) => id !== room.id);
        const li = items.get(room.id);
        if (li) li.remove();
        items.delete(room.id);
        if (!state.order.length) renderAll(); else renderCount();
      }
      return;
    }
    const old = state.rooms.get(room.id);
    state.rooms.set(room.id, room);
    if (had) state.order = state.order.filter((id) => id !== room.id);
    const key = activity(room);
    let idx = state.order.findIndex((id) => activity(state.rooms.get(id)) < key);
    // A room older than everything loaded belongs to a later page: leave it to "load more".
    if (idx === -1 && state.cursor && !had) { state.rooms.delete(room.id); return; }
    if (idx === -1) idx = state.order.length;
    state.order.splice(idx, 0, room.id);
    const li = renderItem(room);
    if (!state.order[idx + 1]) sentinel.before(li);
    else items.get(state.order[idx + 1]).before(li);
    const empty = list.querySelector('.empty');
    if (empty) empty.remove();
    renderCount();
    if (room.last_message && room.last_message.direction === 'inbound' && (!old || !old.last_message || old.last_message.id !== room.last_message.id)) {
      announcer.textContent = t('inbox.newMessage', { name: customerName(room) });
    }
  }

  const pending = new Set();
  let flushTimer = null;
  function refreshRoom(id) {
    pending.add(id);
    if (!flushTimer) flushTimer = setTimeout(flush, 80);
  }
  async function flush() {
    flushTimer = null;
    const ids = [...pending];
    pending.clear();
    await Promise.all(ids.map(async (id) => {
      try {
        const r = await api.get(`/api/v1/rooms/${encodeURIComponent(id)}`);
        if (!disposed) upsert(r.room);
      } catch (e) {
        if ((e.status === 403 || e.status === 404) && state.rooms.has(id)) upsert({ id, status: 'gone' });
      }
    }));
  }

  // Counts on every tab, and what waits for this user in the page's title:
  // read again at most every 3 s while events come in (each read is five
  // counting queries; many open consoles must not add up to a load).
  const baseTitle = document.title.replace(/^\(\d+\+?\) /, '');
  let countsTimer = null;
  let countsRunning = false;
  function refreshCounts(delay = 3000) {
    if (countsTimer || disposed) return;
    countsTimer = setTimeout(async () => {
      if (countsRunning) { countsTimer = null; refreshCounts(); return; }
      countsRunning = true;
      try {
        const r = await api.get('/api/v1/inbox/counts');
        if (disposed) return;
        const show = (n) => (n >= r.cap ? `${r.cap - 1}+` : String(n));
        for (const [tab, el] of tabCounts) {
          const n = r.counts[tab];
          el.textContent = n === undefined ? '' : show(n);
          el.classList.toggle('tab-count-zero', !n);
        }
        const waiting = (r.counts.unanswered || 0) + (staff ? (r.counts.waiting || 0) : 0);
        document.title = waiting ? `(${show(waiting)}) ${baseTitle}` : baseTitle;
      } catch (e) {
        // Counts are a convenience: the list itself says what failed.
      } finally {
        countsRunning = false;
        countsTimer = null;
      }
    }, delay);
  }

  const unsubscribe = live.subscribe((e) => {
    if (e.type === 'stream.reset') { reload(); refreshCounts(); return; }
    if (e.type.startsWith('room.') || e.type === 'message.created') {
      if (e.data && e.data.room_id) refreshRoom(e.data.room_id);
      refreshCounts();
    }
  });

  // Keyboard shortcuts (outside text fields): j / k the next or previous
  // conversation, r reply, n internal note, e resolve, ? the list of them.
  const SHORTCUTS = [['j', 'keys.next'], ['k', 'keys.previous'], ['r', 'keys.reply'], ['n', 'keys.note'], ['e', 'keys.resolve'], ['?', 'keys.help']];
  let helpOpen = false;
  let openedByKey = false;
  function step(by) {
    if (!state.order.length) return;
    const at = state.order.indexOf(state.selected);
    const next = at === -1 ? (by > 0 ? 0 : state.order.length - 1) : Math.min(state.order.length - 1, Math.max(0, at + by));
    const id = state.order[next];
    if (id !== state.selected) { openedByKey = true; navigate(`#/inbox/${encodeURIComponent(id)}`); }
    const link = list.querySelector(`a.room[data-room-id="${id}"]`);
    if (link) link.scrollIntoView({ block: 'nearest' });
  }
  function compose(mode) {
    const button = document.getElementById(mode === 'note' ? 'mode-note' : 'mode-reply');
    const box = document.getElementById('reply-text');
    if (!button || !box) return;
    button.click();
    box.focus();
  }
  async function showHelp() {
    if (helpOpen) return;
    helpOpen = true;
    await openDialog(t('keys.title'), (close) => h('div', null,
      h('dl', { class: 'shortcuts' }, SHORTCUTS.flatMap(([key, label]) => [h('dt', null, h('kbd', null, key)), h('dd', null, t(label))])),
      h('div', { class: 'row-end' }, h('button', { type: 'button', class: 'btn', onclick: () => close() }, t('common.close')))));
    helpOpen = false;
  }
  function onKey(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || helpOpen) return;
    const target = e.target;
    if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
    if (document.querySelector('dialog[open]')) return;
    const actions = {
      j: () => step(1), k: () => step(-1), r: () => compose('reply'), n: () => compose('note'),
      e: () => { const b = document.getElementById('resolve-room'); if (b) b.click(); },
      '?': () => showHelp(),
    };
    const action = actions[e.key];
    if (!action) return;
    e.preventDefault();
    action();
  }
  document.addEventListener('keydown', onKey);

  const ticker = setInterval(() => {
    for (const el of list.querySelectorAll('.room-wait')) el.textContent = t('inbox.waitingFor', { duration: since(el.dataset.since) });
  }, 30000);

  // Room ids are JSON numbers; the address bar gives text.
  function roomID(text) {
    const n = Number(text);
    return Number.isSafeInteger(n) && n > 0 ? n : text;
  }

  function markRead(roomId) {
    const room = state.rooms.get(roomId);
    if (room && room.unread_count) { room.unread_count = 0; renderItem(room); }
  }

  async function openRoom(roomId) {
    if (conversation) { conversation.unmount(); conversation = null; }
    const prev = state.selected;
    state.selected = roomId;
    for (const id of [prev, roomId]) if (id && state.rooms.has(id)) renderItem(state.rooms.get(id));
    root.classList.toggle('has-room', !!roomId);
    if (!roomId) {
      clear(convPane).append(h('p', { class: 'empty-pane' }, t('inbox.select')));
      return;
    }
    const { mountConversation } = await import('./conversation.js');
    if (state.selected !== roomId || disposed) return;
    const focusComposer = !openedByKey;
    openedByKey = false;
    conversation = mountConversation(convPane, {
      roomId, user, live, toast, channels: state.channelList, focusComposer,
      onRead: markRead,
      onBack: () => navigate('#/inbox'),
    });
  }

  // First paint: the rooms and the channels together.
  (async () => {
    let [roomsRes, channelsRes] = await Promise.allSettled([api.get('/api/v1/rooms', params()), api.get('/api/v1/channels')]);
    if (disposed) return;
    if (firstLoad && roomsRes.status === 'fulfilled' && !roomsRes.value.rooms.length) {
      // A supervisor or admin with no open rooms of their own starts on the queue.
      markTab('waiting');
      [roomsRes] = await Promise.allSettled([api.get('/api/v1/rooms', params())]);
      if (disposed) return;
    }
    firstLoad = false;
    if (channelsRes.status === 'fulfilled') {
      state.channelList = channelsRes.value.channels;
      for (const ch of state.channelList) state.channelKinds.set(ch.id, ch.kind);
      renderChips();
    }
    if (roomsRes.status === 'fulfilled') {
      for (const room of roomsRes.value.rooms) { state.rooms.set(room.id, room); state.order.push(room.id); }
      state.cursor = roomsRes.value.next_cursor;
    } else if (roomsRes.reason.status !== 401) {
      toast(t('common.error', { message: roomsRes.reason.message }), 'error');
    }
    renderAll();
    list.setAttribute('aria-busy', 'false');
    list.dataset.rendered = 'true';
    performance.mark('inbox-rendered');
    refreshCounts(0);
    observer.observe(sentinel);
    if (ctx.route.parts[0]) openRoom(roomID(ctx.route.parts[0]));
  })();

  return {
    update(r) {
      const id = r.parts[0] ? roomID(r.parts[0]) : null;
      if (id !== state.selected) openRoom(id);
    },
    unmount() {
      disposed = true;
      unsubscribe();
      document.removeEventListener('keydown', onKey);
      clearTimeout(countsTimer);
      document.title = baseTitle;
      clearInterval(ticker);
      observer.disconnect();
      if (conversation) conversation.unmount();
    },
  };
}
