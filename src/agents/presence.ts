/**
 * Agent connection presence across processes: each process refreshes a Redis key with a TTL of
 * the grace period for every agent it has a socket for. A key that lapses means the agent has
 * been gone (disconnected, or its process died) for the whole grace period.
 *
 * Redis may also lose every key at once (a restart of a Redis that keeps nothing on disk, a
 * failover, a flush), or keep its data but be out of reach for longer than the grace period,
 * expiring every key meanwhile: the processes put their agents' keys back within a refresh of
 * reaching it again, and until then an absent key proves nothing. The processes reconnect at
 * different moments, up to REDIS_RETRY_MAX_MS apart. So absences count only once that long and
 * a refresh round and a half (the half for clocks and timers running late) have passed both
 * since presence has been kept (a key without a TTL notes since when, set by whichever process
 * finds it missing first) and since this process's connection to Redis was last ready.
 */
import type { Redis } from 'ioredis';
import type { Namespace } from 'socket.io';
import type { Logger } from '../platform/logger';
import { execAll, REDIS_RETRY_MAX_MS } from '../platform/redis';

export class Presence {
  private timer: NodeJS.Timeout | null = null;
  private nsp: Namespace | null = null;

  /** How often each process refreshes the presence of the agents it holds sockets for. */
  private readonly refreshMs: number;
  /** Since when this process's connection to Redis has been ready (null: it is not). */
  private reachableSince: number | null;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly graceMs: number,
    private readonly log: Logger,
  ) {
    this.refreshMs = Math.max(100, Math.min(2000, Math.floor(graceMs / 3)));
    this.reachableSince = redis.status === 'ready' ? Date.now() : null;
    redis.on('ready', () => (this.reachableSince = Date.now()));
    redis.on('close', () => (this.reachableSince = null));
  }

  key(agentId: string): string {
    return `${this.keyPrefix}:presence:${agentId}`;
  }

  /** Since when presence has been kept (ms since the epoch; no TTL): see the module comment. */
  private get sinceKey(): string {
    return `${this.keyPrefix}:presence-kept-since`;
  }

  connected(agentId: string): void {
    this.redis.set(this.key(agentId), '1', 'PX', this.graceMs).catch((err) => this.log.warn({ err }, 'presence update failed'));
  }

  /** Keep refreshing the agents with sockets on this process. */
  start(nsp: Namespace): void {
    this.nsp = nsp;
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  /** One refresh: the agents with sockets here, and the note of since when presence is kept (even with no agents). */
  private async refresh(): Promise<void> {
    if (!this.nsp) return;
    const agentIds = new Set<string>();
    for (const socket of this.nsp.sockets.values()) {
      const id = (socket.data as { user?: { agentId?: string } }).user?.agentId;
      if (id) agentIds.add(id);
    }
    const pipeline = this.redis.pipeline().set(this.sinceKey, String(Date.now()), 'NX');
    for (const id of agentIds) pipeline.set(this.key(id), '1', 'PX', this.graceMs);
    try {
      await execAll(pipeline);
    } catch (err) {
      this.log.warn({ err }, 'presence refresh failed');
    }
  }

  /**
   * Of these agents, the ones with no live presence; none until presence has been kept, and
   * this process's connection ready, for long enough that every process has put back the keys
   * Redis lost or let expire (see the module comment).
   */
  async absent(agentIds: string[]): Promise<string[]> {
    if (agentIds.length === 0) return [];
    const now = Date.now();
    const settled = (since: number | null) => since !== null && now - since >= REDIS_RETRY_MAX_MS + 1.5 * this.refreshMs;
    if (!settled(this.reachableSince)) return [];
    const [kept, values] = (await execAll(this.redis.pipeline().get(this.sinceKey).mget(agentIds.map((id) => this.key(id))))) as [string | null, Array<string | null>];
    if (!settled(kept === null ? null : Number(kept))) return [];
    return agentIds.filter((_, i) => values[i] === null);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
