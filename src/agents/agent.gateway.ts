/**
 * The `/agent` and `/supervisor` namespaces' front door: only staff with the right role get in,
 * and each agent socket joins its own room. Offers, replies and stats arrive with the ACD.
 */
import type { Server, Socket } from 'socket.io';
import { connectError, staffAuth } from '../platform/sockets';
import type { StaffClaims, TokenService } from '../platform/auth/tokens';
import type { Metrics } from '../platform/metrics';

export const agentRoom = (agentId: string): string => `agent:${agentId}`;

export function registerStaffNamespaces(deps: { io: Server; tokens: TokenService; metrics: Metrics }): void {
  const agent = deps.io.of('/agent');
  agent.use(staffAuth(deps.tokens, 'agent'));
  agent.use((socket: Socket, next) => {
    const user = (socket.data as { user: StaffClaims }).user;
    if (!user.agentId) return next(connectError('SB_FORBIDDEN', 'this user has no agent profile'));
    next();
  });
  agent.on('connection', (socket) => {
    deps.metrics.socketConnections.inc({ namespace: 'agent' });
    void socket.join(agentRoom((socket.data as { user: StaffClaims }).user.agentId!));
  });

  const supervisor = deps.io.of('/supervisor');
  supervisor.use(staffAuth(deps.tokens, 'supervisor'));
  supervisor.on('connection', (socket) => {
    deps.metrics.socketConnections.inc({ namespace: 'supervisor' });
    void socket.join('supervisors');
  });
}
