/** The `/chat` namespace's typed event maps (see API.md). */
import type { ErrorBody } from '../../platform/errors';
import type { ChatMessage } from '../../interactions/history.mapper';

export type AckResponse<T extends object = object> = ({ ok: true } & T) | { ok: false; error: ErrorBody };

export interface ChatHandshakeAuth {
  visitorToken?: string;
  /** The widget (entry point address) this chat came from; '*' when absent. */
  widget?: string;
  /** Highest message `seq` the client has; messages after it are replayed. Absent: all. */
  lastSeq?: number;
}

export interface ChatSession {
  visitorToken: string;
  customerId: string;
  interactionId: string;
}

export interface ChatServerToClient {
  session: (s: ChatSession) => void;
  message: (m: ChatMessage) => void;
  ended: (e: { interactionId: string; at: string }) => void;
}

export interface ChatClientToServer {
  message: (
    m: { clientMessageId: string; text: string },
    ack: (r: AckResponse<{ messageId: string; duplicate: boolean; interactionId: string; seq: number | null }>) => void,
  ) => void;
  end: (m: Record<string, never>, ack: (r: AckResponse) => void) => void;
}
