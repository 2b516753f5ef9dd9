/** A small JSON client for the service's REST API (the public contract, as an admin console would use it). */
import { mapLimit } from './stats';

export type Json = Record<string, unknown>;

export class Api {
  constructor(
    readonly base: string,
    public token: string | null = null,
  ) {}

  async request<T = Json>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  get<T = Json>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T = Json>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  async login(username: string, password: string): Promise<{ token: string; user: { id: string; agentId?: string } }> {
    return this.post('/api/auth/login', { username, password });
  }
}

export type { QueueStats } from '../../src/supervisor/stats.service';

export interface BenchAgent {
  id: string;
  username: string;
  token: string;
}

export interface NewAgents {
  count: number;
  prefix: string;
  queueIds: string[];
  capacity?: Partial<Record<'voice' | 'chat' | 'sms' | 'email', number>>;
  skills?: Record<string, number>;
  wrapupSeconds?: number;
  password?: string;
}

/**
 * Create agents over REST and log each in, `concurrency` at a time. Both calls hash a password
 * (scrypt) on the server, so this is CPU-bound there: ~25 ms of one core per call.
 */
export async function createAgents(admin: Api, spec: NewAgents, concurrency = 6): Promise<BenchAgent[]> {
  const password = spec.password ?? 'bench-agent-password';
  const anon = new Api(admin.base);
  return mapLimit(
    Array.from({ length: spec.count }, (_, k) => `${spec.prefix}${k}`),
    concurrency,
    async (username) => {
      const agent = await admin.post<{ id: string }>('/api/agents', {
        name: username,
        username,
        password,
        queueIds: spec.queueIds,
        ...(spec.capacity ? { capacity: spec.capacity } : {}),
        ...(spec.skills ? { skills: spec.skills } : {}),
        ...(spec.wrapupSeconds !== undefined ? { wrapupSeconds: spec.wrapupSeconds } : {}),
      });
      const { token } = await anon.login(username, password);
      return { id: agent.id, username, token };
    },
  );
}
