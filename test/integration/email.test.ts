import { ImapFlow } from 'imapflow';
import { bearer, startApp, waitFor, type TestApp } from '../support/app';
import { createAgent, createQueue, type AgentClient } from '../support/agent';
import { startDovecot, type Dovecot } from '../support/dovecot';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';

const SUPPORT = 'support@example.com';

function mail(h: { from: string; subject: string; messageId?: string; inReplyTo?: string; references?: string; extra?: string }, body: string): string {
  return [
    `From: ${h.from}`,
    `To: ${SUPPORT}`,
    `Subject: ${h.subject}`,
    ...(h.messageId ? [`Message-ID: ${h.messageId}`] : []),
    ...(h.inReplyTo ? [`In-Reply-To: ${h.inReplyTo}`] : []),
    ...(h.references ? [`References: ${h.references}`] : []),
    'Date: Mon, 23 Nov 2026 10:00:00 +0000',
    ...(h.extra ? [h.extra] : []),
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
    '',
  ].join('\r\n');
}

describe('email: IMAP intake and threaded SMTP replies', () => {
  let dovecot: Dovecot;
  let smtp: SmtpSink;
  let t: TestApp;
  let imap: ImapFlow;
  let agent: AgentClient;
  let queue: string;

  beforeAll(async () => {
    dovecot = await startDovecot();
    smtp = await startSmtpSink();
    t = await startApp({ IMAP_URL: dovecot.url, SMTP_URL: smtp.url, EMAIL_FROM: SUPPORT, EMAIL_ATTACHMENT_MAX_BYTES: '1024', OFFER_TIMEOUT_SECONDS: '10' });
    queue = await createQueue(t, { name: 'email' });
    await t.app.inject({ method: 'POST', url: '/api/entry-points', headers: bearer(t.adminToken), payload: { channel: 'email', address: SUPPORT, queueId: queue } });
    agent = await createAgent(t, [queue]);
    imap = new ImapFlow({ host: '127.0.0.1', port: dovecot.port, secure: false, auth: { user: dovecot.user, pass: dovecot.password }, logger: false });
    await imap.connect();
  }, 60000);
  afterAll(async () => {
    agent?.close();
    await imap?.logout().catch(() => undefined);
    await t?.close();
    await smtp?.close();
    await dovecot?.stop();
  });
  const events = async (sql: string, params: unknown[] = []) => (await t.app.services.db.query(sql, params)).rows;

  it('thread round trip: customer email → agent reply with threading headers → the customer’s answer lands in the same interaction', async () => {
    const offered = agent.nextOffer(10000);
    await agent.emit('state:set', { state: 'available' });
    await imap.append('INBOX', mail({ from: 'Ada <Ada@Example.org>', subject: 'Broken widget', messageId: '<first@example.org>' }, 'My widget broke.'));
    const offer = await offered;
    expect(offer.interaction).toMatchObject({ channel: 'email', subject: 'Broken widget', preview: expect.stringContaining('My widget broke.') });
    expect(offer.customer.identities).toContainEqual({ kind: 'email', value: 'ada@example.org' });
    await agent.emit('offer:accept', { offerId: offer.offerId });
    const ack = await agent.emit('interaction:reply', { interactionId: offer.interaction.id, clientMessageId: 'r1', text: 'Sorry! A new one is on its way.' });
    expect(ack.ok).toBe(true);
    await waitFor(() => smtp.messages.length === 1, 10000, 'the reply at the SMTP server');
    const sent = smtp.messages[0]!.parsed;
    expect(sent.inReplyTo).toBe('<first@example.org>');
    expect([sent.references].flat()).toContain('<first@example.org>');
    expect(sent.subject).toBe(`Re: Broken widget [#${offer.interaction.id.slice(0, 8)}]`);
    expect(sent.from?.value[0]?.address).toBe(SUPPORT);
    expect(sent.to && 'value' in sent.to ? sent.to.value[0]?.address : null).toBe('ada@example.org');
    const ourId = sent.messageId!;
    expect((await events('SELECT interaction_id FROM email_messages WHERE message_id = $1', [ourId]))[0]?.interaction_id).toBe(offer.interaction.id);

    const got = new Promise<void>((resolve) => {
      const check = () => agent.messages.some((m) => m.text.includes('Thanks, got it')) && resolve();
      agent.socket.on('interaction:message', check);
    });
    await imap.append('INBOX', mail({ from: 'ada@example.org', subject: sent.subject!, messageId: '<second@example.org>', inReplyTo: ourId, references: `<first@example.org> ${ourId}` }, 'Thanks, got it.'));
    await got;
    const rows = await events("SELECT interaction_id FROM events WHERE type = 'message.received' AND channel = 'email' AND payload ->> 'messageId' = '<second@example.org>'");
    expect(rows).toEqual([{ interaction_id: offer.interaction.id }]);
    // And by subject tag alone, with no threading headers.
    await imap.append('INBOX', mail({ from: 'ada@example.org', subject: `Another thing [#${offer.interaction.id.slice(0, 8)}]`, messageId: '<third@example.org>' }, 'One more.'));
    await waitFor(async () => (await events("SELECT 1 FROM events WHERE payload ->> 'messageId' = '<third@example.org>'")).length === 1, 10000, 'third');
    expect((await events("SELECT interaction_id FROM events WHERE payload ->> 'messageId' = '<third@example.org>'"))[0].interaction_id).toBe(offer.interaction.id);
  });

  it('a reply to a recently closed thread reopens it and queues it again', async () => {
    const row = (await events("SELECT interaction_id FROM events WHERE payload ->> 'messageId' = '<first@example.org>'"))[0];
    await agent.emit('interaction:wrapup', { interactionId: row.interaction_id, disposition: 'replaced' });
    expect((await events('SELECT state FROM interactions WHERE id = $1', [row.interaction_id]))[0].state).toBe('closed');
    await agent.emit('state:set', { state: 'away', reason: 'later' });
    await imap.append('INBOX', mail({ from: 'ada@example.org', subject: 'Re: Broken widget', messageId: '<reopen@example.org>', inReplyTo: '<second@example.org>' }, 'It broke again.'));
    await waitFor(async () => (await events("SELECT 1 FROM events WHERE payload ->> 'messageId' = '<reopen@example.org>'")).length === 1, 10000, 'the reopening message');
    expect((await events("SELECT interaction_id FROM events WHERE payload ->> 'messageId' = '<reopen@example.org>'"))[0].interaction_id).toBe(row.interaction_id);
    expect((await events('SELECT state, agent_id, closed_at FROM interactions WHERE id = $1', [row.interaction_id]))[0]).toEqual({ state: 'queued', agent_id: null, closed_at: null });
    const last = await events('SELECT type, payload FROM events WHERE interaction_id = $1 ORDER BY seq DESC LIMIT 1', [row.interaction_id]);
    expect(last[0]).toMatchObject({ type: 'interaction.queued', payload: { via: 'reopen' } });
  });

  it('an agent starts an email conversation; the customer’s reply threads into it', async () => {
    const customerId = (await events("SELECT customer_id FROM customer_identities WHERE value = 'ada@example.org'"))[0].customer_id;
    const before = smtp.messages.length;
    const res = await t.app.inject({ method: 'POST', url: '/api/interactions', headers: bearer(agent.token), payload: { customerId, channel: 'email', subject: 'Your refund', text: 'We refunded you.' } });
    expect(res.statusCode).toBe(201);
    const id = res.json().id;
    await waitFor(() => smtp.messages.length === before + 1, 10000, 'the first message at the SMTP server');
    const sent = smtp.messages.at(-1)!.parsed;
    expect(sent.subject).toBe(`Your refund [#${id.slice(0, 8)}]`);
    expect(sent.inReplyTo).toBeUndefined();
    await imap.append('INBOX', mail({ from: 'ada@example.org', subject: `Re: ${sent.subject}`, messageId: '<refund-reply@example.org>', inReplyTo: sent.messageId }, 'Great, thanks!'));
    await waitFor(async () => (await events("SELECT 1 FROM events WHERE payload ->> 'messageId' = '<refund-reply@example.org>'")).length === 1, 10000, 'the reply');
    expect((await events("SELECT interaction_id FROM events WHERE payload ->> 'messageId' = '<refund-reply@example.org>'"))[0].interaction_id).toBe(id);
  });

  it('survives malformed MIME, a missing Message-ID, an oversized attachment and an auto-reply, and keeps going', async () => {
    await agent.emit('state:set', { state: 'away', reason: 'mail' });
    const big = Buffer.alloc(4096, 'x').toString('base64');
    const messages = [
      // Malformed MIME: a multipart with no boundary ever closed and garbage headers.
      'From: broken@example.org\r\nSubject: broken\r\nContent-Type: multipart/mixed; boundary="zzz"\r\n\r\n--zzz\r\nContent-Type: text/plain\r\n\r\nhalf a message\r\n\u0001\u0002garbage',
      mail({ from: 'noid@example.org', subject: 'no id' }, 'I have no Message-ID.'),
      [
        'From: files@example.org', 'To: support@example.com', 'Subject: big file', 'Message-ID: <big@example.org>',
        'Content-Type: multipart/mixed; boundary="b1"', '', '--b1', 'Content-Type: text/plain', '', 'see attached', '--b1',
        'Content-Type: application/octet-stream; name="big.bin"', 'Content-Disposition: attachment; filename="big.bin"', 'Content-Transfer-Encoding: base64', '',
        big, '--b1--', '',
      ].join('\r\n'),
      mail({ from: 'ada@example.org', subject: 'Out of office', messageId: '<ooo@example.org>', extra: 'Auto-Submitted: auto-replied' }, 'I am away.'),
      mail({ from: 'last@example.org', subject: 'after the junk', messageId: '<last@example.org>' }, 'Still working?'),
    ];
    for (const m of messages) await imap.append('INBOX', m);
    await waitFor(async () => (await events("SELECT 1 FROM events WHERE payload ->> 'messageId' = '<last@example.org>'")).length === 1, 15000, 'the message after the junk');
    const noId = await events("SELECT interaction_id FROM events e JOIN customer_identities ci ON ci.customer_id = e.customer_id WHERE ci.value = 'noid@example.org'");
    expect(noId).toHaveLength(2); // interaction.queued + message.received
    const attachment = await events("SELECT a.filename, a.size, a.content IS NULL AS metadata_only FROM attachments a JOIN events e ON e.id = a.event_id WHERE e.payload ->> 'messageId' = '<big@example.org>'");
    expect(attachment).toEqual([{ filename: 'big.bin', size: 4096, metadata_only: true }]);
    const ooo = await events("SELECT interaction_id, payload ->> 'automatic' AS automatic FROM events WHERE payload ->> 'messageId' = '<ooo@example.org>'");
    expect(ooo).toEqual([{ interaction_id: null, automatic: 'auto-submitted: auto-replied' }]);
    // The checkpoint covers every message.
    const status = await imap.status('INBOX', { uidNext: true });
    const cp = await events('SELECT last_uid FROM mailbox_checkpoints');
    expect(Number(cp[0].last_uid)).toBe(Number((status as { uidNext: number }).uidNext) - 1);
  });
});
