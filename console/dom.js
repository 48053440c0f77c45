// Tiny DOM helpers: h() builds elements without innerHTML (text is never parsed as HTML).

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'indeterminate', 'multiple', 'required']);

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
      else if (PROPS.has(k)) el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

let uid = 0;
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field: returns {row, input}. */
export function field(label, input, hint) {
  const id = input.id || nextId('in');
  input.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  const row = h('div', { class: 'field' }, h('label', { for: id }, label), input, hintEl);
  return { row, input };
}

/** A checkbox with its label. */
export function checkbox(label, checked, attrs = {}) {
  const input = h('input', { type: 'checkbox', checked, ...attrs });
  const row = h('label', { class: 'check' }, input, h('span', null, label));
  return { row, input };
}

/**
 * An on/off switch: a <button role="switch"> whose aria-checked is the one
 * source of truth (the CSS draws the knob and colour from it). Returns
 * {el, set(on), get()}; `stateText` adds a visible On/Off word next to the label.
 */
export function switchButton({ id, label, checked, stateText, className = '', ...attrs }) {
  const text = h('span', { class: 'switch-text' }, label || '');
  const state = stateText ? h('span', { class: 'switch-state', 'aria-hidden': 'true' }) : null;
  const el = h('button', { type: 'button', role: 'switch', class: `switch ${className}`.trim(), id, ...attrs },
    h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })), text, state);
  const sw = {
    el,
    text,
    get: () => el.getAttribute('aria-checked') === 'true',
    set(on) {
      el.setAttribute('aria-checked', String(!!on));
      if (state) state.textContent = stateText(!!on);
    },
  };
  sw.set(checked);
  return sw;
}

const SVGNS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** A modal <dialog>; resolves with the value passed to close(), or null. */
export function openDialog(title, build) {
  return new Promise((resolve) => {
    const titleId = nextId('dlg');
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId });
    let result = null;
    const close = (value) => { result = value ?? null; dlg.close(); };
    dlg.append(h('h2', { id: titleId }, title), build(close));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    document.body.append(dlg);
    dlg.showModal();
  });
}
