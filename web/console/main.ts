/** /console: sign in, then the agent console. */
import { byId } from '../shared/dom';
import { SessionStore } from '../shared/session';
import { renderSignIn } from '../shared/signin';
import { ConsoleApp } from './console';

const store = new SessionStore('switchboard.console');
const root = byId('app');

function start(notice?: string): void {
  const session = store.load();
  if (!session) {
    document.title = 'Sign in · Switchboard console';
    renderSignIn(root, {
      title: 'Switchboard agent console',
      notice: notice ?? null,
      refuse: (s) => (s.user.agentId ? null : 'this account has no agent profile; the console is for agents (supervisors: open /wallboard)'),
      onSignedIn: (s) => {
        store.save(s);
        start();
      },
    });
    return;
  }
  document.title = 'Switchboard console';
  new ConsoleApp(root, session, {
    signedOut: (why) => {
      store.clear();
      start(why);
    },
  }).start();
}

start();
