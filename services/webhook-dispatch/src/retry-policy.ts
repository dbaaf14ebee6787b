import type { DeliveryResult } from './post-webhook.ts';

/** What one attempt means for its delivery. */
export type Verdict =
  | { kind: 'delivered' }
  /** 410 Gone: the receiver says the endpoint no longer exists. */
  | { kind: 'gone' }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'exhausted' };

export interface JudgeOptions {
  /** The endpoint's schedule: the wait after the n-th failed attempt. */
  scheduleMs: readonly number[];
  /** Attempts made so far in this run, the judged one included (1 after the first). */
  attempts: number;
  retryAfterMaxMs: number;
  random?: () => number;
}

/**
 * Success is 2xx only. 410 disables. Anything else retries on the schedule (±10% jitter, so a
 * receiver recovering from an outage is not hit by every delivery at the same instant), except
 * that 429/503 with `Retry-After` wait what the receiver asked (capped). After the last entry of
 * the schedule the delivery is exhausted.
 */
export function judge(result: DeliveryResult, options: JudgeOptions): Verdict {
  if (result.ok) return { kind: 'delivered' };
  if (result.status === 410) return { kind: 'gone' };
  if (options.attempts > options.scheduleMs.length) return { kind: 'exhausted' };
  const asked = result.status === 429 || result.status === 503 ? result.retryAfterMs : undefined;
  if (asked !== undefined) return { kind: 'retry', delayMs: Math.min(asked, options.retryAfterMaxMs) };
  return { kind: 'retry', delayMs: withJitter(retryDelay(options.scheduleMs, options.attempts), options.random) };
}

/** The wait after the `deliveryCount`-th attempt failed; the last entry repeats if attempts outrun it. */
export function retryDelay(delaysMs: readonly number[], deliveryCount: number): number {
  if (delaysMs.length === 0) return 0;
  return delaysMs[Math.min(Math.max(deliveryCount, 1), delaysMs.length) - 1] ?? 0;
}

export function withJitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.9 + 0.2 * random()));
}

/** `Retry-After` as delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Whether an attempt says the receiver is unwell (opens the breaker) rather than merely unhappy. */
export function isBreakerFailure(result: DeliveryResult): boolean {
  if (result.ok) return false;
  if (result.status === undefined) return true;
  return result.status >= 500;
}
