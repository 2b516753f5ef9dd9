import { hashPassword, verifyPassword } from '../../src/platform/auth/passwords';
import jwt from 'jsonwebtoken';
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
  it('issues and accepts the same tokens as a plain HS256 signer with the secret (tokens from other processes and versions stay valid)', () => {
    const plain = jwt.sign({ typ: 'staff', sub: 'u2', username: 'bo', role: 'supervisor' }, 'unit-test-secret-123456', { algorithm: 'HS256', expiresIn: '1h' });
    expect(tokens.verifyStaff(plain)).toMatchObject({ sub: 'u2', role: 'supervisor' });
    const ours = tokens.signVisitor('v-87654321', 'c2');
    expect(jwt.verify(ours, 'unit-test-secret-123456', { algorithms: ['HS256'] })).toMatchObject({ typ: 'visitor', sub: 'v-87654321', cid: 'c2' });
    expect(tokens.verifyStaff(jwt.sign({ typ: 'staff', sub: 'u3', role: 'admin' }, 'wrong-secret-1234567', { algorithm: 'HS256' }))).toBeNull();
    expect(tokens.verifyStaff(jwt.sign({ typ: 'staff', sub: 'u3', role: 'admin' }, 'unit-test-secret-123456', { algorithm: 'HS384' }))).toBeNull();
  });
  it('nests roles: admin ⊇ supervisor ⊇ agent', () => {
    expect(roleAllows('admin', 'supervisor')).toBe(true);
    expect(roleAllows('supervisor', 'agent')).toBe(true);
    expect(roleAllows('agent', 'supervisor')).toBe(false);
    expect(roleAllows('supervisor', 'admin')).toBe(false);
  });
});
