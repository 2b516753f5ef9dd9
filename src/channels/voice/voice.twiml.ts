/** TwiML for the calls we hold and bridge (pure). IVR menus are rendered by src/ivr. */
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
export const xml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
const doc = (body: string): string => `<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`;

/** Hold the caller in a Twilio queue named after the interaction; `waitUrl` speaks while they wait. */
export const enqueueTwiml = (interactionId: string, waitUrl: string, greeting?: string): string =>
  doc(`${greeting ? `<Say>${xml(greeting)}</Say>` : ''}<Enqueue waitUrl="${xml(waitUrl)}" waitUrlMethod="POST">${xml(interactionId)}</Enqueue>`);

export const waitTwiml = (announcement: string, pauseSeconds = 15): string => doc(`<Say>${xml(announcement)}</Say><Pause length="${pauseSeconds}"/>`);

/** The agent's leg: bridge to the caller waiting in the interaction's queue. */
export const bridgeTwiml = (interactionId: string): string => doc(`<Dial><Queue>${xml(interactionId)}</Queue></Dial>`);

export const sayAndHangup = (text: string): string => doc(`<Say>${xml(text)}</Say><Hangup/>`);
