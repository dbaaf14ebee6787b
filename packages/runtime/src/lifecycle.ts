export type LifecycleState = 'STARTING' | 'RUNNING' | 'DRAINING' | 'STOPPED';

// STARTING may skip straight to DRAINING (a signal during startup) or STOPPED (startup failed).
const ALLOWED: Record<LifecycleState, readonly LifecycleState[]> = {
  STARTING: ['RUNNING', 'DRAINING', 'STOPPED'],
  RUNNING: ['DRAINING'],
  DRAINING: ['STOPPED'],
  STOPPED: [],
};

/** Thrown on a transition the state machine does not allow: always a programming error. */
export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError';
  constructor(
    readonly from: LifecycleState,
    readonly to: LifecycleState,
  ) {
    super(`illegal lifecycle transition ${from} → ${to}`);
  }
}

export type LifecycleListener = (to: LifecycleState, from: LifecycleState) => void;

/** STARTING → RUNNING → DRAINING → STOPPED, explicit so readiness and tests can rely on it. */
export class Lifecycle {
  #state: LifecycleState = 'STARTING';
  readonly #listeners = new Set<LifecycleListener>();

  get state(): LifecycleState {
    return this.#state;
  }

  canTransition(to: LifecycleState): boolean {
    return ALLOWED[this.#state].includes(to);
  }

  /** @throws IllegalTransitionError when `to` is not reachable from the current state. */
  transition(to: LifecycleState): void {
    const from = this.#state;
    if (!this.canTransition(to)) throw new IllegalTransitionError(from, to);
    this.#state = to;
    for (const listener of this.#listeners) listener(to, from);
  }

  /** Returns a function that removes the listener. */
  onTransition(listener: LifecycleListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
