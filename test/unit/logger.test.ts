import { Writable } from 'node:stream';
import { createLogger, maskPii } from '../../src/platform/logger';

describe('maskPii', () => {
  it('masks emails and phone numbers in free text', () => {
    expect(maskPii('call +1 415 555 0100 or mail Jane.Doe@Example.com')).toBe('call [phone] or mail [email]');
  });
  it('leaves ordinary text and IP addresses alone', () => {
    expect(maskPii('listening at http://127.0.0.1:3000')).toBe('listening at http://127.0.0.1:3000');
  });
});

describe('logged errors', () => {
  it("never carry a database error's detail, which may quote a whole row", () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
    const err = Object.assign(new Error('new row for relation "interactions" violates check constraint'), {
      code: '23514',
      constraint: 'interactions_channel_check',
      detail: 'Failing row contains (a1, Jane Doe, my card number is 4111, ...).',
    });
    createLogger('info', sink).warn({ err }, 'write failed');
    const logged = JSON.parse(lines[0]!);
    expect(logged.err).toMatchObject({ code: '23514', constraint: 'interactions_channel_check', detail: '[redacted]' });
    expect(lines[0]).not.toContain('Jane');
  });
});
