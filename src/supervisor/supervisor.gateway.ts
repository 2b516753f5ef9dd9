/**
 * The `/supervisor` namespace: on connect, and every second while anyone is watching, each
 * process pushes queue and agent figures to its own supervisor sockets.
 */
import type { Namespace, Server } from 'socket.io';
import type { Pool } from 'pg';
import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import { staffAuth } from '../platform/sockets';
import type { TokenService } from '../platform/auth/tokens';
import { agentSummaries, queueStats } from './stats.service';
import type { SupervisorClientToServer, SupervisorServerToClient, SupervisorStats } from './supervisor.types';

export class SupervisorGateway {
  private timer: NodeJS.Timeout | null = null;
  private readonly nsp: Namespace<SupervisorClientToServer, SupervisorServerToClient>;

  constructor(private readonly deps: { io: Server; db: Pool; tokens: TokenService; metrics: Metrics; log: Logger; intervalMs: number }) {
    this.nsp = deps.io.of('/supervisor') as unknown as Namespace<SupervisorClientToServer, SupervisorServerToClient>;
    this.nsp.use(staffAuth(deps.tokens, 'supervisor') as never);
    this.nsp.on('connection', (socket) => {
      deps.metrics.socketConnections.inc({ namespace: 'supervisor' });
      void this.snapshot().then((s) => socket.emit('stats', s), (err) => deps.log.warn({ err }, 'stats snapshot failed'));
    });
    this.timer = setInterval(() => void this.push(), deps.intervalMs);
    this.timer.unref();
  }

  private async snapshot(): Promise<SupervisorStats> {
    const [queues, agents] = await Promise.all([queueStats(this.deps.db), agentSummaries(this.deps.db)]);
    return { queues, agents, at: new Date().toISOString() };
  }

  private async push(): Promise<void> {
    if (this.nsp.sockets.size === 0) return;
    try {
      this.nsp.local.emit('stats', await this.snapshot());
    } catch (err) {
      this.deps.log.warn({ err }, 'stats push failed');
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
