import { normalizeEmail, normalizeIdentity, normalizePhone } from '../../src/customers/identity';

describe('normalizePhone', () => {
  it.each([
    ['+1 415 555 0100', 'US'],
    ['(415) 555-0100', 'US'],
    ['415.555.0100', 'US'],
    ['001 415 555 0100', 'DE'],
    ['+1-415-555-0100', 'GB'],
  ])('reads %s (region %s) as +14155550100', (raw, region) => {
    expect(normalizePhone(raw, region)).toBe('+14155550100');
  });
  it('uses the default region for national numbers', () => {
    expect(normalizePhone('020 7946 0018', 'GB')).toBe('+442079460018');
    expect(normalizePhone('030 123456', 'DE')).toBe('+4930123456');
  });
  it.each(['', 'abc', '12', '+1 415', 'x'.repeat(50)])('rejects %j', (raw) => {
    expect(normalizePhone(raw, 'US')).toBeNull();
  });
  it('answers the same again, per region, once the spelling has been seen (results are kept)', () => {
    for (let i = 0; i < 3; i++) {
      expect(normalizePhone('020 7946 0018', 'GB')).toBe('+442079460018');
      expect(normalizePhone('020 7946 0018', 'US')).toBeNull();
      expect(normalizePhone(' 020 7946 0018 ', 'GB')).toBe('+442079460018');
      expect(normalizePhone('abc', 'US')).toBeNull();
    }
  });
});

describe('normalizeEmail', () => {
  it('lower-cases and trims', () => {
    expect(normalizeEmail('  Jane.Doe@Example.COM ')).toBe('jane.doe@example.com');
  });
  it.each(['jane', 'jane@', '@example.com', 'a b@example.com', 'jane@example', `${'a'.repeat(250)}@example.com`])('rejects %j', (raw) => {
    expect(normalizeEmail(raw)).toBeNull();
  });
});

describe('normalizeIdentity', () => {
  it('accepts chat visitor ids as they are and rejects malformed ones', () => {
    expect(normalizeIdentity('chat', 'c9cbd88e-1cd0-4d7a-8963-c978f90f2b98', 'US')).toEqual({ ok: true, identity: { kind: 'chat', value: 'c9cbd88e-1cd0-4d7a-8963-c978f90f2b98' } });
    expect(normalizeIdentity('chat', 'short', 'US')).toMatchObject({ ok: false });
    expect(normalizeIdentity('chat', 'has spaces in it', 'US')).toMatchObject({ ok: false });
  });
  it('names the kind in its error', () => {
    expect(normalizeIdentity('phone', 'nope', 'US')).toEqual({ ok: false, message: 'phone is not a valid phone number' });
    expect(normalizeIdentity('email', 'nope', 'US')).toEqual({ ok: false, message: 'email is not a valid email address' });
  });
});
