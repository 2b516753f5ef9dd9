/** The agent directory: an agent and its login are created and changed together. */
import type { Pool } from 'pg';
import { withTransaction } from '../platform/db';
import { AppError, notFound } from '../platform/errors';
import { hashPassword } from '../platform/auth/passwords';
import { insertUser, updateUserByAgent } from '../platform/auth/users.repository';
import { existingQueueIds } from '../routing/queues.repository';
import type { Channel } from '../interactions/events.types';
import {
  findAgent,
  insertAgent,
  listAgents,
  setAgentQueues,
  updateAgent,
  type AgentRecord,
  type Capacity,
} from './agents.repository';

export const DEFAULT_CAPACITY: Capacity = { voice: 1, chat: 3, sms: 3, email: 5 };

export interface NewAgentInput {
  name: string;
  username: string;
  password: string;
  role?: 'agent' | 'supervisor';
  skills?: Record<string, number>;
  queueIds: string[];
  capacity?: Partial<Record<Channel, number>>;
  wrapupSeconds?: number;
}

export type AgentPatch = Partial<Omit<NewAgentInput, 'username'>>;

export class AgentsService {
  constructor(private readonly db: Pool) {}

  list(): Promise<AgentRecord[]> {
    return listAgents(this.db);
  }

  async get(id: string): Promise<AgentRecord> {
    const agent = await findAgent(this.db, id);
    if (!agent) throw notFound('agent', id);
    return agent;
  }

  async create(input: NewAgentInput): Promise<AgentRecord> {
    const passwordHash = await hashPassword(input.password);
    const id = await withTransaction(this.db, async (tx) => {
      await this.checkQueues(tx, input.queueIds);
      const agentId = await insertAgent(tx, {
        name: input.name,
        skills: input.skills ?? {},
        capacity: { ...DEFAULT_CAPACITY, ...input.capacity },
        wrapupSeconds: input.wrapupSeconds ?? 30,
      });
      const userId = await insertUser(tx, { username: input.username, passwordHash, role: input.role ?? 'agent', agentId });
      if (!userId) throw new AppError('SB_ALREADY_EXISTS', `username ${input.username} is taken`);
      await setAgentQueues(tx, agentId, input.queueIds);
      return agentId;
    });
    return this.get(id);
  }

  async patch(id: string, p: AgentPatch): Promise<AgentRecord> {
    const current = await this.get(id);
    const passwordHash = p.password !== undefined ? await hashPassword(p.password) : undefined;
    await withTransaction(this.db, async (tx) => {
      if (p.queueIds) {
        await this.checkQueues(tx, p.queueIds);
        await setAgentQueues(tx, id, p.queueIds);
      }
      await updateAgent(tx, id, {
        name: p.name,
        skills: p.skills,
        capacity: p.capacity ? { ...current.capacity, ...p.capacity } : undefined,
        wrapupSeconds: p.wrapupSeconds,
      });
      if (passwordHash !== undefined || p.role !== undefined) await updateUserByAgent(tx, id, { passwordHash, role: p.role });
    });
    return this.get(id);
  }

  private async checkQueues(tx: Parameters<typeof existingQueueIds>[0], queueIds: string[]): Promise<void> {
    if (queueIds.length === 0) return;
    const found = await existingQueueIds(tx, queueIds);
    const unknown = queueIds.filter((q) => !found.has(q));
    if (unknown.length > 0) throw new AppError('SB_VALIDATION', `body.queueIds names unknown queues: ${unknown.join(', ')}`);
  }
}
