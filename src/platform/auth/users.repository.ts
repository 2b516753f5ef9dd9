import type { Queryable } from '../db';
import type { Role } from './tokens';

export interface UserRecord {
  id: string;
  username: string;
  passwordHash: string;
  role: Role;
  agentId: string | null;
}

export async function findUserByUsername(db: Queryable, username: string): Promise<UserRecord | null> {
  const { rows } = await db.query<{ id: string; username: string; password_hash: string; role: Role; agent_id: string | null }>(
    'SELECT id, username, password_hash, role, agent_id FROM users WHERE username = $1',
    [username],
  );
  const r = rows[0];
  return r ? { id: r.id, username: r.username, passwordHash: r.password_hash, role: r.role, agentId: r.agent_id } : null;
}

/** Returns the new user's id, or null when the username is taken. */
export async function insertUser(db: Queryable, u: { username: string; passwordHash: string; role: Role; agentId: string | null }): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO users (username, password_hash, role, agent_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (username) DO NOTHING RETURNING id`,
    [u.username, u.passwordHash, u.role, u.agentId],
  );
  return rows[0]?.id ?? null;
}

export async function countUsers(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM users');
  return Number(rows[0]?.n ?? 0);
}

export async function updateUserByAgent(db: Queryable, agentId: string, u: { passwordHash?: string; role?: Role }): Promise<void> {
  await db.query(
    'UPDATE users SET password_hash = COALESCE($2, password_hash), role = COALESCE($3, role) WHERE agent_id = $1',
    [agentId, u.passwordHash ?? null, u.role ?? null],
  );
}
