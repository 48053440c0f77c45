// The console's entry point: sign-in or the shell (top bar, navigation, the
// current page), a hash router (#/inbox, #/inbox/<room>, #/team, #/settings,
// #/reports) and the invitation page at /invitations/<token>.
import { t, LANGUAGE, LANGUAGES, setLanguage } from './strings.js';
import * as api from './api.js';
import { h, clear, switchButton } from './dom.js';
import { LiveEvents } from './events.js';
import { toast } from './toast.js';
import { alertIfAssigned, alertIfMentioned, notificationsOn, setNotifications } from './notify.js';
import { bellIcon } from './icons.js';

const app = document.getElementById('app');
let live = null;
let current = null; // { name, view }
let user = null;
let notice = null;

const PAGES = {
  inbox: { module: './views/inbox.js', roles: ['agent', 'supervisor', 'admin'] },
  team: { module: './views/team.js', roles: ['supervisor', 'admin'] },
  settings: { module: './views/settings.js', roles: ['admin'] },
  // Settings › Channels: under Settings in the navigation (supervisors reach it from there too).
  channels: { module: './views/channels.js', roles: ['supervisor', 'admin'], under: 'settings' },
  // Agents see their own figures there.
  reports: { module: './views/reports.js', roles: ['agent', 'supervisor', 'admin'] },
};

api.onSessionExpired(() => {
  notice = t('login.expired');
  teardown();
  showLogin();
});

function teardown() {
  if (current && current.view && current.view.unmount) current.view.unmount();
  current = null;
  if (live) live.stop();
  live = null;
  user = null;
}

async function showLogin() {
  const { renderLogin } = await import('./views/login.js');
  document.title = t('login.title');
  renderLogin(app, { notice, onSignedIn: (s) => { notice = null; startShell(s.user); } });
}

function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || 'inbox', parts: parts.slice(1), query: new URLSearchParams(qs || '') };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

let shell = null;

function buildShell() {
  const main = h('main', { id: 'main', tabindex: '-1', class: 'main' });
  const links = {};
  const nav = h('nav', { class: 'sidenav', 'aria-label': t('nav.label') },
    h('ul', null, Object.keys(PAGES).filter((p) => !PAGES[p].under && (PAGES[p].roles.includes(user.role) || (p === 'settings' && user.role === 'supervisor'))).map((p) => {
      // Supervisors have the Channels tab of Settings only.
      const href = p === 'settings' && user.role !== 'admin' ? '#/settings/channels' : `#/${p}`;
      links[p] = h('a', { href, class: 'navlink', 'data-page': p }, t(`nav.${p}`));
      return h('li', null, links[p]);
    })));
  const status = switchButton({
    id: 'status-switch', checked: !!user.online, title: t('shell.statusLabel'),
    'aria-label': t('shell.statusLabel'),
    onclick: async () => {
      const want = !status.get();
      status.el.disabled = true;
      try {
        const r = await api.put('/api/v1/me/status', { online: want });
        user = r.user;
        api.updateUser(user);
        setStatus(user.online);
      } catch (e) {
        if (e.status !== 401) toast(t('common.error', { message: e.message }), 'error');
      } finally { status.el.disabled = false; }
    },
  });
  const statusSwitch = status.el;
  function setStatus(online) {
    status.set(online);
    status.text.textContent = online ? t('shell.online') : t('shell.offline');
  }
  setStatus(!!user.online);
  const liveBadge = h('span', { class: 'live-badge', 'aria-live': 'polite' });
  const bell = h('button', {
    type: 'button', class: 'btn btn-ghost bell', id: 'notify-toggle', 'aria-pressed': String(notificationsOn()),
    title: t('notify.toggle'), 'aria-label': t('notify.toggle'),
    onclick: async () => {
      const on = await setNotifications(bell.getAttribute('aria-pressed') !== 'true');
      bell.setAttribute('aria-pressed', String(on));
      toast(on ? t('notify.on') : t('notify.off'));
    },
  }, bellIcon());
  const header = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: '#/inbox' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), t('app.name')),
    h('div', { class: 'topbar-right' },
      liveBadge,
      bell,
      statusSwitch,
      h('span', { class: 'whoami', title: t('shell.signedInAs', { name: user.name, role: t(`role.${user.role}`) }) }, user.name),
      h('label', { class: 'visually-hidden', for: 'language' }, t('shell.language')),
      h('select', { id: 'language', class: 'language', title: t('shell.language'), onchange: (e) => chooseLanguage(e.target.value) },
        Object.entries(LANGUAGES).map(([code, name]) => h('option', { value: code, selected: code === LANGUAGE, lang: code }, name))),
      h('button', { type: 'button', class: 'btn btn-ghost', id: 'sign-out', onclick: signOut }, t('shell.signOut'))));
  const root = h('div', { class: 'shell' },
    h('a', { class: 'skip-link', href: '#main', onclick: (e) => { e.preventDefault(); main.focus(); } }, t('app.skip')),
    header, nav, main);
  clear(app);
  app.className = '';
  app.append(root);
  shell = { main, links, setStatus, liveBadge };
}

