/** A job run now and then every interval, never two runs at once; see `runPeriodically`. */
export interface Periodic {
  /** No new run starts; resolves once the run in flight (if any) ended. */
  stop(): Promise<void>;
}

/**
 * Runs `run` now and then every `intervalMs` (a timer that does not keep the process alive). A
 * run still going when the next is due is not stacked with another: that tick is skipped. A
 * failed run goes to `onError` and the next tick runs again. For maintenance passes: retention,
 * pruning, sweeps.
 */
export function runPeriodically(run: () => Promise<unknown>, intervalMs: number, onError: (err: unknown) => void): Periodic {
  let current: Promise<unknown> = Promise.resolve();
  let running = false;
  let stopped = false;
  const tick = (): void => {
    if (stopped || running) return;
    running = true;
    current = run()
      .catch(onError)
      .finally(() => (running = false));
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}
