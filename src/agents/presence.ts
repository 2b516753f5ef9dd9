/**
 * Agent connection presence across processes: each process refreshes a Redis key with a TTL of
 * the grace period for every agent it has a socket for. A key that lapses means the agent has
 * been gone (disconnected, or its process died) for the whole grace period.
 */
import type { Redis } from 'ioredis';
import type { Namespace } from 'socket.io';
import type { Logger } from '../platform/logger';

export class Presence {
  private timer: NodeJS.Timeout | null = null;
  private nsp: Namespace | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly graceMs: number,
    private readonly log: Logger,
  ) {}

  key(agentId: string): string {
    return `${this.keyPrefix}:presence:${agentId}`;
  }

  connected(agentId: string): void {
    this.redis.set(this.key(agentId), '1', 'PX', this.graceMs).catch((err) => this.log.warn({ err }, 'presence update failed'));
  }

  /** Keep refreshing the agents with sockets on this process. */
  start(nsp: Namespace): void {
    this.nsp = nsp;
    const every = Math.max(100, Math.min(2000, Math.floor(this.graceMs / 3)));
    this.timer = setInterval(() => void this.refresh(), every);
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
    const pipeline = this.redis.pipeline();
    for (const id of agentIds) pipeline.set(this.key(id), '1', 'PX', this.graceMs);
    try {
      await pipeline.exec();
    } catch (err) {
      this.log.warn({ err }, 'presence refresh failed');
    }
  }

  /** Of these agents, the ones with no live presence. */
  async absent(agentIds: string[]): Promise<string[]> {
    if (agentIds.length === 0) return [];
    const values = await this.redis.mget(agentIds.map((id) => this.key(id)));
    return agentIds.filter((_, i) => values[i] === null);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
