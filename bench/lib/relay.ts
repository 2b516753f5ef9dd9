/**
 * The bare socket.io relay baseline (bench/baselines/socket-relay.ts) on a scratch database of
 * its own, started for one measurement and dropped afterwards.
 */
import type { ChildProcess } from 'node:child_process';
import { Pool } from 'pg';
import { freePort } from '../../test/support/process';
import { spawnTsx } from './worker';

export interface Relay {
  url: string;
  child: ChildProcess;
  /** Its scratch database (its Postgres backends' titles name it). */
  dbName: string;
  stop(): Promise<void>;
}

export async function startRelay(): Promise<Relay> {
  const adminUrl = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
  const dbName = `sb_bench_relay_${process.pid}_${Date.now().toString(36)}`;
  const admin = new Pool({ connectionString: `${adminUrl}/postgres`, max: 1 });
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const port = await freePort();
  const server = await spawnTsx(['bench/baselines/socket-relay.ts', String(port), `${adminUrl}/${dbName}`]);
  return {
    url: `http://127.0.0.1:${port}`,
    child: server.child,
    dbName,
    async stop() {
      await server.stop();
      await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
      await admin.end();
    },
  };
}
