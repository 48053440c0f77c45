// Opt-in alerts for a conversation newly assigned to the signed-in user: a
// desktop notification (when the browser allows it) and a short sound. Off
// until the user turns them on with the bell in the top bar; the choice is
// kept in this browser.
import { t } from './strings.js';

const KEY = 'omnichat.notify';

export function notificationsOn() {
  try { return localStorage.getItem(KEY) === 'on'; } catch (e) { return false; }
}

/** Turns alerts on (asking the browser for permission) or off; returns whether they are on. */
export async function setNotifications(on) {
  try { localStorage.setItem(KEY, on ? 'on' : 'off'); } catch (e) { /* not kept */ }
  if (on && typeof Notification !== 'undefined' && Notification.permission === 'default') {
    try { await Notification.requestPermission(); } catch (e) { /* the sound still plays */ }
  }
  return on;
}

/** Whether the browser will show desktop notifications. */
export function desktopAllowed() {
  return typeof Notification !== 'undefined' && Notification.permission === 'granted';
}

let audio = null;
function chime() {
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.3);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.3);
  } catch (e) { /* no sound here */ }
}

/** A live event: alerts when a room was just assigned to `userId` (not when it stays theirs). */
export function alertIfAssigned(event, userId, openRoom) {
  if (event.type !== 'room.assigned' || !notificationsOn()) return false;
  const d = event.data || {};
  if (d.assignee_id !== userId || d.previous_assignee_id === userId) return false;
  const contact = (d.room && d.room.contact) || {};
  const name = contact.name || contact.username || t('inbox.customer', { id: contact.external_id || d.room_id });
  const last = d.last_message && d.last_message.text;
  chime();
  if (desktopAllowed()) {
    try {
      const n = new Notification(t('notify.title', { name }), { body: last || t('notify.body'), tag: `room-${d.room_id}` });
      n.onclick = () => { window.focus(); openRoom(d.room_id); n.close(); };
    } catch (e) { /* some browsers allow notifications from service workers only */ }
  }
  return true;
}

/** A live event: a teammate mentioned `userId` in an internal note; `show` gets the line to show. */
export function alertIfMentioned(event, userId, show, openRoom) {
  if (event.type !== 'note.mention' || !event.data || event.data.user_id !== userId) return false;
  const d = event.data;
  show(t('notify.mention', { name: d.author_name || '?', text: d.text }));
  if (notificationsOn()) {
    chime();
    if (desktopAllowed()) {
      try {
        const n = new Notification(t('notify.mentionTitle', { name: d.author_name || '?' }), { body: d.text, tag: `note-${d.note_id}` });
        n.onclick = () => { window.focus(); openRoom(d.room_id); n.close(); };
      } catch (e) { /* as above */ }
    }
  }
  return true;
}
