/**
 * Boot-time preparation of the database: create it if missing, migrate, and give an empty
 * database its first admin. Safe when several processes start at once.
 */
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import type { Config } from './config';
import { ensureDatabase } from './db';
import type { Logger } from './logger';
import { migrate } from './migrate';
import { hashPassword } from './auth/passwords';
import { countUsers, insertUser } from './auth/users.repository';

export interface PrepareResult {
  created: boolean;
  applied: string[];
  adminCreated: boolean;
}

export async function prepareDatabase(config: Config, pool: Pool, log: Logger): Promise<PrepareResult> {
  const created = await ensureDatabase(config.databaseUrl);
  if (created) log.info('database created');
  const { applied } = await migrate(pool);
  log.info({ applied: applied.length, migrations: applied }, applied.length ? 'migrations applied' : 'schema up to date');
  const adminCreated = await bootstrapAdmin(config, pool, log);
  return { created, applied, adminCreated };
}

async function bootstrapAdmin(config: Config, pool: Pool, log: Logger): Promise<boolean> {
  if ((await countUsers(pool)) > 0) return false;
  const generated = config.adminPassword === undefined;
  const password = config.adminPassword ?? randomBytes(12).toString('base64url');
  const id = await insertUser(pool, { username: config.adminUsername, passwordHash: await hashPassword(password), role: 'admin', agentId: null });
  if (!id) return false; // another process bootstrapped it first
  if (generated) {
    // Printed once, to the console only (never to the structured log).
    process.stdout.write(`\n  Switchboard bootstrap admin: username "${config.adminUsername}", password "${password}"\n  (set ADMIN_PASSWORD to choose it)\n\n`);
  }
  log.info({ username: config.adminUsername }, 'bootstrap admin created');
  return true;
}
