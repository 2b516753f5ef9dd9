import twilio from 'twilio';
import { validSignature } from '../../src/channels/twilio/twilio.plugin';

const TOKEN = 'test-auth-token-0123456789abcdef';
const params = { From: '+14155550100', To: '+15005550006', Body: "it's me", MessageSid: 'SM0123' };
const sign = (url: string, p: Record<string, string> = params) => twilio.getExpectedTwilioSignature(TOKEN, url, p);

describe('validSignature', () => {
  it('accepts the signature over the URL as configured, with or without a port', () => {
    for (const url of ['https://cc.example.com/twilio/sms', 'http://127.0.0.1:3000/twilio/sms', 'https://cc.example.com/twilio/sms/status?outboxId=abc']) {
      expect(validSignature(TOKEN, sign(url), url, params)).toBe(true);
    }
  });

  it('accepts what twilio.validateRequest accepts beyond the exact URL (the port added or taken away)', () => {
    expect(validSignature(TOKEN, sign('https://cc.example.com:443/twilio/sms'), 'https://cc.example.com/twilio/sms', params)).toBe(true);
    expect(validSignature(TOKEN, sign('http://127.0.0.1/twilio/sms'), 'http://127.0.0.1:80/twilio/sms', params)).toBe(true);
  });

  it('refuses a signature over other parameters, another URL, another token, or no signature at all', () => {
    const url = 'http://127.0.0.1:3000/twilio/sms';
    expect(validSignature(TOKEN, sign(url, { ...params, Body: 'changed' }), url, params)).toBe(false);
    expect(validSignature(TOKEN, sign('http://127.0.0.1:3000/twilio/voice'), url, params)).toBe(false);
    expect(validSignature(TOKEN, twilio.getExpectedTwilioSignature('another-token', url, params), url, params)).toBe(false);
    expect(validSignature(TOKEN, '', url, params)).toBe(false);
    expect(validSignature(TOKEN, 'short', url, params)).toBe(false);
  });
});
