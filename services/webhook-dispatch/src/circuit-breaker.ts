export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one probe may go. */
  cooldownMs: number;
  onTransition?(from: BreakerState, to: BreakerState): void;
  now?: () => number;
}

/**
 * One endpoint's breaker: closed → open after `failureThreshold` consecutive failures → after
 * `cooldownMs`, half-open with a single probe in flight → closed on its success, open again on
 * its failure. Deliveries *wait* in `permit()` while the circuit is open, so an outage costs
 * them no attempts of their schedule; only the probe spends one.
 */
export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probing = false;
  #waiters = new Set<() => void>();
  readonly #options: CircuitBreakerOptions;
  readonly #now: () => number;

  constructor(options: CircuitBreakerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Resolves when a request may go; rejects with the signal's reason if aborted first. */
  async permit(signal: AbortSignal): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      if (this.#state === 'closed') return;
      if (this.#state === 'open') {
        const left = this.#openedAt + this.#options.cooldownMs - this.#now();
        if (left > 0) {
          await this.#wait(signal, left);
          continue;
        }
        this.#move('half-open');
      }
      if (!this.#probing) {
        this.#probing = true;
        return;
      }
      await this.#wait(signal);
    }
  }

  success(): void {
    this.#failures = 0;
    if (this.#state !== 'closed') this.#move('closed');
  }

  failure(): void {
    this.#failures++;
    if (this.#state === 'half-open' || (this.#state === 'closed' && this.#failures >= this.#options.failureThreshold)) {
      this.#openedAt = this.#now();
      this.#move('open');
    }
  }

  /** A permitted request that ended without a verdict (aborted): let another probe go. */
  release(): void {
    if (this.#state === 'half-open' && this.#probing) {
      this.#probing = false;
      this.#wake();
    }
  }

  #move(to: BreakerState): void {
    const from = this.#state;
    this.#state = to;
    this.#probing = false;
    this.#options.onTransition?.(from, to);
    this.#wake();
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  #wait(signal: AbortSignal, ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
