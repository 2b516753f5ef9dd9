/**
 * After-commit publication. Committed events are appended to a capped Redis stream for
 * consumers in any process, and handed to in-process listeners at the same time (which fan out to sockets
 * through the socket.io Redis adapter). A publish failure never un-commits anything: it is
 * logged, and live consumers catch up from Postgres (chat replay, routing sweep).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../platform/logger';
import { execAll } from '../platform/redis';
import type { InteractionRecord, StoredEvent } from './events.types';

/** `interaction` is the interaction as locked by the write (its agent, queue and state before the change). */
export type EventListener = (event: StoredEvent, interaction: InteractionRecord | null) => void | Promise<void>;

export const STREAM_MAXLEN = 100000;

export class EventPublisher {
  private readonly listeners: EventListener[] = [];
  private readonly visibleListeners: Array<(event: StoredEvent) => void> = [];
  /** Events already handed to the visible listeners (see announce), not to be handed again. */
  private readonly announced = new WeakSet<StoredEvent>();
  /** The latest stream append (each is answered after the ones issued before it). */
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly streamKey: string,
    private readonly log: Logger,
  ) {}

  on(listener: EventListener): void {
    this.listeners.push(listener);
  }

  /**
   * A listener told of each event once it is committed and visible to other sessions, which may
   * be before it is durable (see announce), and in any case before the `on` listeners: for what
   * may act on it early, since a crash of Postgres that lost the event also loses whatever was
   * done in the database on its account (a routing pass, which writes only after it, and commits
   * later in the WAL). Called once per event, synchronously; it must not throw.
   */
  onVisible(listener: (event: StoredEvent) => void): void {
    this.visibleListeners.push(listener);
  }

  /**
   * Tell the visible listeners of events committed but perhaps not yet durable (their commit
   * did not wait for the WAL); publish them later, once durable. Each event is told once.
   */
  announce(events: StoredEvent[]): void {
    for (const e of events) {
      if (this.announced.has(e)) continue;
      this.announced.add(e);
      for (const listener of this.visibleListeners) {
        try {
          listener(e);
        } catch (err) {
          this.log.warn({ err, eventId: e.id, type: e.type }, 'event listener failed');
        }
      }
    }
  }

  async publish(events: StoredEvent[], interaction: InteractionRecord | null = null): Promise<void> {
    await this.publishAll([{ events, interaction }]);
  }

  /**
   * Several writes' events (each with the interaction as its write locked it), in order: one
   * stream append for all of them, listeners called event by event. Resolves once the listeners
   * are done; the stream append is not waited for (see `appended`).
   */
  async publishAll(writes: Array<{ events: StoredEvent[]; interaction: InteractionRecord | null }>): Promise<void> {
    const count = writes.reduce((n, w) => n + w.events.length, 0);
    if (count === 0) return;
    // The stream append and the in-process listeners do not wait for each other (both only ever
    // see committed events): a socket push or a routing trigger does not wait for Redis. Nor
    // does the caller: an ack or a webhook's 200 needs the commit, not the stream, whose
    // failures are only logged anyway. Appends are issued in call order on one connection, so
    // the stream keeps the order they were published in.
    this.pending = (async () => {
      try {
        const pipeline = this.redis.pipeline();
        for (const w of writes) {
          for (const e of w.events) pipeline.xadd(this.streamKey, 'MAXLEN', '~', String(STREAM_MAXLEN), '*', 'event', JSON.stringify(e));
        }
        await execAll(pipeline);
      } catch (err) {
        this.log.warn({ err, count }, 'event stream publish failed; consumers will catch up from Postgres');
      }
    })();
    for (const { events, interaction } of writes) {
      this.announce(events);
      for (const e of events) {
        for (const listener of this.listeners) {
          try {
            await listener(e, interaction);
          } catch (err) {
            this.log.warn({ err, eventId: e.id, type: e.type }, 'event listener failed');
          }
        }
      }
    }
  }

  /** Resolves once every stream append issued so far has been answered (or has failed and been logged). */
  async appended(): Promise<void> {
    await this.pending;
  }
}
