import { ConfigError, loadConfig } from '../../src/platform/config';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: 'postgres://postgres@localhost:5432/switchboard',
      redisUrl: 'redis://127.0.0.1:6379',
      publicBaseUrl: 'http://localhost:3000',
      adminUsername: 'admin',
      offerTimeoutSeconds: 20,
      nodeRole: 'all',
      jwtSecretGenerated: true,
      twilio: { apiUrl: 'https://api.twilio.com' },
    });
    expect(c.jwtSecret).toHaveLength(64);
    expect(c.adminPassword).toBeUndefined();
  });

  it('lists every problem at once', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'x', DATABASE_URL: 'mysql://h/db', JWT_SECRET: 'short', TWILIO_ACCOUNT_SID: 'AC1', NODE_ROLE: 'boss', SMTP_URL: 'smtp://h:25' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toHaveLength(6);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('DATABASE_URL must use postgres:'),
        expect.stringContaining('NODE_ROLE'),
        expect.stringContaining('JWT_SECRET'),
        expect.stringContaining('TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN'),
        expect.stringContaining('EMAIL_FROM is required'),
        expect.stringContaining('PORT must be an integer'),
      ]),
    );
  });

  it('trims trailing slashes from base URLs', () => {
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://sb.example.com/', TWILIO_API_URL: 'http://127.0.0.1:9999/' })).toMatchObject({
      publicBaseUrl: 'https://sb.example.com',
      twilio: { apiUrl: 'http://127.0.0.1:9999' },
    });
  });
});
