// Invitation acceptance: the invited user chooses a password and is signed in.
import { t } from '../strings.js';
import * as api from '../api.js';
import { h, clear, field } from '../dom.js';

export function renderInvitation(root, inviteToken, { onSignedIn }) {
  const pw = field(t('invite.password'), h('input', { type: 'password', name: 'new-password', autocomplete: 'new-password', minlength: 8, required: true }), t('invite.hint'));
  const confirm = field(t('invite.confirm'), h('input', { type: 'password', name: 'confirm-password', autocomplete: 'new-password', required: true }));
  const error = h('p', { class: 'form-error', role: 'alert', id: 'invite-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'invite-submit' }, t('invite.submit'));
  const form = h('form', { class: 'auth-card', id: 'invite-form', novalidate: true },
    h('h1', null, t('invite.title')), h('p', null, t('invite.intro')),
    pw.row, confirm.row, error, submit,
    h('p', { class: 'auth-foot' }, h('a', { href: '/' }, t('invite.toLogin'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    if (pw.input.value.length < 8) { error.textContent = t('invite.tooShort'); pw.input.focus(); return; }
    if (pw.input.value !== confirm.input.value) { error.textContent = t('invite.mismatch'); confirm.input.focus(); return; }
    submit.disabled = true;
    try {
      const s = await api.acceptInvitation(inviteToken, pw.input.value);
      history.replaceState(null, '', '/#/inbox');
      onSignedIn(s);
    } catch (err) {
      submit.disabled = false;
      if (err.status === 404) error.textContent = t('invite.notFound');
      else if (err.status === 410) error.textContent = err.code === 'expired' ? t('invite.expiredLink') : t('invite.used');
      else if (err.status === 422) error.textContent = t('invite.tooShort');
      else error.textContent = t('common.error', { message: err.message });
    }
  });
  clear(root);
  root.className = 'auth-page';
  root.append(h('main', { id: 'main', class: 'auth-main' }, h('div', { class: 'auth-brand', 'aria-hidden': 'true' }, h('span', { class: 'brand-mark' }), t('app.name')), form));
  pw.input.focus();
}
