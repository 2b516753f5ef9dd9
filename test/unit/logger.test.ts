import { maskPii } from '../../src/platform/logger';

describe('maskPii', () => {
  it('masks emails and phone numbers in free text', () => {
    expect(maskPii('call +1 415 555 0100 or mail Jane.Doe@Example.com')).toBe('call [phone] or mail [email]');
  });
  it('leaves ordinary text and IP addresses alone', () => {
    expect(maskPii('listening at http://127.0.0.1:3000')).toBe('listening at http://127.0.0.1:3000');
  });
});
