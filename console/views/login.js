// Sign-in page.
import { t } from '../strings.js';
import * as api from '../api.js';
import { h, clear, field } from '../dom.js';

export function renderLogin(root, { notice, onSignedIn }) {
  const email = field(t('login.email'), h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true }));
  const password = field(t('login.password'), h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true }));
  const error = h('p', { class: 'form-error', role: 'alert', id: 'login-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'login-submit' }, t('login.submit'));
  const form = h('form', { class: 'auth-card', id: 'login-form', novalidate: true },
    h('h1', null, t('login.title')),
    notice ? h('p', { class: 'notice', role: 'status', id: 'login-notice' }, notice) : null,
    email.row, password.row, error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    if (!email.input.value || !password.input.value) { error.textContent = t('login.invalid'); return; }
    submit.disabled = true;
    submit.textContent = t('login.busy');
    try {
      const s = await api.login(email.input.value.trim(), password.input.value);
      onSignedIn(s);
    } catch (err) {
      if (err.code === 'deactivated') error.textContent = t('login.deactivated');
      else if (err.status === 429) error.textContent = t('login.throttled', { seconds: (err.headers && err.headers.get('Retry-After')) || 60 });
      else if (err.status === 401 || err.status === 422) error.textContent = t('login.invalid');
      else if (err.status === 0) error.textContent = t('common.networkError');
      else error.textContent = t('common.error', { message: err.message });
      submit.disabled = false;
      submit.textContent = t('login.submit');
      password.input.focus();
    }
  });
  clear(root);
  root.className = 'auth-page';
  root.append(h('main', { id: 'main', class: 'auth-main' }, h('div', { class: 'auth-brand', 'aria-hidden': 'true' }, h('span', { class: 'brand-mark' }), t('app.name')), form));
  email.input.focus();
}