// The language is kept on the account (wherever the user signs in) and in this browser.
async function chooseLanguage(code) {
  let language = code;
  try {
    const r = await api.patch('/api/v1/me', { language: code });
    language = r.user.language;
  } catch (e) { /* kept in this browser only */ }
  api.updateUser({ ...user, language });
  if (live) live.stop();
  setLanguage(code);
}

async function signOut() {
  teardown();
  await api.logout();
  notice = t('login.signedOut');
  history.replaceState(null, '', '/');
  showLogin();
}

function startShell(u) {
  // The account's language wins over this browser's: switch to it before anything starts.
  if (u && u.language && u.language !== LANGUAGE) { setLanguage(u.language); return; }
  user = u;
  if (location.pathname !== '/') history.replaceState(null, '', `/${location.hash || '#/inbox'}`);
  live = new LiveEvents();
  buildShell();
  live.onStatus((s) => {
    shell.liveBadge.textContent = s === 'live' ? t('shell.live') : t('shell.reconnecting');
    shell.liveBadge.dataset.state = s;
  });
  live.subscribe((e) => {
    alertIfAssigned(e, user.id, (roomId) => navigate(`#/inbox/${encodeURIComponent(roomId)}`));
    alertIfMentioned(e, user.id, (line) => toast(line), (roomId) => navigate(`#/inbox/${encodeURIComponent(roomId)}`));
    if ((e.type === 'agent.online' || e.type === 'agent.offline') && e.data.agent_id === user.id) {
      user.online = e.type === 'agent.online';
      shell.setStatus(user.online);
    }
  });
  live.start();
  route();
  // Refresh the user in the background (role or name may have changed).
  api.get('/api/v1/me').then((r) => {
    if (!r || !user) return;
    // The account's language wins over this browser's: switch to it once.
    if (r.user.language && r.user.language !== LANGUAGE) {
      api.updateUser(r.user);
      if (live) live.stop();
      setLanguage(r.user.language);
      return;
    }
    const roleChanged = r.user.role !== user.role;
    user = r.user;
    api.updateUser(user);
    shell.setStatus(!!user.online);
    if (roleChanged) { if (current && current.view && current.view.unmount) current.view.unmount(); current = null; buildShell(); route(); }
  }).catch(() => {});
}

async function route() {
  if (!user || !shell) return;
  const r = parseRoute();
  let wanted = r.page;
  if (wanted === 'settings' && (r.parts[0] === 'channels' || user.role === 'supervisor')) wanted = 'channels';
  let page = PAGES[wanted] && PAGES[wanted].roles.includes(user.role) ? wanted : 'inbox';
  const navPage = (PAGES[page] && PAGES[page].under) || page;
  for (const [p, a] of Object.entries(shell.links)) {
    if (p === navPage) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (current && current.name === page && current.view.update) {
    current.view.update(r);
    return;
  }
  if (current && current.view && current.view.unmount) current.view.unmount();
  current = { name: page, view: null };
  const mine = current;
  const mod = await import(PAGES[page].module);
  if (current !== mine) return;
  clear(shell.main);
  document.title = `${t(`nav.${page}`)} · ${t('app.name')}`;
  mine.view = mod.mount({ main: shell.main, user, live, navigate, route: r, toast });
}

window.addEventListener('hashchange', () => route());

function boot() {
  const m = location.pathname.match(/^\/invitations\/([^/]+)\/?$/);
  if (m) {
    import('./views/invitation.js').then(({ renderInvitation }) => {
      renderInvitation(app, decodeURIComponent(m[1]), { onSignedIn: (s) => startShell(s.user) });
    });
    return;
  }
  const s = api.currentSession();
  if (s && s.user) startShell(s.user);
  else showLogin();
}

boot();
