import type { Attempt } from '@switchyard/schema';
import type { DeliveryResult } from './post-webhook.ts';

interface EventDeliveries {
  delivered: Set<string>;
  attempts: Attempt[];
}

export const DEFAULT_LEDGER_CAPACITY = 10_000;

/**
 * What this process has already done for events it is still retrying: which endpoints answered
 * 2xx (so a retry does not send to them again) and every attempt (so a dead-letter carries the
 * history).
 *
 * Best effort, at-least-once: this lives in memory only. A restart, or a retry that JetStream
 * hands to another replica, starts from nothing and re-sends to endpoints that already got the
 * event; receivers deduplicate by `webhook-id`. Durable per-endpoint delivery state replaces this
 * in the next step (one delivery per endpoint, its own retries, circuit breaker and log).
 *
 * Entries are dropped once the event is settled; the capacity bounds the rest (events abandoned
 * mid-retry), evicting the least recently touched.
 */
export class DeliveryLedger {
  readonly #capacity: number;
  readonly #events = new Map<string, EventDeliveries>();

  constructor(capacity = DEFAULT_LEDGER_CAPACITY) {
    this.#capacity = Math.max(1, capacity);
  }

  /** Endpoints that already answered 2xx for this event. */
  delivered(eventId: string): ReadonlySet<string> {
    return this.#events.get(eventId)?.delivered ?? new Set();
  }

  /** Every attempt recorded for this event, oldest first. */
  attempts(eventId: string): Attempt[] {
    return [...(this.#events.get(eventId)?.attempts ?? [])];
  }

  record(eventId: string, attempt: { service: string; delivery: number; at: Date }, results: readonly DeliveryResult[]): void {
    const entry = this.#touch(eventId);
    for (const result of results) {
      if (result.ok) entry.delivered.add(result.endpointId);
      entry.attempts.push(toAttempt(attempt, result));
    }
  }

  /** The event is settled (acked or dead-lettered): nothing more to remember. */
  forget(eventId: string): void {
    this.#events.delete(eventId);
  }

  get size(): number {
    return this.#events.size;
  }

  #touch(eventId: string): EventDeliveries {
    const entry = this.#events.get(eventId) ?? { delivered: new Set<string>(), attempts: [] };
    // Re-inserting moves the entry to the end of the Map's order, so the first key is the stalest.
    this.#events.delete(eventId);
    this.#events.set(eventId, entry);
    while (this.#events.size > this.#capacity) {
      const stalest = this.#events.keys().next();
      if (stalest.done === true) break;
      this.#events.delete(stalest.value);
    }
    return entry;
  }
}

function toAttempt(attempt: { service: string; delivery: number; at: Date }, result: DeliveryResult): Attempt {
  return {
    at: attempt.at.toISOString(),
    service: attempt.service,
    delivery: attempt.delivery,
    error: result.error ?? '',
    detail: {
      endpoint_id: result.endpointId,
      outcome: result.outcome,
      status: result.status ?? null,
      latency_ms: result.latencyMs,
      ...(result.responseBody !== undefined ? { response_body: result.responseBody } : {}),
    },
  };
}
