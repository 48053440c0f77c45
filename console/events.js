// The live event stream (Server-Sent Events). EventSource cannot send headers,
// so the session token goes in ?access_token=. The browser resumes with
// Last-Event-ID after a dropped connection; when the stream is closed for good
// (a restart, a refused token) we reconnect ourselves with ?last_event_id=.
import { token, get } from './api.js';

export const EVENT_TYPES = [
  'room.created', 'room.assigned', 'room.queued', 'room.reopened', 'room.bot', 'room.resolved', 'room.notice',
  'message.created', 'message.delivery', 'agent.online', 'agent.offline', 'stream.reset', 'note.mention',
];

export class LiveEvents {
  constructor() {
    this.listeners = new Set();
    this.statusListeners = new Set();
    this.source = null;
    this.lastId = null;
    this.retryDelay = 1000;
    this.timer = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
  }

  /** fn(event) for every event: {id, type, at, data}. Returns an unsubscribe function. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onStatus(fn) {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  setStatus(s) {
    this.status = s;
    for (const fn of this.statusListeners) fn(s);
  }

  connect() {
    const tok = token();
    if (!tok || this.stopped) return;
    let url = `/api/v1/events?access_token=${encodeURIComponent(tok)}`;
    if (this.lastId) url += `&last_event_id=${encodeURIComponent(this.lastId)}`;
    const es = new EventSource(url);
    this.source = es;
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (e) => this.dispatch(type, e));
    }
    // The server ended the stream because the session ended, the account was
    // deactivated or the role changed: start again from the sign-in or the new role.
    es.addEventListener('stream.revoked', () => {
      this.stop();
      window.location.reload();
    });
    es.onopen = () => { this.retryDelay = 1000; this.setStatus('live'); };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        this.setStatus('reconnecting');
        this.source = null;
        this.timer = setTimeout(() => this.reconnect(), this.retryDelay);
        this.retryDelay = Math.min(this.retryDelay * 2, 30000);
      } else {
        this.setStatus('reconnecting');
      }
    };
  }

  async reconnect() {
    if (this.stopped) return;
    // A cheap authenticated call first: when the session is over, api.js sends
    // the user to sign-in instead of reconnecting forever.
    try { await get('/api/v1/me'); } catch (e) { if (e.status === 401) return; }
    this.connect();
  }

  dispatch(type, e) {
    if (e.lastEventId) this.lastId = e.lastEventId;
    let payload = {};
    try { payload = JSON.parse(e.data || '{}'); } catch (err) { payload = {}; }
    const event = { id: payload.id, type, at: payload.at, data: payload.data || payload };
    for (const fn of this.listeners) {
      try { fn(event); } catch (err) { console.warn('event handler failed', err); }
    }
  }
}
