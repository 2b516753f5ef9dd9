/**
 * Agent connection presence across processes: each process refreshes a Redis key with a TTL of
 * the grace period for every agent it has a socket for. A key that lapses means the agent has
 * been gone (disconnected, or its process died) for the whole grace period.
 *
 * Redis may also lose every key at once (a restart of a Redis that keeps nothing on disk, a
 * failover, a flush): the processes put their agents' keys back within a refresh, and until
 * then an absent key proves nothing. So a key without a TTL notes since when presence has been
 * kept (set by whichever process finds it missing first), and absences count only once a
 * refresh round and a half has passed since then.
 */
import type { Redis } from 'ioredis';
import type { Namespace } from 'socket.io';
import type { Logger } from '../platform/logger';

export class Presence {
  private timer: NodeJS.Timeout | null = null;
  private nsp: Namespace | null = null;

  /** How often each process refreshes the presence of the agents it holds sockets for. */
  private readonly refreshMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly graceMs: number,
    private readonly log: Logger,
  ) {
    this.refreshMs = Math.max(100, Math.min(2000, Math.floor(graceMs / 3)));
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

  private async refresh(): Promise<void> {
    if (!this.nsp) return;
    const agentIds = new Set<string>();
    for (const socket of this.nsp.sockets.values()) {
      const id = (socket.data as { user?: { agentId?: string } }).user?.agentId;
      if (id) agentIds.add(id);
    }
    if (agentIds.size === 0) return;
    const pipeline = this.redis.pipeline().set(this.sinceKey, String(Date.now()), 'NX');
    for (const id of agentIds) pipeline.set(this.key(id), '1', 'PX', this.graceMs);
    try {
      await pipeline.exec();
    } catch (err) {
      this.log.warn({ err }, 'presence refresh failed');
    }
  }

  /**
   * Of these agents, the ones with no live presence; none until presence has been kept for a
   * refresh round and a half (the half for clocks and timers running late), since Redis may
   * have lost the keys that the processes are about to put back.
   */
  async absent(agentIds: string[]): Promise<string[]> {
    if (agentIds.length === 0) return [];
    const now = Date.now();
    const replies = await this.redis.pipeline().set(this.sinceKey, String(now), 'NX').get(this.sinceKey).mget(agentIds.map((id) => this.key(id))).exec();
    const failed = replies?.find(([err]) => err);
    if (!replies || failed) throw failed?.[0] ?? new Error('presence read got no answer');
    const since = Number(replies[1]![1] ?? now);
    if (!(now - since >= 1.5 * this.refreshMs)) return [];
    const values = replies[2]![1] as Array<string | null>;
    return agentIds.filter((_, i) => values[i] === null);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
