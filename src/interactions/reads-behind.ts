/**
 * A write of messages (one statement) with, right behind it on the same connection, the reads a
 * routing pass for the work it may queue begins with (the router's; see
 * RouterService.wantsReadsBehind). Postgres runs them once the write has committed. With such
 * reads, the write commits without waiting for the WAL, so neither they nor the pass they are
 * for wait for it: it is told `visible` once answered (the pass then starts), and a flush of the
 * WAL sent behind the reads holds back its result, and so its publication and every ack, until
 * it is durable.
 */
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { flushWal, sendTogether, type Queryable } from '../platform/db';
import type { MessageCommand } from './append';
import type { OneStatementOptions } from './append-statement';
import type { Channel, IngestResult } from './events.types';

/** A conversation a message may open: its id (named before the message leaves) and what decides where it waits. */
export interface NewContact {
  id: string;
  channel: Channel;
  entryAddress: string;
  ivr: boolean;
  direction: 'in' | 'out';
  /** Whether it brings skills of its own (attributes.skills). */
  ownSkills: boolean;
}

/**
 * Send, on the connection given, right behind messages just sent there, the reads a routing pass
 * begins with; `opening`: the ids the conversations those messages may open would have, and what
 * decides where each would wait (the router may send a claim for one ahead of those reads: see
 * routing/claim-ahead.ts). Settled once everything sent is answered.
 */
export type ReadsBehind = (db: PoolClient, opening: NewContact[]) => Promise<unknown>;

/** A write of messages in one statement (appendMessagesInOneStatement). */
export type MessagesWrite = (db: Queryable, cmds: MessageCommand[], opts: OneStatementOptions) => Promise<IngestResult[]>;

export interface ReadsBehindOptions {
  /** Where the write runs (a connection of it, kept until everything sent on it is answered). */
  pool: Pool;
  /** Asked right before the write leaves: the reads to send behind it, or null for none. */
  ask: () => ReadsBehind | null;
  /** Told the write's results once it is answered, when it did not wait for the WAL. */
  visible: (results: IngestResult[]) => void;
  /** Where a flush goes should the one on the write's connection fail. */
  fallback: Queryable;
}

/** The router's answer; null should it fail (the reads are its affair: the write goes on without them). */
function askReads(ask: () => ReadsBehind | null): ReadsBehind | null {
  try {
    return ask();
  } catch {
    return null;
  }
}

/** Send the router's reads; null when they failed to go (the write goes on without them). */
function sendReads(reads: ReadsBehind, db: PoolClient, opening: NewContact[]): Promise<unknown> | null {
  try {
    return reads(db, opening);
  } catch {
    return null;
  }
}

/** Run `write` for `cmds` with the reads asked for behind it (see above): its results, once durable. */
export async function writeWithReadsBehind(cmds: MessageCommand[], write: MessagesWrite, opts: ReadsBehindOptions): Promise<IngestResult[]> {
  // The ids their new conversations would get, named here so the reads know them.
  const named = cmds.map((c) => (c.interaction.open.id ? c : { ...c, interaction: { ...c.interaction, open: { ...c.interaction.open, id: randomUUID() } } }));
  const opening = named.map(({ channel, interaction: { open } }): NewContact => ({
    id: open.id!, channel, entryAddress: open.entryAddress, ivr: open.ivr ?? false, direction: open.direction, ownSkills: open.attributes?.skills !== undefined,
  }));
  const client = await opts.pool.connect();
  let broken = false;
  const onError = (): void => {
    broken = true;
  };
  client.on('error', onError);
  // Asked right before the statement leaves, in the same turn: no pass can start in between.
  const reads = askReads(opts.ask);
  // The statement leaves at once (pg sends each statement in one write); the reads and the
  // flush follow in one write of their own once the router has worked out what to read, while
  // Postgres runs it.
  const written = write(client, named, { asyncCommit: reads !== null });
  const sent = reads && sendTogether(client, () => ({ behind: sendReads(reads, client, opening), flushed: flushWal(client) }));
  void Promise.allSettled([written, sent?.behind, sent?.flushed]).then(() => {
    client.off('error', onError);
    client.release(broken);
  });
  const results = await written;
  if (sent) {
    opts.visible(results);
    // Should the flush on this connection fail (the connection lost), one elsewhere flushes the
    // WAL as far: past this commit too.
    await sent.flushed.catch(() => flushWal(opts.fallback));
  }
  return results;
}
