import { chatMessageCommand, parseChatMessage } from '../../src/channels/chat/chat.mapper';

describe('parseChatMessage', () => {
  it('accepts a well-formed message', () => {
    expect(parseChatMessage({ clientMessageId: 'abc-1', text: 'hi' }, 100)).toEqual({ ok: true, value: { clientMessageId: 'abc-1', text: 'hi' } });
  });
  it.each([
    [null, /object/],
    [[1], /object/],
    [{ text: 'x' }, /clientMessageId/],
    [{ clientMessageId: '', text: 'x' }, /clientMessageId/],
    [{ clientMessageId: 'has space', text: 'x' }, /clientMessageId/],
    [{ clientMessageId: 'a'.repeat(101), text: 'x' }, /clientMessageId/],
    [{ clientMessageId: 'a', text: null }, /text must be a string/],
    [{ clientMessageId: 'a', text: '\n\t ' }, /empty/],
  ])('rejects %j', (payload, message) => {
    const r = parseChatMessage(payload, 100);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });
  it('says when a message is too long', () => {
    expect(parseChatMessage({ clientMessageId: 'a', text: 'x'.repeat(11) }, 10)).toMatchObject({ ok: false, code: 'SB_MESSAGE_TOO_LONG' });
  });
});

describe('chatMessageCommand', () => {
  it('keys the event by visitor and client message id, and the conversation by visitor', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const cmd = chatMessageCommand({ visitorId: 'v-12345678', customerId: 'c', pendingInteractionId: 'i', widget: '*', clientMessageId: 'm1', text: 'hi', now });
    expect(cmd).toMatchObject({
      idempotencyKey: 'chat:v-12345678:msg:m1',
      type: 'message.received',
      channel: 'chat',
      direction: 'in',
      occurredAt: now,
      customer: { identity: { kind: 'chat', value: 'v-12345678' }, preferredId: 'c' },
      interaction: { kind: 'conversation', key: 'chat:v-12345678', open: { id: 'i', direction: 'in', entryAddress: '*' } },
    });
  });
});
