/** The `/supervisor` namespace's typed event maps (see API.md). */
import type { AgentSummary, QueueStats } from './stats.service';

export interface SupervisorStats {
  queues: QueueStats[];
  agents: AgentSummary[];
  at: string;
}

export interface SupervisorServerToClient {
  stats: (s: SupervisorStats) => void;
}

/** Wallboards only listen. */
export type SupervisorClientToServer = Record<string, never>;
