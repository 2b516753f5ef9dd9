import { parseOfferRef, parseReply, parseStateSet, parseTransfer, parseWrapup } from '../../src/agents/agent.mapper';

const ID = '3f2b6c1e-9d4a-4b7e-8a1f-2c3d4e5f6a7b';

describe('agent console payloads', () => {
  it.each<[string, () => { ok: boolean }, boolean]>([
    ['offer id ok', () => parseOfferRef({ offerId: ID }), true],
    ['offer id missing', () => parseOfferRef({}), false],
    ['offer id not a uuid', () => parseOfferRef({ offerId: 'x' }), false],
    ['state available', () => parseStateSet({ state: 'available' }), true],
    ['state away with reason', () => parseStateSet({ state: 'away', reason: 'lunch' }), true],
    ['state unknown', () => parseStateSet({ state: 'busy' }), false],
    ['state reason empty', () => parseStateSet({ state: 'away', reason: '' }), false],
    ['reply ok', () => parseReply({ interactionId: ID, clientMessageId: 'c1', text: 'hi' }, 10), true],
    ['reply blank', () => parseReply({ interactionId: ID, clientMessageId: 'c1', text: '  ' }, 10), false],
    ['reply too long', () => parseReply({ interactionId: ID, clientMessageId: 'c1', text: 'x'.repeat(11) }, 10), false],
    ['reply without client id', () => parseReply({ interactionId: ID, text: 'hi' }, 10), false],
    ['wrapup bare', () => parseWrapup({ interactionId: ID }), true],
    ['wrapup disposition not a string', () => parseWrapup({ interactionId: ID, disposition: 3 }), false],
    ['transfer ok', () => parseTransfer({ interactionId: ID, queueId: ID }), true],
    ['transfer without queue', () => parseTransfer({ interactionId: ID }), false],
    ['not an object', () => parseTransfer('x'), false],
  ])('%s', (_name, parse, ok) => {
    expect(parse().ok).toBe(ok);
  });
  it('names the field in its message', () => {
    expect(parseTransfer({ interactionId: ID })).toEqual({ ok: false, message: 'queueId must be a queue id (uuid)' });
  });
});
