import { ConfigError, DependencyUnreachableError } from './errors.ts';
import { flushLogThrottles } from './log-throttle.ts';
import { createLogger, type Logger } from './logger.ts';
import { installSignalHandlers, type SignalSource } from './signals.ts';

export interface ServiceHandle {
  stop(): Promise<void>;
}

export interface RunServiceOptions {
  service: string;
  /** Loads config, connects, starts consuming; resolves once the service is RUNNING. */
  start: () => Promise<ServiceHandle>;
  /** Used for startup failures and signal logs; defaults to a JSON logger at info. */
  logger?: Logger;
  exit?: (code: number) => void;
  stderr?: { write(text: string): unknown };
  signals?: SignalSource;
}

/**
 * The whole of a service's `src/main.ts`: `await runService({ service: 'router', start })`.
 * Expected startup failures (bad config, dependency down) print one readable message and exit 1;
 * anything else is logged with its stack. SIGTERM/SIGINT call `stop()` and exit 0.
 */
export async function runService(options: RunServiceOptions): Promise<void> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const logger = (): Logger => (options.logger ??= createLogger({ service: options.service }));
  let handle: ServiceHandle;
  try {
    handle = await options.start();
  } catch (err) {
    reportStartupFailure(err, options.stderr ?? process.stderr, logger);
    exit(1);
    return;
  }
  const signalOptions = { exit, ...(options.signals ? { signals: options.signals } : {}) };
  const shutdown = async (): Promise<void> => {
    await handle.stop();
    // Counts of throttled warnings still waiting for their summary line: log them before exit.
    flushLogThrottles();
  };
  installSignalHandlers({ shutdown }, logger(), signalOptions);
  logger().info('started');
}

function reportStartupFailure(err: unknown, stderr: { write(text: string): unknown }, logger: () => Logger): void {
  if (err instanceof ConfigError || err instanceof DependencyUnreachableError) {
    // Operator-facing problems: the message says what to fix; a stack would only bury it.
    stderr.write(`${err.message}\n`);
    return;
  }
  logger().error({ err }, 'startup failed');
}
