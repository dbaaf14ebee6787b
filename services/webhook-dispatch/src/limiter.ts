import { setTimeout as sleep } from 'node:timers/promises';

/** Requests in flight to one endpoint: a hanging receiver fills its own slots and nobody else's. */
export class Semaphore {
  #free: number;
  #waiters: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const take = (): void => {
        signal.removeEventListener('abort', abort);
        resolve();
      };
      const abort = (): void => {
        this.#waiters = this.#waiters.filter((w) => w !== take);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      this.#waiters.push(take);
      signal.addEventListener('abort', abort, { once: true });
    });
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next !== undefined) next();
    else this.#free++;
  }
}

/** Requests started per second to one endpoint (token bucket, burst of one second's worth). */
export class RateLimiter {
  #tokens: number;
  #last: number;
  readonly #perSecond: number;

  constructor(perSecond: number, now = Date.now()) {
    this.#perSecond = perSecond;
    this.#tokens = perSecond;
    this.#last = now;
  }

  async take(signal: AbortSignal): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.#tokens = Math.min(this.#perSecond, this.#tokens + ((now - this.#last) / 1000) * this.#perSecond);
      this.#last = now;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      await sleep(Math.ceil(((1 - this.#tokens) / this.#perSecond) * 1000), undefined, { signal });
    }
  }
}
