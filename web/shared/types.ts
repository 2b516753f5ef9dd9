/**
 * What the pages exchange with Switchboard, typed from the server's own definitions (`import
 * type` only: nothing of the server is bundled).
 */
import type { Socket } from 'socket.io-client';
import type { AgentClientToServer, AgentServerToClient, OfferPayload } from '../../src/agents/agent.types';
import type { ChatClientToServer, ChatServerToClient } from '../../src/channels/chat/chat.types';
import type { SupervisorClientToServer, SupervisorServerToClient, SupervisorStats } from '../../src/supervisor/supervisor.types';
import type { AgentSummary, QueueStats } from '../../src/supervisor/stats.service';
import type { CustomerView } from '../../src/customers/customers.service';
import type { HistoryItem } from '../../src/interactions/history.mapper';
import type { Identity, InteractionState } from '../../src/interactions/events.types';
import type { ErrorBody } from '../../src/platform/errors';

export type { OfferPayload, SupervisorStats, AgentSummary, QueueStats, CustomerView, HistoryItem, Identity, InteractionState, ErrorBody };
export type { ChatClientToServer, ChatServerToClient };

export type AgentSocket = Socket<AgentServerToClient, AgentClientToServer>;
export type SupervisorSocket = Socket<SupervisorServerToClient, SupervisorClientToServer>;
export type AgentMessage = Parameters<AgentServerToClient['interaction:message']>[0];
export type AgentStateEvent = Parameters<AgentServerToClient['state']>[0];
export type AgentState = Parameters<AgentClientToServer['state:set']>[0]['state'];

/** POST /api/auth/login */
export interface LoginResponse {
  token: string;
  user: { id: string; username: string; role: 'admin' | 'supervisor' | 'agent'; agentId?: string };
}

/** GET /api/interactions/:id (dates as ISO strings). */
export interface InteractionView {
  id: string;
  customerId: string;
  channel: 'voice' | 'sms' | 'email' | 'chat';
  direction: string;
  state: InteractionState;
  queueId: string | null;
  agentId: string | null;
  subject: string | null;
  createdAt: string;
  closedAt: string | null;
}

/** GET /api/queues/names */
export interface QueueName {
  id: string;
  name: string;
  channels: string[];
}

/** GET /api/softphone/token */
export interface SoftphoneToken {
  token: string;
  identity: string;
  expiresInSeconds: number;
}
