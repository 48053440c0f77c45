// Dates and durations, through Intl with the console's locale.
import { LOCALE, t } from './strings.js';

const dateTime = new Intl.DateTimeFormat(LOCALE, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(LOCALE, { hour: '2-digit', minute: '2-digit' });
const dayOnly = new Intl.DateTimeFormat(LOCALE, { month: 'short', day: 'numeric' });
const dayYear = new Intl.DateTimeFormat(LOCALE, { year: 'numeric', month: 'short', day: 'numeric' });

export function formatDateTime(iso) {
  if (!iso) return t('common.never');
  return dateTime.format(new Date(iso));
}

/** A short time for lists: the hour today, else the day, with the year when it is not this one. */
export function formatShort(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return timeOnly.format(d);
  return d.getFullYear() === now.getFullYear() ? dayOnly.format(d) : dayYear.format(d);
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t('dur.seconds', { n: s });
  if (s < 3600) return t('dur.minutes', { n: Math.floor(s / 60) });
  if (s < 86400) {
    const hours = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return m ? t('dur.hm', { h: hours, m }) : t('dur.hours', { n: hours });
  }
  return t('dur.days', { n: Math.floor(s / 86400) });
}

export function since(iso) {
  return formatDuration((Date.now() - new Date(iso).getTime()) / 1000);
}

export function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/** A name's initials for an avatar: the first letters of the first and last words. */
export function initials(name) {
  const words = String(name || '').trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [...words[0]][0] + [...words[words.length - 1]][0] : [...(words[0] || '?')].slice(0, 2).join('');
  return letters.toUpperCase();
}
