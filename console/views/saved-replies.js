// Saved replies (the API's /api/v1/quick-replies: texts the team reuses).
// - savedRepliesComposer(): for the reply box, the "Saved replies" button with
//   its filterable list, and the suggestions shown while typing "/shortcut" at
//   the start of the box. Choosing one puts its text in the box; nothing is sent.
// - mountSavedRepliesEditor(): for the Team page (supervisors, admins): list,
//   add, edit, delete, Save (PUT of the whole list); the API's 422 message is
//   shown and the entry it names is marked.
// Not to be confused with the buttons offered to the customer with a reply
// (the message's `quick_replies`), which the composer calls "Buttons for the customer".
import { t } from '../strings.js';
import * as api from '../api.js';
import { h, clear, nextId } from '../dom.js';

const PATH = '/api/v1/quick-replies';
const SLASH = /^\/([a-z0-9_-]*)$/i;

// One list for the whole page, read again when a picker opens (nothing is pushed
// by the event stream when it changes) and at most every 30 s for "/".
let cache = null;
let cacheAt = 0;
let pending = null;

export function loadSavedReplies({ maxAge = 0 } = {}) {
  if (cache && Date.now() - cacheAt <= maxAge) return Promise.resolve(cache);
  if (!pending) {
    pending = api.get(PATH).then((r) => {
      cache = (r && r.quick_replies) || [];
      cacheAt = Date.now();
      return cache;
    }).finally(() => { pending = null; });
  }
  return pending;
}

function rememberSaved(list) { cache = list; cacheAt = Date.now(); }

