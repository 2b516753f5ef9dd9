/**
 * socket.io clients as consoles and chat widgets use them: websocket transport only, one
 * connection per agent or visitor (`forceNew`: no multiplexing of several "people" on one
 * connection), no automatic reconnection (a bench wants to see a drop, not hide it).
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type { AgentClientToServer, AgentServerToClient } from '../../src/agents/agent.types';
import type { ChatClientToServer, ChatServerToClient, ChatSession } from '../../src/channels/chat/chat.types';

export type AgentSocket = Socket<AgentServerToClient, AgentClientToServer>;
export type VisitorSocket = Socket<ChatServerToClient, ChatClientToServer>;

export interface AckReply {
  ok: boolean;
  error?: { code: string; message: string };
  [k: string]: unknown;
}

const OPTIONS: Partial<ManagerOptions & SocketOptions> = { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 60000 };

function connected<S extends Socket>(socket: S): Promise<S> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

export function connectAgent(url: string, token: string): Promise<AgentSocket> {
  return connected(io(`${url}/agent`, { ...OPTIONS, auth: { token } }) as AgentSocket);
}

/** A chat visitor that has its session (a first visit when `visitorToken` is absent). */
export async function connectVisitor(url: string, auth: { widget?: string; visitorToken?: string } = {}): Promise<{ socket: VisitorSocket; session: ChatSession }> {
  const socket = io(`${url}/chat`, { ...OPTIONS, auth }) as VisitorSocket;
  const session = new Promise<ChatSession>((resolve) => socket.once('session', resolve));
  await connected(socket);
  return { socket, session: await session };
}

/** Emit with an acknowledgement; a timeout or transport error comes back as `{ok: false}`. */
export async function emitAck(socket: Socket, event: string, payload: unknown, ms = 30000): Promise<AckReply> {
  try {
    return (await socket.timeout(ms).emitWithAck(event, payload)) as AckReply;
  } catch (err) {
    return { ok: false, error: { code: 'BENCH_TIMEOUT', message: err instanceof Error ? err.message : String(err) } };
  }
}
