import type { Logger } from './logger.ts';

/** What receives SIGTERM/SIGINT; `process` in production, an EventEmitter in tests. */
export interface SignalSource {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface Shutdownable {
  shutdown(): Promise<unknown>;
}

export interface SignalHandlerOptions {
  exit?: (code: number) => void;
  signals?: SignalSource;
}

const HANDLED_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * First SIGTERM/SIGINT: graceful shutdown, then exit 0 (1 if shutdown itself threw).
 * Second signal: exit 1 at once, for the operator pressing Ctrl-C twice on a stuck drain.
 * Returns a function that removes the handlers.
 */
export function installSignalHandlers(
  controller: Shutdownable,
  logger: Logger,
  options: SignalHandlerOptions = {},
): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? process;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn({ signal }, 'second signal during shutdown; exiting now');
      exit(1);
      return;
    }
    signalled = true;
    logger.info({ signal }, 'shutting down');
    controller.shutdown().then(
      () => exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const signal of HANDLED_SIGNALS) signals.on(signal, onSignal);
  return () => {
    for (const signal of HANDLED_SIGNALS) signals.off(signal, onSignal);
  };
}
