import { ImapFlow } from 'imapflow';
import { startApp, waitFor, type TestApp } from '../support/app';
import { startDovecot, type Dovecot } from '../support/dovecot';

describe('IMAP intake: a UIDVALIDITY change', () => {
  let dovecot: Dovecot;
  let imap: ImapFlow;
  let t: TestApp;
  beforeAll(async () => {
    dovecot = await startDovecot();
    imap = new ImapFlow({ host: '127.0.0.1', port: dovecot.port, secure: false, auth: { user: dovecot.user, pass: dovecot.password }, logger: false });
    await imap.connect();
    await imap.mailboxCreate('Support');
    t = await startApp({ IMAP_URL: `imap://${dovecot.user}:${dovecot.password}@127.0.0.1:${dovecot.port}/Support`, EMAIL_FROM: 'support@example.com' });
  }, 60000);
  afterAll(async () => {
    await imap?.logout().catch(() => undefined);
    await t?.close();
    await dovecot?.stop();
  });
  const msg = (i: number) => `From: c${i}@example.org\r\nTo: support@example.com\r\nSubject: s${i}\r\nMessage-ID: <v${i}@example.org>\r\n\r\nbody ${i}\r\n`;
  const stored = async () => Number((await t.app.services.db.query("SELECT count(*) AS n FROM events WHERE type = 'message.received' AND channel = 'email'")).rows[0].n);

  it('resyncs the recreated mailbox without storing anything twice', async () => {
    for (const i of [1, 2, 3]) await imap.append('Support', msg(i));
    await waitFor(async () => (await stored()) === 3, 15000, 'first three');
    const before = (await t.app.services.db.query('SELECT uid_validity FROM mailbox_checkpoints')).rows[0].uid_validity;
    // The mailbox is recreated (a restore, a migration): new UIDVALIDITY, the same messages again, and a new one.
    await imap.mailboxDelete('Support');
    await imap.mailboxCreate('Support');
    for (const i of [1, 2, 3, 4]) await imap.append('Support', msg(i));
    // On failure, say where the watcher got to: its checkpoint and lease, and what was stored.
    let seen = '';
    const where = async (): Promise<boolean> => {
      const n = await stored();
      const cp = (await t.app.services.db.query('SELECT uid_validity, last_uid, updated_at FROM mailbox_checkpoints')).rows[0];
      const lease = (await t.app.services.db.query('SELECT fence, expires_at > now() AS live FROM mailbox_leases')).rows[0];
      seen = `stored ${n}, checkpoint ${JSON.stringify(cp)} (before: ${before}), lease ${JSON.stringify(lease)}`;
      return n === 4;
    };
    await waitFor(where, 20000, 'the new message after the resync', () => seen);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await stored()).toBe(4);
    const after = (await t.app.services.db.query('SELECT uid_validity, last_uid FROM mailbox_checkpoints')).rows[0];
    expect(after.uid_validity).not.toBe(before);
    expect(Number(after.last_uid)).toBe(4);
  }, 60000);
});
