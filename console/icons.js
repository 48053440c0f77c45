// Channel icons, drawn here as small inline SVGs (no downloads), with a label.
import { svg } from './dom.js';
import { t, STRINGS } from './strings.js';

const KINDS = {
  telegram: { color: '#1f6fb2', glyph: 'M5 11.5 18.5 6l-2.2 11.2-4.3-3.2-2.3 2.1.4-3.3 5.4-5-6.7 4.1z' },
  whatsapp: { color: '#0f7a3d', glyph: 'M12 5a7 7 0 0 0-6 10.6L5 19l3.5-1A7 7 0 1 0 12 5zm3.3 9.4c-.2.5-1 .9-1.4.9-.4 0-.8.2-2.6-.6-2.2-.9-3.5-3.1-3.6-3.3-.1-.2-.9-1.2-.9-2.3s.6-1.6.8-1.8c.2-.2.4-.3.6-.3h.4c.1 0 .3 0 .5.4l.7 1.6c.1.1.1.3 0 .4l-.3.5-.3.3c-.1.1-.2.3-.1.5.2.3.7 1.1 1.5 1.7 1 .8 1.8 1.1 2 1.2.2.1.4.1.5-.1l.7-.8c.2-.2.3-.2.5-.1l1.5.7c.2.1.4.2.4.3.1.1.1.6-.1 1.1z' },
  messenger: { color: '#5b2fc9', glyph: 'M12 5c-3.9 0-7 2.9-7 6.6 0 2 .9 3.8 2.4 5V19l2.2-1.2c.8.2 1.6.3 2.4.3 3.9 0 7-2.9 7-6.5S15.9 5 12 5zm.7 8.8-1.8-1.9-3.5 1.9 3.8-4.1 1.8 1.9 3.5-1.9z' },
  line: { color: '#067a2c', glyph: 'M12 5c-4 0-7.2 2.6-7.2 5.9 0 2.9 2.6 5.4 6.1 5.8.2 0 .6.2.6.4l.1.9c0 .3-.1 1 .9.5 1-.4 5.3-3.1 7.2-5.4.9-1 1.3-2.1 1.3-3.2C19.2 7.6 16 5 12 5zM8.5 12.5h-1.6V9.4h.7v2.4h.9zm1.4 0h-.7V9.4h.7zm3.3 0h-.6l-1.3-1.8v1.8h-.7V9.4h.6l1.3 1.8V9.4h.7zm2.6-2.4h-1v.4h1v.7h-1v.4h1v.7h-1.6V9.4h1.6z' },
  custom: { color: '#4a5568', glyph: 'M9 5v3H7v3a5 5 0 0 0 4 4.9V19h2v-3.1a5 5 0 0 0 4-4.9V8h-2V5h-2v3h-2V5z' },
};

export function kindLabel(kind) {
  const key = `kind.${kind}`;
  return STRINGS[key] ? t(key) : (kind || '?');
}

/** An icon for a channel kind; `label` becomes its accessible name (or it is decorative). */
export function channelIcon(kind, label) {
  const k = KINDS[kind] || KINDS.custom;
  const attrs = { class: 'channel-icon', viewBox: '0 0 24 24', width: 20, height: 20, focusable: 'false' };
  if (label) { attrs.role = 'img'; attrs['aria-label'] = label; } else attrs['aria-hidden'] = 'true';
  return svg('svg', attrs,
    label ? svg('title', null, label) : null,
    svg('rect', { x: 0, y: 0, width: 24, height: 24, rx: 6, fill: k.color }),
    svg('path', { d: k.glyph, fill: '#ffffff' }));
}

/** A map pin (decorative), for location messages. */
export function pinIcon() {
  return svg('svg', { class: 'pin-icon', viewBox: '0 0 24 24', width: 16, height: 16, 'aria-hidden': 'true', focusable: 'false' },
    svg('path', { d: 'M12 2a7 7 0 0 0-7 7c0 5.2 7 13 7 13s7-7.8 7-13a7 7 0 0 0-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z', fill: 'currentColor' }));
}

/** A bell (decorative), for the alerts switch. */
export function bellIcon() {
  return svg('svg', { class: 'bell-icon', viewBox: '0 0 24 24', width: 18, height: 18, 'aria-hidden': 'true', focusable: 'false' },
    svg('path', { d: 'M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1z', fill: 'currentColor' }));
}
