// The public HTTP API: the session token, fetch with the bearer header, errors,
// and what happens when the session ends (back to sign-in with a notice).

const KEY = 'omnichat.session';
let session = readSession();
let expiredHandler = () => {};
let refreshTimer = null;

function readSession() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || 'null');
    if (s && s.token && (!s.expires_at || new Date(s.expires_at) > new Date())) return s;
  } catch (e) { /* a damaged entry counts as signed out */ }
  return null;
}

export class ApiError extends Error {
  constructor(status, code, message, headers) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export function token() { return session ? session.token : null; }
export function currentSession() { return session; }

export function setSession(s) {
  session = { token: s.token, expires_at: s.expires_at, user: s.user };
  localStorage.setItem(KEY, JSON.stringify(session));
  scheduleRefresh();
}

export function updateUser(user) {
  if (!session) return;
  session.user = user;
  localStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession() {
  session = null;
  localStorage.removeItem(KEY);
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
}

/** Called once when a request answers 401 (the session expired or was ended). */
export function onSessionExpired(fn) { expiredHandler = fn; }

// Swap the token for a fresh one an hour before it expires (or halfway for short sessions).
function scheduleRefresh() {
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
  if (!session || !session.expires_at) return;
  const left = new Date(session.expires_at).getTime() - Date.now();
  const wait = Math.min(Math.max(left - 3600e3, left / 2, 5e3), 2 ** 31 - 1);
  refreshTimer = setTimeout(async () => {
    try {
      const s = await post('/api/v1/auth/refresh');
      setSession(s);
    } catch (e) { /* a 401 already sent the user to sign-in */ }
  }, wait);
}
scheduleRefresh();

function query(params) {
  if (!params) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) { if (v.length) q.set(k, v.join(',')); } else q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export async function request(method, path, { body, params, raw, auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (auth && session) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path + query(params), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'network', e.message);
  }
  if (res.status === 401 && auth && session) {
    clearSession();
    expiredHandler();
    throw new ApiError(401, 'unauthorized', 'session expired');
  }
  if (!res.ok) {
    let code = 'error';
    let message = `HTTP ${res.status}`;
    try {
      const j = await res.json();
      if (j && j.error) { code = j.error.code; message = j.error.message; }
    } catch (e) { /* not JSON */ }
    throw new ApiError(res.status, code, message, res.headers);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, params) => request('GET', path, { params });
export const post = (path, body) => request('POST', path, { body });
export const put = (path, body) => request('PUT', path, { body });
export const patch = (path, body) => request('PATCH', path, { body });
export const del = (path) => request('DELETE', path);

/** Fetch a protected file (media, CSV) and give a blob: URL for it. */
export async function blobUrl(path, params) {
  const res = await request('GET', path, { params, raw: true });
  const blob = await res.blob();
  return { url: URL.createObjectURL(blob), type: blob.type, res };
}

export async function login(email, password) {
  const s = await request('POST', '/api/v1/auth/login', { body: { email, password }, auth: false });
  setSession(s);
  return s;
}

export async function acceptInvitation(inviteToken, password) {
  const s = await request('POST', `/api/v1/invitations/${encodeURIComponent(inviteToken)}/accept`, { body: { password }, auth: false });
  setSession(s);
  return s;
}

export async function logout() {
  try { if (session) await request('POST', '/api/v1/auth/logout'); } catch (e) { /* signed out anyway */ }
  clearSession();
}
