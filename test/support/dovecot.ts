/**
 * A real Dovecot IMAP server for a test file: unprivileged, on a free port, with one
 * passwd-file user and a Maildir under a temporary directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './process';

export interface Dovecot {
  port: number;
  user: string;
  password: string;
  url: string;
  stop(): Promise<void>;
}

const DOVECOT = ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot'].find((p) => existsSync(p));

export const dovecotAvailable = (): boolean => DOVECOT !== undefined;

export async function startDovecot(): Promise<Dovecot> {
  if (!DOVECOT) throw new Error('dovecot is not installed (apt-get install dovecot-imapd)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-dovecot-'));
  chmodSync(dir, 0o777);
  const port = await freePort();
  const user = 'support';
  const password = 'support-password';
  const asRoot = process.getuid?.() === 0;
  const runAs = asRoot ? 'nobody' : os.userInfo().username;
  const group = asRoot ? 'nogroup' : (os.userInfo().gid.toString());
  const home = path.join(dir, 'home', user);
  // Dovecot runs unprivileged: every directory it writes must be open to it.
  for (const d of ['run', 'state', 'home', path.join('home', user)]) {
    mkdirSync(path.join(dir, d), { recursive: true });
    chmodSync(path.join(dir, d), 0o777);
  }
  const uid = asRoot ? 65534 : os.userInfo().uid;
  const gid = asRoot ? 65534 : os.userInfo().gid;
  writeFileSync(path.join(dir, 'passwd'), `${user}:{PLAIN}${password}:${uid}:${gid}::${home}::\n`);
  writeFileSync(
    path.join(dir, 'dovecot.conf'),
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${dir}/dovecot.log`,
      'protocols = imap',
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain login',
      `listen = 127.0.0.1`,
      `default_internal_user = ${runAs}`,
      `default_login_user = ${runAs}`,
      `default_internal_group = ${asRoot ? group : os.userInfo().username}`,
      `mail_uid = ${uid}`,
      `mail_gid = ${gid}`,
      'first_valid_uid = 0',
      'first_valid_gid = 0',
      'mail_location = maildir:~/Maildir',
      'passdb {',
      '  driver = passwd-file',
      `  args = ${dir}/passwd`,
      '}',
      'userdb {',
      '  driver = passwd-file',
      `  args = ${dir}/passwd`,
      '}',
      'service imap-login {',
      '  chroot =',
      '  inet_listener imap {',
      `    port = ${port}`,
      '  }',
      '  inet_listener imaps {',
      '    port = 0',
      '  }',
      '}',
      'service anvil {',
      '  chroot =',
      '}',
      'service stats {',
      '  unix_listener stats-reader {',
      '    mode = 0666',
      '  }',
      '  unix_listener stats-writer {',
      '    mode = 0666',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  chmodSync(path.join(dir, 'dovecot.conf'), 0o644);
  const args = ['-F', '-c', path.join(dir, 'dovecot.conf')];
  const child: ChildProcess = asRoot
    ? spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', DOVECOT, ...args], { stdio: 'ignore' })
    : spawn(DOVECOT, args, { stdio: 'ignore' });
  const deadline = Date.now() + 10000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      let log = '';
      try {
        log = readFileSync(path.join(dir, 'dovecot.log'), 'utf8');
      } catch {
        /* no log */
      }
      child.kill('SIGKILL');
      throw new Error(`dovecot did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    user,
    password,
    url: `imap://${user}:${password}@127.0.0.1:${port}/INBOX`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
