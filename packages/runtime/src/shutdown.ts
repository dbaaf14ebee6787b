import { Lifecycle } from './lifecycle.ts';
import type { Logger } from './logger.ts';

/**
 * Phases run in this order; the steps of one phase run in parallel. If order matters inside a
 * phase (close NATS before Postgres, so no handler writes after the pool is gone), register one
 * `close` step that does them in sequence.
 */
export const SHUTDOWN_PHASES = ['stop-intake', 'drain', 'close'] as const;
export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

export type ShutdownStep = () => Promise<void>;

export interface ShutdownReport {
  /** False when the timeout fired before every step settled. */
  completed: boolean;
  /** `phase/name` of steps that threw; each was logged with its error. */
  failed: string[];
  /** `phase/name` of steps still running (or never started) when the timeout fired. */
  unfinished: string[];
}

export interface ShutdownControllerOptions {
  logger: Logger;
  /** SHUTDOWN_TIMEOUT: after this the controller logs what did not finish and resolves anyway. */
  timeoutMs: number;
  lifecycle?: Lifecycle;
}

interface RegisteredStep {
  key: string;
  run: ShutdownStep;
}

/** Collects the shutdown steps of a service's components and runs them phase by phase, once. */
export class ShutdownController {
  readonly lifecycle: Lifecycle;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #steps = new Map<ShutdownPhase, RegisteredStep[]>(SHUTDOWN_PHASES.map((phase) => [phase, []]));
  #phaseIndex = -1;
  #running: Promise<ShutdownReport> | undefined;

  constructor(options: ShutdownControllerOptions) {
    this.#logger = options.logger;
    this.#timeoutMs = options.timeoutMs;
    this.lifecycle = options.lifecycle ?? new Lifecycle();
  }

  register(phase: ShutdownPhase, name: string, step: ShutdownStep): void {
    const registered = { key: `${phase}/${name}`, run: step };
    if (SHUTDOWN_PHASES.indexOf(phase) <= this.#phaseIndex) {
      // A component that finished starting after shutdown began: its phase is past, so stop it now.
      this.#logger.warn({ step: registered.key }, 'shutdown step registered late; running it now');
      void this.#runStep(registered, new Set(), []);
      return;
    }
    this.#steps.get(phase)?.push(registered);
  }

  /** Idempotent: later calls return the first call's result. Never rejects. */
  shutdown(): Promise<ShutdownReport> {
    this.#running ??= this.#shutdownOnce();
    return this.#running;
  }

  async #shutdownOnce(): Promise<ShutdownReport> {
    if (this.lifecycle.canTransition('DRAINING')) this.lifecycle.transition('DRAINING');
    const pending = new Set([...this.#steps.values()].flat().map((step) => step.key));
    const failed: string[] = [];
    const completed = await this.#withTimeout(this.#runPhases(pending, failed));
    const report = { completed, failed, unfinished: [...pending] };
    if (!completed) {
      this.#logger.error({ unfinished: report.unfinished, timeoutMs: this.#timeoutMs }, 'shutdown timed out');
    }
    if (this.lifecycle.canTransition('STOPPED')) this.lifecycle.transition('STOPPED');
    return report;
  }

  async #runPhases(pending: Set<string>, failed: string[]): Promise<void> {
    for (const [index, phase] of SHUTDOWN_PHASES.entries()) {
      this.#phaseIndex = index;
      const steps = this.#steps.get(phase) ?? [];
      this.#logger.debug({ phase, steps: steps.length }, 'shutdown phase');
      await Promise.all(steps.map((step) => this.#runStep(step, pending, failed)));
    }
  }

  async #runStep(step: RegisteredStep, pending: Set<string>, failed: string[]): Promise<void> {
    try {
      await step.run();
    } catch (err) {
      failed.push(step.key);
      this.#logger.error({ err, step: step.key }, 'shutdown step failed');
    } finally {
      pending.delete(step.key);
    }
  }

  /** Resolves true if `work` settled in time, false on timeout. */
  async #withTimeout(work: Promise<void>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#timeoutMs);
    });
    try {
      return await Promise.race([work.then(() => true as const), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
