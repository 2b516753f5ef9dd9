import { hashPassword, verifyPassword } from '../../src/platform/auth/passwords';
import { TokenService, roleAllows } from '../../src/platform/auth/tokens';

describe('passwords', () => {
  it('verifies the right password and rejects a wrong one; hashes are salted', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('wrong horse', a)).toBe(false);
    expect(await verifyPassword('x', 'not-a-hash')).toBe(false);
  });
});

describe('tokens', () => {
  const tokens = new TokenService('unit-test-secret-123456');
  it('keeps staff and visitor tokens apart', () => {
    const staff = tokens.signStaff({ sub: 'u1', username: 'amy', role: 'agent', agentId: 'a1' });
    const visitor = tokens.signVisitor('v-12345678', 'c1');
    expect(tokens.verifyStaff(staff)).toMatchObject({ sub: 'u1', role: 'agent', agentId: 'a1' });
    expect(tokens.verifyVisitor(visitor)).toMatchObject({ sub: 'v-12345678', cid: 'c1' });
    expect(tokens.verifyStaff(visitor)).toBeNull();
    expect(tokens.verifyVisitor(staff)).toBeNull();
    expect(new TokenService('another-secret-123456').verifyStaff(staff)).toBeNull();
  });
  it('nests roles: admin ⊇ supervisor ⊇ agent', () => {
    expect(roleAllows('admin', 'supervisor')).toBe(true);
    expect(roleAllows('supervisor', 'agent')).toBe(true);
    expect(roleAllows('agent', 'supervisor')).toBe(false);
    expect(roleAllows('supervisor', 'admin')).toBe(false);
  });
});
