/** /wallboard: sign in (supervisor or admin), then the live wallboard. */
import { byId } from '../shared/dom';
import { SessionStore } from '../shared/session';
import { renderSignIn } from '../shared/signin';
import { Wallboard } from './wallboard';

const store = new SessionStore('switchboard.wallboard');
const root = byId('app');

function start(notice?: string): void {
  const session = store.load();
  if (!session) {
    document.title = 'Sign in · Switchboard wallboard';
    renderSignIn(root, {
      title: 'Switchboard wallboard',
      notice: notice ?? null,
      refuse: (s) => (s.user.role === 'agent' ? 'the wallboard needs a supervisor or admin sign-in' : null),
      onSignedIn: (s) => {
        store.save(s);
        start();
      },
    });
    return;
  }
  document.title = 'Switchboard wallboard';
  new Wallboard(root, session, {
    signedOut: (why) => {
      store.clear();
      start(why);
    },
  }).start();
}

start();
