/** Inbound SMS webhooks signed the way Twilio signs them (X-Twilio-Signature over PUBLIC_BASE_URL + path). */
import twilio from 'twilio';

export interface SmsWebhook {
  /** Unique per message: Twilio's MessageSid (34 chars, "SM" + 32). */
  sid: string;
  from: string;
  to: string;
  body: string;
}

/** A distinct, possible US number per index (+1 415 2xx xxxx), for senders that must not collide. */
export const senderNumber = (n: number): string => `+1415${(2000000 + n).toString()}`;

/** A MessageSid from a run tag and a counter: "SM" + 32 characters. */
export const messageSid = (tag: string, n: number): string => `SM${tag}${n.toString(16).padStart(32 - tag.length, '0')}`;

export function signedSmsRequest(m: SmsWebhook, authToken: string, publicBase: string): { body: string; headers: Record<string, string> } {
  const params: Record<string, string> = { MessageSid: m.sid, From: m.from, To: m.to, Body: m.body };
  const signature = twilio.getExpectedTwilioSignature(authToken, `${publicBase}/twilio/sms`, params);
  return { body: new URLSearchParams(params).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature } };
}

/** Post one inbound SMS to `url` (a service process); resolves to the HTTP status. */
export async function postSms(url: string, m: SmsWebhook, authToken: string, publicBase: string): Promise<number> {
  const { body, headers } = signedSmsRequest(m, authToken, publicBase);
  const res = await fetch(`${url}/twilio/sms`, { method: 'POST', body, headers });
  await res.arrayBuffer();
  return res.status;
}