/** Entries matching `q`: shortcuts starting with it first, then shortcuts or texts containing it. */
function matching(list, q, { textToo = true } = {}) {
  const s = q.trim().toLowerCase().replace(/^\//, '');
  if (!s) return list.slice();
  const first = [];
  const then = [];
  for (const r of list) {
    if (r.shortcut.startsWith(s)) first.push(r);
    else if (r.shortcut.includes(s) || (textToo && r.text.toLowerCase().includes(s))) then.push(r);
  }
  return first.concat(then);
}

/**
 * A listbox whose "active" option is driven from a text field (aria-activedescendant),
 * so focus stays where the user types. Returns {el, show(items), move(d), active(), size()}.
 */
function optionList(id, onChoose) {
  const el = h('ul', { class: 'saved-options', id, role: 'listbox', 'aria-label': t('saved.pickerTitle') });
  let items = [];
  let index = 0;
  let owner = null;
  function paint() {
    [...el.children].forEach((li, i) => {
      const on = i === index;
      li.setAttribute('aria-selected', String(on));
      if (on) { li.scrollIntoView({ block: 'nearest' }); }
    });
    if (owner) {
      if (items.length) owner.setAttribute('aria-activedescendant', `${id}-${index}`);
      else owner.removeAttribute('aria-activedescendant');
    }
  }
  return {
    el,
    setOwner(o) { owner = o; },
    show(list, keep) {
      items = list;
      index = Math.max(0, keep ? list.findIndex((r) => r.shortcut === keep) : 0);
      clear(el).append(...list.map((r, i) => {
        const li = h('li', { role: 'option', id: `${id}-${i}`, class: 'saved-option', 'data-shortcut': r.shortcut },
          h('span', { class: 'saved-shortcut' }, `/${r.shortcut}`), h('span', { class: 'saved-text' }, r.text));
        // Keep the focus in the field; a click chooses.
        li.addEventListener('mousedown', (e) => e.preventDefault());
        li.addEventListener('click', () => onChoose(r));
        return li;
      }));
      paint();
    },
    move(d) {
      if (!items.length) return;
      index = (index + d + items.length) % items.length;
      paint();
    },
    to(i) { if (items.length) { index = i < 0 ? items.length - 1 : 0; paint(); } },
    active() { return items[index] || null; },
    size() { return items.length; },
  };
}

/**
 * The reply box's saved replies. `textarea` is the reply box; `onInsert` is
 * called after a text was put in it. Returns {button, popup, suggestions,
 * onKeydown(e) (true when it handled the key), close()}.
 */
export function savedRepliesComposer(textarea, { onError } = {}) {
  const live = h('p', { class: 'visually-hidden', 'aria-live': 'polite', id: nextId('saved-live') });

  function insertAt(text, start, end) {
    textarea.focus();
    textarea.setRangeText(text, start, end, 'end');
    textarea.dispatchEvent(new Event('input', { bubbles: true }));
  }

  // The button and its popup.
  const button = h('button', {
    type: 'button', class: 'btn btn-small saved-btn', id: 'saved-replies-btn',
    'aria-haspopup': 'dialog', 'aria-expanded': 'false', 'aria-controls': 'saved-picker',
  }, t('saved.button'));
  const filter = h('input', {
    type: 'text', id: 'saved-filter', class: 'saved-filter', autocomplete: 'off', spellcheck: 'false',
    role: 'combobox', 'aria-expanded': 'true', 'aria-controls': 'saved-list', 'aria-autocomplete': 'list',
    placeholder: t('saved.filterPlaceholder'),
  });
  const filterLabel = h('label', { for: 'saved-filter', class: 'saved-popup-title' }, t('saved.pickerTitle'));
  const pickerList = optionList('saved-list', (r) => choose(r));
  pickerList.setOwner(filter);
  const pickerEmpty = h('p', { class: 'muted saved-empty', id: 'saved-empty', hidden: true });
  const popup = h('div', { class: 'saved-popup saved-picker', id: 'saved-picker', role: 'dialog', 'aria-label': t('saved.pickerTitle'), hidden: true },
    filterLabel, filter, h('p', { class: 'hint' }, t('saved.pickerHint')), pickerList.el, pickerEmpty);
  let list = cache || [];
  let selection = [0, 0];

  function renderPicker() {
    const found = matching(list, filter.value);
    pickerList.show(found);
    pickerEmpty.hidden = found.length > 0;
    pickerEmpty.textContent = list.length ? t('saved.noMatch') : t('saved.none');
  }

  function openPicker() {
    closeSlash();
    selection = [textarea.selectionStart, textarea.selectionEnd];
    popup.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    filter.value = '';
    renderPicker();
    filter.focus();
    loadSavedReplies().then((l) => { list = l; if (!popup.hidden) renderPicker(); })
      .catch((e) => { if (onError) onError(e); });
  }

  function closePicker(refocus) {
    if (popup.hidden) return;
    popup.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    if (refocus) button.focus();
  }

  function choose(r) {
    closePicker(false);
    insertAt(r.text, selection[0], selection[1]);
    live.textContent = t('saved.inserted', { shortcut: r.shortcut });
  }

  button.addEventListener('click', () => { if (popup.hidden) openPicker(); else closePicker(true); });
  filter.addEventListener('input', renderPicker);
  filter.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') { e.preventDefault(); pickerList.move(e.key === 'ArrowDown' ? 1 : -1); }
    else if (e.key === 'Home' && e.ctrlKey) { e.preventDefault(); pickerList.to(0); }
    else if (e.key === 'End' && e.ctrlKey) { e.preventDefault(); pickerList.to(-1); }
    else if (e.key === 'Enter') { e.preventDefault(); const r = pickerList.active(); if (r) choose(r); }
    else if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); closePicker(true); }
  });
  popup.addEventListener('focusout', (e) => {
    if (e.relatedTarget && (popup.contains(e.relatedTarget) || e.relatedTarget === button)) return;
    closePicker(false);
  });

  // "/shortcut" at the start of the box.
  const slashList = optionList('slash-list', (r) => chooseSlash(r));
  const suggestions = h('div', { class: 'saved-popup saved-suggest', id: 'slash-suggestions', hidden: true },
    h('p', { class: 'saved-popup-title', 'aria-hidden': 'true' }, t('saved.suggestTitle')), slashList.el);
  let slashDismissed = false;
  let slashEnd = 0;
  textarea.setAttribute('aria-autocomplete', 'list');

  function slashQuery() {
    const m = textarea.value.slice(0, textarea.selectionStart).match(SLASH);
    return m && textarea.selectionStart === textarea.selectionEnd ? m[1] : null;
  }

  function updateSlash() {
    const q = slashQuery();
    if (q === null) { slashDismissed = false; closeSlash(); return; }
    if (slashDismissed) return;
    const found = matching(list, q, { textToo: false });
    if (!found.length) { closeSlash(); return; }
    slashEnd = textarea.selectionStart;
    const wasOpen = !suggestions.hidden;
    const was = wasOpen ? slashList.active() : null;
    const before = wasOpen ? slashList.size() : -1;
    textarea.setAttribute('aria-controls', 'slash-list');
    slashList.setOwner(textarea);
    slashList.show(found, was && was.shortcut);
    suggestions.hidden = false;
    if (found.length !== before) {
      live.textContent = found.length === 1 ? t('saved.suggestOne') : t('saved.suggestMany', { count: found.length });
    }
  }

  function closeSlash() {
    if (suggestions.hidden) return;
    suggestions.hidden = true;
    slashList.setOwner(null);
    textarea.removeAttribute('aria-activedescendant');
    textarea.removeAttribute('aria-controls');
  }

  function chooseSlash(r) {
    closeSlash();
    slashDismissed = true;
    insertAt(r.text, 0, slashEnd);
    live.textContent = t('saved.inserted', { shortcut: r.shortcut });
  }

  textarea.addEventListener('input', () => {
    if (slashQuery() !== null && !slashDismissed) {
      list = cache || list;
      updateSlash();
      // Fetch (or refresh a list older than 30 s), then suggest from it.
      loadSavedReplies({ maxAge: 30e3 }).then((l) => { list = l; updateSlash(); }).catch(() => {});
    } else updateSlash();
  });
  textarea.addEventListener('blur', () => closeSlash());
  textarea.addEventListener('click', () => updateSlash());

  function onKeydown(e) {
    if (suggestions.hidden || e.isComposing) return false;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') { slashList.move(e.key === 'ArrowDown' ? 1 : -1); }
    else if ((e.key === 'Enter' && !e.shiftKey) || e.key === 'Tab') { const r = slashList.active(); if (r) chooseSlash(r); }
    else if (e.key === 'Escape') { closeSlash(); slashDismissed = true; }
    else return false;
    e.preventDefault();
    e.stopPropagation();
    return true;
  }

  // Warm the cache so "/" can suggest at once.
  loadSavedReplies({ maxAge: 30e3 }).then((l) => { list = l; }).catch(() => {});

  return {
    button, popup, suggestions, live, onKeydown,
    close() { closePicker(false); closeSlash(); },
    /** After the box was emptied by the page (a reply sent): "/" suggests again. */
    reset() { closeSlash(); slashDismissed = false; },
  };
}

