/**
 * The one file that talks to Twilio's REST API. Every request's origin is rewritten to
 * TWILIO_API_URL, so tests (and proxies) can stand in for api.twilio.com.
 */
import twilio from 'twilio';

export interface SentMessage {
  sid: string;
  status: string;
}

export interface ListedMessage {
  sid: string;
  body: string;
  dateCreated: Date;
}

/** What Switchboard needs from an SMS provider. */
export interface SmsProvider {
  send(m: { to: string; from: string; body: string; statusCallback: string }): Promise<SentMessage>;
  /** Messages sent from `from` to `to` since `since` (for reconciling an interrupted send). */
  listSent(m: { to: string; from: string; since: Date }): Promise<ListedMessage[]>;
}

/** What Switchboard needs from a voice provider. */
export interface VoiceProvider {
  /** Ring a softphone (`client:<identity>`); when answered Twilio fetches `url` for the leg's TwiML. */
  dial(m: { to: string; from: string; url: string; statusCallback?: string }): Promise<{ sid: string }>;
  /** Replace what a live call is doing with new TwiML (a transfer back into a queue). */
  redirect(callSid: string, twiml: string): Promise<void>;
}

/** A provider error that retrying will not fix (bad number, rejected content). */
export class PermanentSendError extends Error {}

type TwilioRequestClient = InstanceType<typeof twilio.RequestClient>;

/** A RequestClient whose every request goes to `base` instead of *.twilio.com. */
function rebasedRequestClient(base: string): TwilioRequestClient {
  const client = new twilio.RequestClient();
  const original = client.request.bind(client);
  const target = new URL(base);
  client.request = ((opts: { uri: string }) => {
    const uri = new URL(opts.uri);
    uri.protocol = target.protocol;
    uri.host = target.host;
    return original({ ...opts, uri: uri.toString() } as Parameters<TwilioRequestClient['request']>[0]);
  }) as TwilioRequestClient['request'];
  return client;
}

export function createTwilioSms(opts: { accountSid: string; authToken: string; apiUrl: string }): SmsProvider {
  const client = twilio(opts.accountSid, opts.authToken, {
    httpClient: opts.apiUrl === 'https://api.twilio.com' ? undefined : rebasedRequestClient(opts.apiUrl),
  });
  return {
    async send(m) {
      try {
        const msg = await client.messages.create({ to: m.to, from: m.from, body: m.body, statusCallback: m.statusCallback });
        return { sid: msg.sid, status: msg.status };
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
          throw new PermanentSendError(`provider rejected the message (${status})`);
        }
        throw err;
      }
    },
    async listSent(m) {
      const list = await client.messages.list({ to: m.to, from: m.from, dateSentAfter: m.since, limit: 50 });
      return list.map((x) => ({ sid: x.sid, body: x.body, dateCreated: x.dateCreated }));
    },
  };
}

export function createTwilioVoice(opts: { accountSid: string; authToken: string; apiUrl: string }): VoiceProvider {
  const client = twilio(opts.accountSid, opts.authToken, {
    httpClient: opts.apiUrl === 'https://api.twilio.com' ? undefined : rebasedRequestClient(opts.apiUrl),
  });
  return {
    async dial(m) {
      const call = await client.calls.create({
        to: m.to, from: m.from, url: m.url, method: 'POST',
        ...(m.statusCallback ? { statusCallback: m.statusCallback, statusCallbackMethod: 'POST', statusCallbackEvent: ['completed'] } : {}),
      });
      return { sid: call.sid };
    },
    async redirect(callSid, twiml) {
      await client.calls(callSid).update({ twiml });
    },
  };
}
