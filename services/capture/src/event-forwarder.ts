import type { BaileysEventMap } from '@whiskeysockets/baileys';
import type { BatchedEventSource } from './baileys-adapter.ts';

type BatchHandler = (events: Partial<BaileysEventMap>) => void | Promise<void>;

export interface EventForwarder extends BatchedEventSource {
  /** Forwards `ev`'s batches from now on, instead of the previous socket's. */
  attach(ev: BatchedEventSource): void;
  detach(): void;
}

/**
 * One stable event source over a session's successive sockets. The capture adapter subscribes
 * once for the session's lifetime, so its connection mapper remembers the last state across
 * reconnects (a flapping session emits state changes, not one "connected" per socket) and its
 * publisher keeps one ordered outbox relay for the instance.
 */
export function createEventForwarder(): EventForwarder {
  const handlers = new Set<BatchHandler>();
  let unsubscribe: (() => void) | undefined;
  const detach = (): void => {
    unsubscribe?.();
    unsubscribe = undefined;
  };
  return {
    process(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    attach(ev) {
      detach();
      unsubscribe = ev.process(async (batch) => {
        for (const handler of handlers) await handler(batch);
      });
    },
    detach,
  };
}
