import type { JsMsg } from 'nats';

export interface RedeliveriesInOrderOptions {
  /** Messages the durable had pending (delivered, unacked) when it was attached. */
  pending: number;
  /** Give up waiting for the rest after this (a message nak'd with a delay longer than this). */
  withinMs: number;
  /**
   * The server's count of the durable's messages delivered and not acked (`num_ack_pending`),
   * asked every `pollMs` while gathering. A message nak'd with a delay stays in that count until
   * it comes back, so once the count is no more than what was gathered, nothing else is coming
   * (the rest were acked meanwhile, e.g. the previous holder's last acks landing after the
   * attach) and the wait ends before `withinMs`. Unset: wait for `pending` or `withinMs`.
   */
  outstanding?: () => Promise<number>;
  /** How often `outstanding` is asked. Default 250 ms. */
  pollMs?: number;
  /** Gathered messages are kept alive (`working()`) this often, so none is redelivered meanwhile. */
  keepAliveMs: number;
  /** Fewer than `pending` redeliveries came within `withinMs`: said by the caller, not hidden. */
  onShort(redelivered: number, pending: number): void;
}

/**
 * A durable's pending messages come back before anything new when a reader attaches (after a
 * takeover, a restart, a hand-over), but not always in stream order. nats-server takes the head of
 * its redelivery queue, and when the only pull request waiting is the previous holder's (whose
 * subscriber is gone), it puts that message back at the *end* of the queue; a later message of
 * the same instance is then redelivered first. (Measured: the router's ordering test failed about
 * one run in twenty this way, an instance's event stored after the twenty behind it.)
 *
 * So on a reader's first attach, the `pending` redeliveries are gathered, with whatever else
 * arrives meanwhile, and handed on sorted by stream sequence; the order is then the stream's
 * whatever the server's queue did. Messages never delivered before all have higher sequences
 * than pending ones (a consumer delivers in stream order), so sorting them in is right too.
 * After `withinMs` the rest is not waited for any longer (`onShort`); with `outstanding`, the wait
 * also ends as soon as the server has nothing pending beyond what was gathered.
 */
export async function* redeliveriesInOrder(source: AsyncIterable<JsMsg>, options: RedeliveriesInOrderOptions): AsyncGenerator<JsMsg> {
  const it = source[Symbol.asyncIterator]();
  try {
    let next: Promise<IteratorResult<JsMsg>> | undefined;
    if (options.pending > 0) {
      const gathered: JsMsg[] = [];
      let redelivered = 0;
      let ended = false;
      const deadline = Date.now() + options.withinMs;
      const pollMs = Math.max(10, options.pollMs ?? 250);
      let nextPollAt = Date.now() + pollMs;
      let settled = false;
      const keepAlive = setInterval(() => gathered.forEach((m) => m.working()), options.keepAliveMs);
      try {
        while (redelivered < options.pending) {
          const now = Date.now();
          if (now >= deadline) break;
          // Asked on its own schedule, also while new messages keep arriving (a busy durable).
          if (options.outstanding !== undefined && now >= nextPollAt) {
            // A failed query says nothing: keep waiting until the deadline.
            const stillOut = await options.outstanding().catch(() => Number.POSITIVE_INFINITY);
            nextPollAt = Date.now() + pollMs;
            if (stillOut <= gathered.length) {
              settled = true;
              break;
            }
          }
          const wait = Math.min(deadline, options.outstanding !== undefined ? nextPollAt : deadline) - Date.now();
          next ??= it.next();
          let timer: NodeJS.Timeout | undefined;
          let result: IteratorResult<JsMsg> | 'timed-out';
          try {
            result = await Promise.race([next, new Promise<'timed-out'>((resolve) => (timer = setTimeout(resolve, Math.max(0, wait), 'timed-out')))]);
          } finally {
            clearTimeout(timer);
          }
          if (result === 'timed-out') continue;
          next = undefined;
          if (result.done === true) {
            ended = true;
            break;
          }
          gathered.push(result.value);
          if (result.value.redelivered) redelivered++;
        }
      } finally {
        clearInterval(keepAlive);
      }
      if (redelivered < options.pending && !ended && !settled) options.onShort(redelivered, options.pending);
      gathered.sort((a, b) => a.seq - b.seq);
      yield* gathered;
      if (ended) return;
    }
    for (;;) {
      const result = await (next ?? it.next());
      next = undefined;
      if (result.done === true) return;
      yield result.value;
    }
  } finally {
    await it.return?.();
  }
}
