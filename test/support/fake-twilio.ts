/**
 * A local stand-in for Twilio's REST API (the only thing we cannot run here): it records
 * every Messages.json request, answers like Twilio, lists sent messages, and sends the status
 * callbacks Twilio would, signed with the twilio library's own function.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';

export const ACCOUNT_SID = `AC${'0'.repeat(32)}`;
export const AUTH_TOKEN = 'test-auth-token-0123456789abcdef';

export interface FakeMessage {
  sid: string;
  to: string;
  from: string;
  body: string;
  statusCallback?: string;
  createdAt: Date;
}

export interface FakeCall {
  sid: string;
  to: string;
  from: string;
  url?: string;
  twiml?: string;
  statusCallback?: string;
}

export interface FakeTwilio {
  url: string;
  messages: FakeMessage[];
  /** Calls created (POST Calls.json) and updates to existing calls (POST Calls/<sid>.json). */
  calls: FakeCall[];
  callUpdates: Array<{ sid: string; form: Record<string, string> }>;
  /** While set, creating a call answers 500 (Twilio having a bad day). */
  failCalls: boolean;
  /** While set, sending a message answers 500 and keeps nothing. */
  failMessages: boolean;
  requests: Array<{ method: string; path: string }>;
  /** Hold the response to the next send until `release()` (the message is recorded first). */
  holdNextSend(): { sent: Promise<FakeMessage>; release(): void };
  /** POST a signed status callback for a message, as Twilio would, to `deliverTo` (the app's real address). */
  sendStatus(sid: string, status: string, deliverTo: string): Promise<number>;
  close(): Promise<void>;
}

export function signedForm(url: string, params: Record<string, string>, authToken = AUTH_TOKEN) {
  return {
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(authToken, url, params) },
    body: new URLSearchParams(params).toString(),
  };
}

export async function startFakeTwilio(): Promise<FakeTwilio> {
  const messages: FakeMessage[] = [];
  const calls: FakeCall[] = [];
  const callUpdates: FakeTwilio['callUpdates'] = [];
  const requests: FakeTwilio['requests'] = [];
  let hold: { onSent: (m: FakeMessage) => void; gate: Promise<void> } | null = null;

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const view = (m: FakeMessage) => ({
    sid: m.sid, account_sid: ACCOUNT_SID, to: m.to, from: m.from, body: m.body, status: 'queued', direction: 'outbound-api',
    date_created: m.createdAt.toUTCString(), date_updated: m.createdAt.toUTCString(), date_sent: m.createdAt.toUTCString(),
    uri: `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/${m.sid}.json`, num_segments: '1', price: null, error_code: null,
  });

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      const url = new URL(req.url!, 'http://fake');
      requests.push({ method: req.method!, path: url.pathname });
      const expectedAuth = `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`;
      if (req.headers.authorization !== expectedAuth) return json(res, 401, { code: 20003, message: 'Authenticate' });
      const callsBase = `/2010-04-01/Accounts/${ACCOUNT_SID}/Calls`;
      if (req.method === 'POST' && url.pathname.startsWith(callsBase)) {
        const form = Object.fromEntries(new URLSearchParams(raw));
        if (url.pathname === `${callsBase}.json`) {
          if (fake.failCalls) return json(res, 500, { code: 20500, message: 'Internal Server Error' });
          if (!form.To || !form.From || (!form.Url && !form.Twiml)) return json(res, 400, { code: 21205, message: 'Url or Twiml is required' });
          const call: FakeCall = { sid: `CA${randomBytes(16).toString('hex')}`, to: form.To, from: form.From, url: form.Url, twiml: form.Twiml, statusCallback: form.StatusCallback };
          calls.push(call);
          return json(res, 201, { sid: call.sid, account_sid: ACCOUNT_SID, to: call.to, from: call.from, status: 'queued', date_created: new Date().toUTCString() });
        }
        const sid = url.pathname.slice(callsBase.length + 1).replace(/\.json$/, '');
        callUpdates.push({ sid, form });
        return json(res, 200, { sid, account_sid: ACCOUNT_SID, status: 'in-progress' });
      }
      if (url.pathname !== `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`) return json(res, 404, { code: 20404, message: 'not found' });
      if (req.method === 'POST') {
        const form = Object.fromEntries(new URLSearchParams(raw));
        if (fake.failMessages) return json(res, 500, { code: 20500, message: 'Internal Server Error' });
        if (!form.To || !form.From || !form.Body) return json(res, 400, { code: 21602, message: 'Message body is required.' });
        const m: FakeMessage = { sid: `SM${randomBytes(16).toString('hex')}`, to: form.To, from: form.From, body: form.Body, statusCallback: form.StatusCallback, createdAt: new Date() };
        messages.push(m);
        if (hold) {
          const h = hold;
          hold = null;
          h.onSent(m);
          await h.gate;
        }
        return json(res, 201, view(m));
      }
      if (req.method === 'GET') {
        const to = url.searchParams.get('To');
        const from = url.searchParams.get('From');
        const after = url.searchParams.get('DateSent>');
        const list = messages.filter((m) => (!to || m.to === to) && (!from || m.from === from) && (!after || m.createdAt >= new Date(new Date(after).getTime() - 1000)));
        return json(res, 200, {
          messages: list.map(view), first_page_uri: url.pathname, next_page_uri: null, previous_page_uri: null,
          page: 0, page_size: 50, start: 0, end: Math.max(0, list.length - 1), uri: url.pathname,
        });
      }
      json(res, 405, { message: 'method not allowed' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fake: FakeTwilio = {
    failCalls: false,
    failMessages: false,
    url,
    messages,
    calls,
    callUpdates,
    requests,
    holdNextSend() {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let onSent!: (m: FakeMessage) => void;
      const sent = new Promise<FakeMessage>((r) => (onSent = r));
      hold = { onSent, gate };
      return { sent, release };
    },
    async sendStatus(sid, status, deliverTo) {
      const m = messages.find((x) => x.sid === sid);
      if (!m?.statusCallback) throw new Error(`no status callback for ${sid}`);
      const params = { MessageSid: sid, MessageStatus: status, AccountSid: ACCOUNT_SID, To: m.to, From: m.from };
      const { headers, body } = signedForm(m.statusCallback, params);
      // The callback URL is the public one; deliver it to wherever the test app listens.
      const res = await fetch(m.statusCallback.replace(/^https?:\/\/[^/]+/, deliverTo), { method: 'POST', headers, body });
      return res.status;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // the twilio client keeps connections alive
      }),
  };
  return fake;
}
