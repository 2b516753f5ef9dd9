/** The signed-in user, kept in sessionStorage (per tab, gone when the tab closes). */
import type { LoginResponse } from './types';

export type Session = LoginResponse;

export class SessionStore {
  constructor(private readonly key: string) {}

  load(): Session | null {
    try {
      const raw = sessionStorage.getItem(this.key);
      if (!raw) return null;
      const s = JSON.parse(raw) as Partial<Session>;
      return typeof s.token === 'string' && s.user && typeof s.user.username === 'string' ? (s as Session) : null;
    } catch {
      return null;
    }
  }

  save(s: Session): void {
    sessionStorage.setItem(this.key, JSON.stringify(s));
  }

  clear(): void {
    sessionStorage.removeItem(this.key);
  }
}

export const SESSION_EXPIRED = 'Your session has expired — please sign in again';