/** The editor on the Team page. Returns {load()}. */
export function mountSavedRepliesEditor(section, { toast }) {
  const rowsEl = h('ol', { class: 'saved-rows', id: 'saved-rows' });
  const empty = h('p', { class: 'muted', id: 'saved-rows-empty' }, t('saved.empty'));
  const error = h('p', { class: 'form-error', id: 'saved-replies-error', role: 'alert' });
  const dirtyNote = h('span', { class: 'muted saved-dirty', id: 'saved-dirty', 'aria-live': 'polite' });
  const saveBtn = h('button', { type: 'submit', class: 'btn btn-primary', id: 'saved-replies-save' }, t('saved.save'));
  const addBtn = h('button', { type: 'button', class: 'btn', id: 'saved-add', onclick: () => { const r = addRow({ shortcut: '', text: '' }); r.shortcut.focus(); changed(); } }, t('saved.add'));
  const form = h('form', { id: 'saved-replies-form', novalidate: true },
    h('p', { class: 'muted' }, t('saved.intro')),
    empty, rowsEl, error,
    h('div', { class: 'row-between' }, addBtn, h('div', { class: 'row-end' }, dirtyNote, saveBtn)));
  clear(section).append(h('h2', { id: 'saved-replies-h' }, t('saved.title')), form);
  let rows = [];

  function renumber() {
    rows.forEach((r, i) => {
      r.legend.textContent = t('saved.entry', { n: i + 1 });
      r.del.setAttribute('aria-label', t('saved.remove', { n: i + 1 }));
      r.li.dataset.index = String(i);
    });
    empty.hidden = rows.length > 0;
    addBtn.disabled = rows.length >= 200;
  }

  function changed() { dirtyNote.textContent = t('saved.unsaved'); }

  function addRow(entry) {
    const sid = nextId('saved-shortcut');
    const tid = nextId('saved-text');
    const shortcut = h('input', { type: 'text', id: sid, class: 'saved-shortcut-input', value: entry.shortcut, maxlength: 64, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `${sid}-hint` });
    const text = h('textarea', { id: tid, class: 'saved-text-input', rows: 2, maxlength: 4096 });
    text.value = entry.text;
    const legend = h('legend', { class: 'visually-hidden' });
    const row = {
      shortcut, text, legend,
      del: h('button', { type: 'button', class: 'btn btn-small btn-danger saved-delete' }, t('common.delete')),
    };
    row.li = h('li', { class: 'saved-row' }, h('fieldset', null, legend,
      h('div', { class: 'field saved-shortcut-field' }, h('label', { for: sid }, t('saved.shortcut')),
        h('div', { class: 'slash-input' }, h('span', { 'aria-hidden': 'true' }, '/'), shortcut),
        h('p', { class: 'hint', id: `${sid}-hint` }, t('saved.shortcutHint'))),
      h('div', { class: 'field saved-text-field' }, h('label', { for: tid }, t('saved.text')), text),
      h('div', { class: 'saved-row-actions' }, row.del)));
    row.del.addEventListener('click', () => {
      const i = rows.indexOf(row);
      rows.splice(i, 1);
      row.li.remove();
      renumber();
      changed();
      const next = rows[i] || rows[i - 1];
      (next ? next.shortcut : addBtn).focus();
    });
    for (const input of [shortcut, text]) {
      input.addEventListener('input', () => { input.removeAttribute('aria-invalid'); changed(); });
    }
    rows.push(row);
    rowsEl.append(row.li);
    renumber();
    return row;
  }

  function render(list) {
    rows = [];
    clear(rowsEl);
    for (const r of list) addRow(r);
    renumber();
    dirtyNote.textContent = '';
  }

  // The API names the entry as quick_replies[N] (N counts the entries sent);
  // mark that field and take the focus there.
  function markError(message, sent) {
    const m = /quick_replies\[(\d+)\](?:\.(\w+))?/.exec(message || '');
    if (!m || !sent[Number(m[1])]) return;
    const row = sent[Number(m[1])];
    const input = m[2] === 'text' ? row.text : row.shortcut;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-errormessage', error.id);
    input.focus();
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    for (const r of rows) { r.shortcut.removeAttribute('aria-invalid'); r.text.removeAttribute('aria-invalid'); }
    // Rows left completely empty are dropped; the rest is sent as typed (the API checks it).
    const sent = rows.filter((r) => r.shortcut.value.trim() || r.text.value.trim());
    const body = { quick_replies: sent.map((r) => ({ shortcut: r.shortcut.value.trim(), text: r.text.value })) };
    saveBtn.disabled = true;
    try {
      const res = await api.put(PATH, body);
      const list = (res && res.quick_replies) || [];
      rememberSaved(list);
      render(list);
      dirtyNote.textContent = t('saved.savedCount', { count: list.length });
      toast(t('saved.savedToast'));
    } catch (err) {
      if (err.status === 401) return;
      error.textContent = t('saved.error', { message: err.message });
      markError(err.message, sent);
    } finally { saveBtn.disabled = false; }
  });

  async function load() {
    try { render(await loadSavedReplies()); } catch (e) { if (e.status !== 401) error.textContent = t('common.error', { message: e.message }); }
  }
  load();
  return { load };
}
