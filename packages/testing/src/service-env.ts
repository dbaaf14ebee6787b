import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '@switchyard/runtime';
import { TEST_DATABASE_URL } from './postgres.ts';

/**
 * The environment a service under test reads: the given (usually private) NATS, the test
 * database, a free HTTP port on loopback, quiet logs. Extra variables override.
 */
export function testServiceEnv(natsUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NATS_URL: natsUrl,
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_POOL_MAX: '4',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    SHUTDOWN_TIMEOUT: '10s',
    ...extra,
  };
}

/** A logger for services under test: errors only (TEST_LOG_LEVEL=warn or debug to see more), so expected rejections do not bury a failure. */
export function testLogger(service: string): Logger {
  const wanted = process.env['TEST_LOG_LEVEL'];
  const level = LOG_LEVELS.find((l): l is LogLevel => l === wanted) ?? 'error';
  return createLogger({ service, level });
}
