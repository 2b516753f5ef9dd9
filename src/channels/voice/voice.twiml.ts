/** TwiML for the calls we hold and bridge (pure). IVR menus are rendered by src/ivr. */
import { escapeXml as xml } from '../../ivr/render';

const doc = (body: string): string => `<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`;

/** Hold the caller in a Twilio queue named after the interaction; `waitUrl` speaks while they wait. */
export const enqueueTwiml = (interactionId: string, waitUrl: string, greeting?: string): string =>
  doc(`${greeting ? `<Say>${xml(greeting)}</Say>` : ''}<Enqueue waitUrl="${xml(waitUrl)}" waitUrlMethod="POST">${xml(interactionId)}</Enqueue>`);

/**
 * While a caller waits: where they are in line, and the choice of a call back instead (they
 * keep their place). Twilio repeats the wait URL when this ends.
 */
export const waitTwiml = (announcement: string, choiceUrl?: string, pauseSeconds = 15): string =>
  doc(
    `<Say>${xml(announcement)}</Say>` +
      (choiceUrl
        ? `<Gather input="dtmf" numDigits="1" timeout="${pauseSeconds}" action="${xml(choiceUrl)}" method="POST"><Say>To get a call back instead of waiting, and keep your place in line, press 1.</Say></Gather>`
        : `<Pause length="${pauseSeconds}"/>`),
  );

/** The agent's leg: bridge to the caller waiting in the interaction's queue. */
export const bridgeTwiml = (interactionId: string): string => doc(`<Dial><Queue>${xml(interactionId)}</Queue></Dial>`);

export const sayAndHangup = (text: string): string => doc(`<Say>${xml(text)}</Say><Hangup/>`);

/** The agent's leg of a callback: call the customer from our number. */
export const callBackTwiml = (customer: string, ours: string): string => doc(`<Dial callerId="${xml(ours)}"><Number>${xml(customer)}</Number></Dial>`);

/** What a caller hears after leaving a voicemail (the Record action's answer). */
export const afterRecordingTwiml = (): string => doc('<Say>Thank you. Goodbye.</Say><Hangup/>');

/** Take a message; Twilio posts the recording to `actionUrl`. */
export const voicemailTwiml = (prompt: string, actionUrl: string, maxSeconds = 120): string =>
  doc(`<Say>${xml(prompt)}</Say><Record maxLength="${maxSeconds}" action="${xml(actionUrl)}" method="POST" playBeep="true"/><Hangup/>`);
