import type { Logger } from './logger.ts';

/**
 * Keeps a repeated warning from flooding the log: per key (a tenant and a reason, say) the first
 * occurrence is logged at once, the ones after it within `intervalMs` are only counted, and when
 * the interval ends a summary line says how many there were. Nothing is dropped silently: the
 * caller's metrics count every occurrence and the summary accounts for every suppressed line. For
 * the warnings one bad publisher can cause by the thousand a second (malformed events, sequence
 * gaps), which would otherwise cost more CPU to log than to handle, and bury everything else.
 */
export class LogThrottle {
  readonly #intervalMs: number;
  readonly #windows = new Map<string, Window>();

  constructor(intervalMs = 10_000) {
    this.#intervalMs = intervalMs;
    throttles.add(this);
  }

  /**
   * Warns `msg` with `context` if it is the key's first occurrence in its window; otherwise counts
   * it, and when the window ends, warns `summary` with the first occurrence's context and
   * `{ suppressed, window_ms }`. Answers whether this occurrence was logged.
   */
  warn(logger: Logger, key: string, context: Record<string, unknown>, msg: string, summary: string): boolean {
    const open = this.#windows.get(key);
    if (open !== undefined) {
      open.suppressed++;
      return false;
    }
    logger.warn(context, msg);
    const window: Window = {
      suppressed: 0,
      emit: () => {
        if (window.suppressed > 0) logger.warn({ ...context, suppressed: window.suppressed, window_ms: this.#intervalMs }, summary);
      },
      timer: setTimeout(() => {
        this.#windows.delete(key);
        window.emit();
      }, this.#intervalMs),
    };
    // A pending summary never keeps an otherwise finished process alive; shutdown flushes it.
    window.timer.unref();
    this.#windows.set(key, window);
    return true;
  }

  /** Logs every pending summary now and closes the windows. */
  flush(): void {
    for (const window of this.#windows.values()) {
      clearTimeout(window.timer);
      window.emit();
    }
    this.#windows.clear();
  }
}

interface Window {
  suppressed: number;
  emit(): void;
  timer: NodeJS.Timeout;
}

/** Every throttle of the process, so a shutdown can log their pending summaries. */
const throttles = new Set<LogThrottle>();

/** Logs every throttle's pending summaries; runService calls it after the service stopped, before exit. */
export function flushLogThrottles(): void {
  for (const throttle of throttles) throttle.flush();
}
