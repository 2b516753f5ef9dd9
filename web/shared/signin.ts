/** The sign-in form both pages show first: the server's own error message on failure. */
import { ApiError, createApi, describeError } from './api';
import { fill, h } from './dom';
import type { Session } from './session';
import type { LoginResponse } from './types';

export interface SignInOptions {
  title: string;
  /** Shown above the form, e.g. why the user is back here. */
  notice?: string | null;
  /** A reason this account cannot use the page, or null when it can. */
  refuse(s: Session): string | null;
  onSignedIn(s: Session): void;
}

export function renderSignIn(root: HTMLElement, opts: SignInOptions): void {
  const api = createApi(() => null, () => undefined);
  const error = h('p', { class: 'form-error', role: 'alert', id: 'signin-error' });
  const username = h('input', { id: 'signin-username', name: 'username', autocomplete: 'username', required: true, maxlength: 100 });
  const password = h('input', { id: 'signin-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 200 });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin card', 'aria-labelledby': 'signin-title', 'aria-describedby': 'signin-error', novalidate: false },
    h('h1', { id: 'signin-title' }, opts.title),
    opts.notice ? h('p', { class: 'notice', role: 'alert' }, opts.notice) : null,
    h('div', { class: 'field' }, h('label', { for: 'signin-username' }, 'Username'), username),
    h('div', { class: 'field' }, h('label', { for: 'signin-password' }, 'Password'), password),
    submit,
    error,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    api.post<LoginResponse>('/api/auth/login', { username: username.value.trim(), password: password.value }).then(
      (s) => {
        const refused = opts.refuse(s);
        if (refused) {
          fail(refused);
          return;
        }
        opts.onSignedIn(s);
      },
      (err: unknown) => fail(err instanceof ApiError && err.status === 400 ? 'Enter your username and password' : describeError(err)),
    );
  });
  function fail(message: string): void {
    error.textContent = `Sign-in failed: ${message}`;
    submit.disabled = false;
    submit.textContent = 'Sign in';
    password.select();
    password.focus();
  }
  fill(root, h('main', { class: 'signin-page' }, form));
  username.focus();
}
