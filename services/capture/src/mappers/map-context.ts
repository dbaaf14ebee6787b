import {
  SCHEMA_VERSION,
  type EventData,
  type EventType,
} from '@switchyard/schema';
import type { SelfIdentity, UnsequencedEvent } from '../captured-event.ts';
import type { LastState } from './last-state.ts';

/** What every mapper needs besides the Baileys payload. */
export interface MapContext {
  tenant: string;
  instance: string;
  capturedAt: Date;
  /** Who the socket is logged in as, when known (`sock.user`). */
  self?: SelfIdentity | undefined;
  /** Per-entity memory that collapses identical consecutive updates (see last-state.ts). */
  lastState?: LastState | undefined;
  /** Largest JSON of one history part's items (history-mapper.ts). */
  historyPartBytes?: number | undefined;
}

/**
 * Where mappers put their output: events in the order they should reach INGEST, and the reason
 * for anything that produced no event (counted and logged at debug by the adapter).
 */
export interface MapSink {
  emit(event: UnsequencedEvent): void;
  skip(reason: string, detail: string): void;
  /** A payload item the mapper failed on; the rest of the batch goes on. */
  fail(err: unknown, what: string): void;
}

/** Maps each item on its own, so one malformed item does not cost the rest of its batch. */
export function forEachItem<T>(
  items: readonly T[],
  sink: MapSink,
  what: string,
  map: (item: T) => void,
): void {
  for (const item of items) {
    try {
      map(item);
    } catch (err) {
      sink.fail(err, what);
    }
  }
}

/** Builds an envelope of a given type; the one place a generic type is pinned to the union. */
export function makeEvent<T extends EventType>(
  ctx: MapContext,
  type: T,
  id: string,
  occurredAt: string | undefined,
  data: EventData<T>,
): UnsequencedEvent {
  const capturedAt = ctx.capturedAt.toISOString();
  const event = {
    id,
    tenant: ctx.tenant,
    instance: ctx.instance,
    type,
    schema_version: SCHEMA_VERSION,
    occurred_at: occurredAt ?? capturedAt,
    captured_at: capturedAt,
    source: 'baileys' as const,
    data,
  };
  // TypeScript cannot relate a generic `T` to the matching member of the envelope union; the
  // parameters above tie `type` and `data` together, which is what the union requires.
  return event as unknown as UnsequencedEvent;
}

/** Sets a field only when present, so absent values are absent keys rather than `undefined`. */
export function setIf<D extends object, K extends keyof D>(
  target: D,
  key: K,
  value: D[K] | undefined,
): void {
  if (value !== undefined) target[key] = value;
}
